package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// goErrorHandler fails every call with an error not written for people.
type goErrorHandler struct{ err error }

func (h goErrorHandler) HandleCommand(context.Context, bot.Command) bot.Reply {
	return bot.ReplyFor(h.err)
}
func (h goErrorHandler) HandleAction(context.Context, bot.Action) bot.Reply {
	return bot.ReplyFor(h.err)
}

// TestCommandResponseNeverShowsAGoError: a handler error that is not
// bot.Readable reaches the user as bot.FailedText, never as its text.
func TestCommandResponseNeverShowsAGoError(t *testing.T) {
	e := newEnv(t, envOpts{})
	raw := fmt.Errorf("reading requests: %w", errors.New(`Post "http://127.0.0.1:9/api/v4/posts": dial tcp 127.0.0.1:9: connect: connection refused`))
	srv := httptest.NewServer(e.a.CommandHandler(goErrorHandler{raw}))
	defer srv.Close()
	status, body := e.mm.command(t, srv.URL+CommandPath, e.tokens[0], alice, channelID, "pending")
	if status != http.StatusOK || !strings.Contains(string(body), bot.FailedText) {
		t.Fatalf("answer = %d %s; want bot.FailedText", status, body)
	}
	for _, s := range []string{`Post \"http`, "dial tcp", "connection refused", ": EOF"} {
		if strings.Contains(string(body), s) {
			t.Errorf("the command response shows %q: %s", s, body)
		}
	}
}

// TestAPIErrorUserText: every failed API call reads as a sentence with a
// next step and without Client4's text or the status line.
func TestAPIErrorUserText(t *testing.T) {
	cause := errors.New(`Post "http://127.0.0.1:9/api/v4/posts": EOF`)
	for _, tc := range []struct {
		op     string
		status int
		want   string
	}{
		{"create post", 0, "did not answer"},
		{"create post", 401, "mattermost.bot_token"},
		{"create post", 403, "/invite @gitlab-chatops"},
		{"patch post", 403, "/invite @gitlab-chatops"},
		{"get user", 403, "permission"},
		{"get post", 404, "does not know"},
		{"create post", 429, "rate-limiting"},
		{"create post", 502, "having trouble"},
		{"create post", 400, "log has the reason"},
	} {
		err := fmt.Errorf("gave up: %w", apiError(tc.op, tc.status, cause))
		text, ok := bot.TextFor(err)
		if !ok || !strings.Contains(text, tc.want) || !strings.HasSuffix(text, ".") {
			t.Errorf("%s %d: %q (readable %v), want a sentence with %q", tc.op, tc.status, text, ok, tc.want)
		}
		for _, s := range []string{"EOF", "HTTP ", "mattermost " + tc.op, "127.0.0.1"} {
			if strings.Contains(text, s) {
				t.Errorf("%s %d: %q shows %q", tc.op, tc.status, text, s)
			}
		}
	}
}

// panicHandler panics on every call.
type panicHandler struct{}

func (panicHandler) HandleCommand(context.Context, bot.Command) bot.Reply { panic("boom") }
func (panicHandler) HandleAction(context.Context, bot.Action) bot.Reply   { panic("boom") }

// TestPanicReadsAsFailedText: a handler that panics leaves the user an
// ephemeral bot.FailedText, not Mattermost's bare "returned response 500".
func TestPanicReadsAsFailedText(t *testing.T) {
	e := newEnv(t, envOpts{})
	srv := httptest.NewServer(e.a.CommandHandler(panicHandler{}))
	defer srv.Close()
	status, body := e.mm.command(t, srv.URL+CommandPath, e.tokens[0], alice, channelID, "status")
	if status != http.StatusOK || !strings.Contains(string(body), bot.FailedText) || !strings.Contains(string(body), `"response_type":"ephemeral"`) {
		t.Fatalf("answer = %d %s; want an ephemeral bot.FailedText", status, body)
	}
}
