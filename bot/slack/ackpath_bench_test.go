package slack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// BenchmarkCommandAck is the adapter's own share of a slash command's
// acknowledgement (BenchmarkAckUnderLoad in cmd/gitlab-chatops measures
// the whole): a signed command through CommandsHandler to a handler that
// answers nothing at once, against "bare", which only reads the body and
// verifies the signature. No network: what is left is the CPU and the
// allocations the adapter adds to every ack (form parsing, replay check,
// the log line, the handler's deadline and the ack guard).
//
//	go test -run '^$' -bench CommandAck -benchmem ./bot/slack/
func BenchmarkCommandAck(b *testing.B) {
	b.Run("adapter", func(b *testing.B) {
		a, err := New(Config{Mode: ModeHTTP, BotToken: "xoxb-bench", SigningSecret: testSecret},
			WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))), WithReplayCapacity(1<<20))
		if err != nil {
			b.Fatal(err)
		}
		h := a.CommandsHandler(noReply{})
		reqs := ackRequests(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			w := httptest.NewRecorder()
			h.ServeHTTP(w, reqs[i])
			if w.Code != http.StatusOK || w.Body.Len() > 0 {
				b.Fatalf("ack %d %q", w.Code, w.Body)
			}
		}
		b.StopTimer()
		a.Wait()
	})
	b.Run("bare", func(b *testing.B) {
		v, err := NewVerifier(testSecret, time.Now)
		if err != nil {
			b.Fatal(err)
		}
		reqs := ackRequests(b)
		b.ReportAllocs()
		b.ResetTimer()
		for i := range b.N {
			w := httptest.NewRecorder()
			body, _ := io.ReadAll(http.MaxBytesReader(w, reqs[i].Body, 128<<10))
			if _, err := v.Verify(reqs[i].Header, body); err != nil {
				b.Fatal(err)
			}
			w.WriteHeader(http.StatusOK)
		}
	})
}

// noReply is a handler that accepts every command with nothing to show.
type noReply struct{}

func (noReply) HandleCommand(context.Context, bot.Command) bot.Reply { return bot.NoReply }
func (noReply) HandleAction(context.Context, bot.Action) bot.Reply   { return bot.NoReply }

// ackRequests are b.N signed `status` commands, each with its own
// trigger (the replay check refuses a repeated signature).
func ackRequests(b *testing.B) []*http.Request {
	now := time.Now()
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		body := url.Values{
			"token": {"deprecated"}, "team_id": {"T0BENCH"}, "team_domain": {"bench"}, "channel_id": {"C0BENCH"},
			"channel_name": {"ops"}, "user_id": {"U0BENCH"}, "user_name": {"bench"}, "command": {"/gitlab-migrations"},
			"text": {"status"}, "api_app_id": {"A0BENCH"}, "response_url": {"https://hooks.slack.com/commands/T/1/x"},
			"trigger_id": {fmt.Sprintf("t.%d", i)},
		}.Encode()
		reqs[i] = signedRequest(b, "http://bot"+PathCommands, body, testSecret, now)
	}
	return reqs
}

// BenchmarkCommandAckSharedSeen is BenchmarkCommandAck's "adapter" with
// the replicas' replay check: the bot.Seen in a real etcd on loopback
// (one Txn per command) instead of the process's memory. The difference
// from "adapter" is what several replicas add to every ack.
//
//	go test -run '^$' -bench CommandAckSharedSeen -benchtime 2000x ./bot/slack/
func BenchmarkCommandAckSharedSeen(b *testing.B) {
	srv := etcdtest.Start(b)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := etcd.Dial(ctx, etcd.Config{Endpoints: srv.Endpoints(), Prefix: "/bench-ack/"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	seen, err := etcd.NewSeen(c, Platform, etcd.SeenOptions{})
	if err != nil {
		b.Fatal(err)
	}
	a, err := New(Config{Mode: ModeHTTP, BotToken: "xoxb-bench", SigningSecret: testSecret},
		WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))), WithSeen(seen))
	if err != nil {
		b.Fatal(err)
	}
	h := a.CommandsHandler(noReply{})
	reqs := ackRequests(b)
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w := httptest.NewRecorder()
		t0 := time.Now()
		h.ServeHTTP(w, reqs[i])
		lat = append(lat, time.Since(t0))
		if w.Code != http.StatusOK || w.Body.Len() > 0 {
			b.Fatalf("ack %d %q", w.Code, w.Body)
		}
	}
	b.StopTimer()
	a.Wait()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e3, "p50-us")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e3, "p99-us")
}
