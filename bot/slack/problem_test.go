package slack

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// rawGoError holds what a Go error from the Web API looks like; none of it
// may reach a person.
var rawGoError = []string{`Post "http`, "dial tcp", ": EOF", "connection refused", "slack chat.", "not_in_channel", "127.0.0.1"}

func checkNoRawError(t *testing.T, where, text string) {
	t.Helper()
	for _, s := range rawGoError {
		if strings.Contains(text, s) {
			t.Errorf("%s shows raw Go error text %q: %s", where, s, text)
		}
	}
}

// closedPort is a loopback address nothing listens on.
func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// hangUp is a loopback listener that accepts and closes every connection
// at once, so each call fails with EOF.
func hangUp(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	return ln.Addr().String()
}

// TestNotifyFailureInTheSlashAnswerIsASentence: the handler shows help
// (Notify) but Slack's API fails; the slash command's own HTTP answer then
// carries a sentence with the next step, never the Go error.
func TestNotifyFailureInTheSlashAnswerIsASentence(t *testing.T) {
	for _, tc := range []struct {
		name  string
		setup func(t *testing.T, fake *fakeSlack) []Option
		want  string
	}{
		{"API port closed", func(t *testing.T, _ *fakeSlack) []Option {
			return []Option{WithAPIURL("http://" + closedPort(t) + "/api/")}
		}, "I could not reach Slack"},
		{"API hangs up", func(t *testing.T, _ *fakeSlack) []Option {
			return []Option{WithAPIURL("http://" + hangUp(t) + "/api/")}
		}, "I could not reach Slack"},
		{"bot not in channel", func(t *testing.T, fake *fakeSlack) []Option {
			fake.failNext("chat.postEphemeral", fakeFailure{slackErr: "not_in_channel"})
			return nil
		}, "invite it with `/invite @gitlab-chatops`"},
		{"Slack down", func(t *testing.T, fake *fakeSlack) []Option {
			fake.failNext("chat.postEphemeral", fakeFailure{status: 503}, fakeFailure{status: 503}, fakeFailure{status: 503}, fakeFailure{status: 503}, fakeFailure{status: 503})
			return nil
		}, "Slack is having trouble right now; try again in a minute."},
		{"token revoked", func(t *testing.T, fake *fakeSlack) []Option {
			fake.failNext("chat.postEphemeral", fakeFailure{slackErr: "token_revoked"})
			return nil
		}, "must check slack.bot_token"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeSlack(t)
			a := newTestAdapter(t, fake, append(tc.setup(t, fake), WithAckBudget(patience))...)
			var notifyErr error
			// The router passes a Notify error on as its Reply.
			h := &stubHandler{onCommand: func(ctx context.Context, cmd bot.Command) bot.Reply {
				notifyErr = a.Notify(ctx, cmd.Channel, cmd.User, bot.Message{Title: bot.Plain("Help"), Text: bot.Plain("usage")})
				return bot.ReplyFor(notifyErr)
			}}
			srv := httptest.NewServer(a.HTTPHandler(h))
			defer srv.Close()
			// No response_url: Notify must use chat.postEphemeral.
			resp := do(t, signedRequest(t, srv.URL+PathCommands, slashForm("U0ALICE", "alice", testChannel, "help", ""), testSecret, time.Now()))
			if resp.status != http.StatusOK || !strings.Contains(resp.body, `"response_type":"ephemeral"`) {
				t.Fatalf("answer = %d %s", resp.status, resp.body)
			}
			if !strings.Contains(resp.body, tc.want) {
				t.Errorf("answer %s does not say %q", resp.body, tc.want)
			}
			checkNoRawError(t, "the slash command's answer", resp.body)
			// The log keeps the cause.
			if notifyErr == nil || !strings.Contains(notifyErr.Error(), "slack chat.postEphemeral") {
				t.Errorf("Notify's error lost its cause for the log: %v", notifyErr)
			}
		})
	}
}

// TestHandlerGoErrorsAreNotShown: an error that is not bot.Readable is the
// bot's own failure; the user sees bot.FailedText, in the slash answer, in
// a late answer through response_url and after a click.
func TestHandlerGoErrorsAreNotShown(t *testing.T) {
	raw := fmt.Errorf("storage: reading request: %w", errors.New(`Post "http://127.0.0.1:9/x": dial tcp 127.0.0.1:9: connect: connection refused`))
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake, WithAckBudget(50*time.Millisecond))
	h := &stubHandler{cmdErr: raw, actErr: raw}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()

	resp := do(t, signedRequest(t, srv.URL+PathCommands, slashForm("U0ALICE", "alice", testChannel, "pending", fake.responseURL("c1")), testSecret, time.Now()))
	if resp.status != http.StatusOK {
		t.Fatalf("status %d", resp.status)
	}
	texts := resp.body
	resp = do(t, signedRequest(t, srv.URL+PathInteractions, clickForm("U0BOB", "bob", testChannel, "1700000000.000001", "approve", "r7k2qxa9", fake.responseURL("click")), testSecret, time.Now()))
	if resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("click answer = %d %q", resp.status, resp.body)
	}
	eventually(t, "the click's refusal via response_url", func() bool {
		for _, r := range fake.allResponses() {
			if r.Path == "/response/click" {
				return true
			}
		}
		return false
	})
	for _, r := range fake.allResponses() {
		texts += "\n" + fmt.Sprint(r.Body)
	}
	if n := strings.Count(texts, bot.FailedText); n < 2 {
		t.Errorf("want bot.FailedText in the slash answer and the click's answer, got %d in %s", n, texts)
	}
	checkNoRawError(t, "answers", texts)
}

func TestProblemText(t *testing.T) {
	for _, code := range []string{"not_in_channel", "channel_not_found", "is_archived", "invalid_auth", "missing_scope", "something_new"} {
		err := readable(fmt.Errorf("slack chat.postMessage: %w", slackgo.SlackErrorResponse{Err: code}))
		text, ok := bot.TextFor(err)
		if !ok || text == "" || !strings.HasSuffix(text, ".") {
			t.Errorf("%s: %q, %v; want a sentence", code, text, ok)
		}
		checkNoRawError(t, code, text)
		if !strings.Contains(err.Error(), code) {
			t.Errorf("%s: the log would lose Slack's code: %q", code, err.Error())
		}
	}
}
