package bot

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
)

// TestReplyFor: how a handler's error becomes what its user is shown.
func TestReplyFor(t *testing.T) {
	if r := ReplyFor(nil); !r.IsZero() {
		t.Errorf("ReplyFor(nil) = %+v, want NoReply", r)
	}
	r := ReplyFor(fmt.Errorf("deciding: %w", approversErr{[]string{"U1", "S2"}}))
	if r.IsZero() || !r.Refused || r.Err != nil || r.Message.Text.String() != "You may not approve this." || r.Message.Tone != ToneDanger {
		t.Errorf("a refusal = %+v", r)
	}
	var named []string
	for _, sp := range r.WithApprovers().Text {
		if sp.Kind == SpanMention {
			named = append(named, sp.ID)
		}
	}
	if !slices.Equal(named, []string{"U1", "S2"}) || !strings.Contains(r.WithApprovers().Text.String(), "Who may approve: ") {
		t.Errorf("WithApprovers names %v in %q, want the approvers after \"Who may approve: \"", named, r.WithApprovers().Text.String())
	}
	goErr := errors.New("dial tcp 127.0.0.1:9: connection refused")
	r = ReplyFor(goErr)
	if r.Refused || r.Err != goErr || r.Message.Text.String() != FailedText {
		t.Errorf("a Go error = %+v; want FailedText, the cause kept for the log", r)
	}
	if r := Say(Message{Text: Plain("help")}); r.IsZero() || r.Refused || r.WithApprovers().Text.String() != "help" {
		t.Errorf("Say = %+v", r)
	}
}
