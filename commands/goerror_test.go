package commands

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// realGoErrors are errors as the standard library makes them: a refused
// loopback connection through net/http, and a connection cut mid-answer.
func realGoErrors(t *testing.T) []error {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := ln.Addr().String()
	ln.Close()
	_, refused := http.Post("http://"+closed+"/v1/jobs", "application/json", nil)
	if refused == nil {
		t.Fatal("a closed port answered")
	}
	hang, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer hang.Close()
	go func() {
		if c, err := hang.Accept(); err == nil {
			c.Close()
		}
	}()
	_, eof := http.Post("http://"+hang.Addr().String()+"/v1/jobs", "application/json", nil)
	if eof == nil {
		t.Fatal("a hung-up connection answered")
	}
	return []error{refused, eof, fmt.Errorf("storage: %w", errors.New("bbolt: timeout"))}
}

// goErrorText is what must never reach a channel.
var goErrorText = []string{`Post "http`, "dial tcp", ": EOF", "connection refused", "bbolt", "storage:"}

// TestNoGoErrorTextInMessages: every message the router builds from an
// error reads as a sentence; the error's own text stays in the log.
func TestNoGoErrorTextInMessages(t *testing.T) {
	req := &approvals.Request{ID: "r7k2qxa9", Host: "gitlab-1"}
	for _, err := range realGoErrors(t) {
		for name, m := range map[string]bot.Message{
			"unreachable":   unreachableMessage("gitlab-1", time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC), err),
			"agent error":   agentErrorMessage("gitlab-1", "status", err),
			"problem":       problemMessage("Could not check", "gitlab-1", err, "Check with /gitlab-migrations status."),
			"couldNotPost":  couldNotPost(err),
			"decision":      {Text: bot.Sentence(decisionRefused(err, req, "slack").Error())},
			"workflow":      {Text: bot.Sentence(workflowProblem(err))},
			"handler error": {Text: func() bot.Text { s, _ := bot.TextFor(err); return bot.Sentence(s) }()},
		} {
			all := m.Title.String() + "\n" + m.Text.String() + "\n" + m.Code
			for _, s := range goErrorText {
				if strings.Contains(all, s) {
					t.Errorf("%s of %q shows %q: %s", name, err, s, all)
				}
			}
			if !strings.HasSuffix(strings.TrimSpace(m.Text.String()), ".") {
				t.Errorf("%s of %q is not a sentence: %q", name, err, m.Text)
			}
			if strings.Count(m.Text.String(), "systemctl status") > 1 {
				t.Errorf("%s of %q says the same check twice: %q", name, err, m.Text)
			}
		}
	}
	// An adapter's sentence (bot.Readable) is passed on, its cause is not.
	invite := &bot.UserError{Text: "The bot is not a member of this channel; invite it with `/invite @gitlab-chatops`, then try again.", Err: errors.New("slack chat.postMessage: not_in_channel")}
	if m := couldNotPost(invite); !strings.Contains(m.Text.String(), "/invite @gitlab-chatops") || strings.Contains(m.Text.String(), "not_in_channel") {
		t.Errorf("couldNotPost = %q", m.Text)
	}
	if got := peopleText(fmt.Errorf("open: %w", invite)); got != invite.Text {
		t.Errorf("peopleText = %q", got)
	}
}
