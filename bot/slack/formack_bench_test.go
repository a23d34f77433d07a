package slack

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// BenchmarkFormSubmissionAck is the adapter's share of answering a
// modal's view_submission: a signed submission through
// InteractionsHandler to a handler that refuses the code at once, the
// answer being response_action errors on the field (the path a wrong code
// takes, which must stay inside Slack's 3 seconds). No network.
//
//	go test -run '^$' -bench FormSubmissionAck -benchmem ./bot/slack/
func BenchmarkFormSubmissionAck(b *testing.B) {
	a, err := New(Config{Mode: ModeHTTP, BotToken: "xoxb-bench", SigningSecret: testSecret},
		WithLogger(slog.New(slog.NewJSONHandler(io.Discard, nil))), WithReplayCapacity(1<<20))
	if err != nil {
		b.Fatal(err)
	}
	h := a.InteractionsHandler(refuseCode{})
	now := time.Now()
	reqs := make([]*http.Request, b.N)
	for i := range reqs {
		meta := formMeta{Action: bot.ActionApprove, Value: "r7k2qxa9", Channel: "C0BENCH", User: "U0BENCH", Field: "code"}
		reqs[i] = signedRequest(b, "http://bot"+PathInteractions, viewSubmissionForm("U0BENCH", meta, fmt.Sprintf("%06d", i%1000000)), testSecret, now)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, reqs[i])
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"response_action":"errors"`) {
			b.Fatalf("answer %d %q", w.Code, w.Body)
		}
	}
	b.StopTimer()
	a.Wait()
}

// refuseCode refuses every submission, as a wrong code is.
type refuseCode struct{}

func (refuseCode) HandleCommand(context.Context, bot.Command) bot.Reply { return bot.NoReply }
func (refuseCode) HandleAction(context.Context, bot.Action) bot.Reply {
	return bot.ReplyFor(refusalText("That code is not valid."))
}
