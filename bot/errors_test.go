package bot

import (
	"errors"
	"fmt"
	"strings"
	"testing"
)

func TestTextFor(t *testing.T) {
	cause := errors.New(`Post "https://slack.com/api/chat.postEphemeral": dial tcp 127.0.0.1:1: connect: connection refused`)
	invite := &UserError{Text: "I could not post to this channel; invite the bot with /invite @gitlab-chatops.", Err: cause}
	for _, tc := range []struct {
		name     string
		err      error
		want     string
		readable bool
	}{
		{"go error", cause, FailedText, false},
		{"wrapped go error", fmt.Errorf("slack chat.postEphemeral: %w", cause), FailedText, false},
		{"user error", invite, invite.Text, true},
		{"wrapped user error", fmt.Errorf("notify: %w", invite), invite.Text, true},
		{"user error without cause", &UserError{Text: "Try again."}, "Try again.", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, readable := TextFor(tc.err)
			if got != tc.want || readable != tc.readable {
				t.Errorf("TextFor = %q, %v; want %q, %v", got, readable, tc.want, tc.readable)
			}
			if strings.Contains(got, "dial tcp") || strings.Contains(got, `Post "http`) {
				t.Errorf("raw Go error reached the user: %q", got)
			}
		})
	}
	// The log keeps the cause.
	if !strings.Contains(invite.Error(), "connection refused") || !errors.Is(invite, cause) {
		t.Errorf("UserError hides its cause from the log: %q", invite.Error())
	}
}

type approversErr struct{ ids []string }

func (e approversErr) Error() string       { return "not an approver" }
func (e approversErr) UserText() string    { return "You may not approve this." }
func (e approversErr) Approvers() []string { return e.ids }

// TestRefusal: the adapters' common view of a handler's error.
func TestRefusal(t *testing.T) {
	m, who, ok := Refusal(fmt.Errorf("handle: %w", approversErr{[]string{"U1", "S2"}}))
	if m.Text.String() != "You may not approve this." || m.Tone != ToneDanger || !ok || strings.Join(who, ",") != "U1,S2" {
		t.Errorf("Refusal(approvers) = %+v, %v, %v", m, who, ok)
	}
	m, who, ok = Refusal(errors.New("dial tcp: refused"))
	if m.Text.String() != FailedText || m.Tone != ToneDanger || ok || who != nil {
		t.Errorf("Refusal(go error) = %+v, %v, %v", m, who, ok)
	}
}
