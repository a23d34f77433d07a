package slack

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/slack-go/slack/slacktest"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// replicaSeen is one replica's Seen on the shared etcd: its own Cluster
// (connection and session), the keys under prefix.
func replicaSeen(t *testing.T, srv *etcdtest.Server, prefix string) bot.Seen {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := etcd.Dial(ctx, etcd.Config{Endpoints: srv.Endpoints(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := etcd.NewSeen(c, Platform, etcd.SeenOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestReplicasShareTheReplayCheck: two adapters (two replicas) on one
// real etcd. A signed request replayed to the other replica is refused
// there as a replay, before its handler; a Socket Mode envelope that
// Slack redelivers to the other replica's connection is handled once;
// and with etcd down a request is refused (503), never handled unchecked.
func TestReplicasShareTheReplayCheck(t *testing.T) {
	srv := etcdtest.Start(t)

	t.Run("http replay to another replica", func(t *testing.T) {
		fake := newFakeSlack(t)
		var mu sync.Mutex
		var refusals []string
		onRefused := WithOnRefused(func(_ context.Context, reason string, _ *http.Request) {
			mu.Lock()
			defer mu.Unlock()
			refusals = append(refusals, reason)
		})
		h1, h2 := &stubHandler{}, &stubHandler{}
		a1 := newTestAdapter(t, fake, WithSeen(replicaSeen(t, srv, "/http/")), onRefused)
		a2 := newTestAdapter(t, fake, WithSeen(replicaSeen(t, srv, "/http/")), onRefused)
		s1 := httptest.NewServer(a1.HTTPHandler(h1))
		defer s1.Close()
		s2 := httptest.NewServer(a2.HTTPHandler(h2))
		defer s2.Close()

		body, at := slashForm(alice, "alice", testChannel, "status", fake.responseURL("x")), time.Now()
		if r := do(t, signedRequest(t, s1.URL+PathCommands, body, testSecret, at)); r.status != http.StatusOK {
			t.Fatalf("first delivery on replica 1: %d %s", r.status, r.body)
		}
		if r := do(t, signedRequest(t, s2.URL+PathCommands, body, testSecret, at)); r.status != http.StatusUnauthorized {
			t.Errorf("replay on replica 2: %d, want 401", r.status)
		}
		if len(h1.commands()) != 1 || len(h2.commands()) != 0 {
			t.Errorf("handled %d times on replica 1 and %d on replica 2, want 1 and 0", len(h1.commands()), len(h2.commands()))
		}
		mu.Lock()
		if len(refusals) != 1 || !strings.Contains(refusals[0], "replay") {
			t.Errorf("refusals reported %q, want one replay", refusals)
		}
		mu.Unlock()
		// Another request (a new signature) still goes through on either.
		other := slashForm(alice, "alice", testChannel, "hosts", fake.responseURL("y"))
		if r := do(t, signedRequest(t, s2.URL+PathCommands, other, testSecret, time.Now())); r.status != http.StatusOK {
			t.Errorf("a new request on replica 2: %d", r.status)
		}
	})

	t.Run("socket mode redelivery to another replica", func(t *testing.T) {
		h1, h2 := &stubHandler{}, &stubHandler{}
		c1 := startSocket(t, h1, WithSeen(replicaSeen(t, srv, "/socket/")))
		c2 := startSocket(t, h2, WithSeen(replicaSeen(t, srv, "/socket/")))
		c1.SendToWebsocket(envelope("env-r1", "slash_commands", slashPayload("status")))
		ackFor(t, c1, "env-r1")
		// Slack missed the ack and redelivers on the other connection.
		c2.SendToWebsocket(envelope("env-r1", "slash_commands", slashPayload("status")))
		ackFor(t, c2, "env-r1") // acked there too, so Slack stops
		c2.SendToWebsocket(envelope("env-r2", "slash_commands", slashPayload("hosts")))
		ackFor(t, c2, "env-r2")
		eventually(t, "env-r2 handled", func() bool { return len(h2.commands()) == 1 })
		if got := texts(h1.commands()) + "|" + texts(h2.commands()); got != "status|hosts" {
			t.Errorf("replica 1|replica 2 handled %q, want status|hosts (the redelivered status not again)", got)
		}
	})

	t.Run("socket mode with etcd down: not acked, handled once when redelivered", func(t *testing.T) {
		var logs lockedBuffer
		h := &stubHandler{}
		c := startSocket(t, h, WithSeen(replicaSeen(t, srv, "/socket-down/")), WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
		c.SendToWebsocket(envelope("env-d0", "slash_commands", slashPayload("hosts")))
		ackFor(t, c, "env-d0") // connected, and etcd answered
		srv.Stop()
		c.SendToWebsocket(envelope("env-d1", "slash_commands", slashPayload("status")))
		eventually(t, "the envelope left unacked", func() bool { return strings.Contains(logs.String(), "not handled nor acked") })
		srv.Restart()
		// Slack redelivers what it got no ack for, until one is acked.
		eventually(t, "a redelivery acked", func() bool {
			c.SendToWebsocket(envelope("env-d1", "slash_commands", slashPayload("status")))
			time.Sleep(500 * time.Millisecond)
			return acks(c, "env-d1") > 0
		})
		eventually(t, "the command handled", func() bool { return len(h.commands()) == 2 })
		time.Sleep(500 * time.Millisecond) // redeliveries still in flight are acked, not handled
		if got := texts(h.commands()); got != "hosts,status" {
			t.Errorf("handled %q, want hosts,status (status once)", got)
		}
	})

	t.Run("etcd down: refused, not handled", func(t *testing.T) {
		fake := newFakeSlack(t)
		h := &stubHandler{}
		a := newTestAdapter(t, fake, WithSeen(replicaSeen(t, srv, "/down/")))
		s := httptest.NewServer(a.HTTPHandler(h))
		defer s.Close()
		srv.Stop()
		defer srv.Restart()
		body := slashForm(alice, "alice", testChannel, "status", fake.responseURL("x"))
		if r := do(t, signedRequest(t, s.URL+PathCommands, body, testSecret, time.Now())); r.status != http.StatusServiceUnavailable {
			t.Errorf("with etcd down: %d, want 503", r.status)
		}
		if n := len(h.commands()); n != 0 {
			t.Errorf("handled %d times without a replay check", n)
		}
	})
}

func texts(cmds []bot.Command) string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.Text)
	}
	return strings.Join(out, ",")
}

// acks counts the frames the adapter sent for envelope id.
func acks(s *slacktest.Server, id string) int {
	n := 0
	for _, m := range s.GetSeenInboundMessages() {
		if strings.Contains(m, `"`+id+`"`) {
			n++
		}
	}
	return n
}

// lockedBuffer is a log destination safe to read while the adapter writes.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
