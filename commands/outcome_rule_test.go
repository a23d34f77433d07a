package commands

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// TestOutcomeRule: one rule, at run time as in recovery
// (TestRecoveryWithoutJobEndsNotStarted): a job the agent confirms it
// never started is failed, saying nothing ran; a job whose end the bot
// could not learn is interrupted (outcome unknown).
func TestOutcomeRule(t *testing.T) {
	cut := errors.New("connection reset by peer")
	for _, tc := range []struct {
		name  string
		err   error
		state approvals.State
		says  string
	}{
		{"agent has no job", &errNotStarted{cause: cut}, approvals.StateFailed, "nothing ran"},
		{"lookup never answered", &errOutcomeUnknown{err: cut}, approvals.StateInterrupted, "outcome is unknown"},
		{"job lost", &errOutcomeUnknown{jobID: "j1", err: agent.ErrJobNotFound}, approvals.StateInterrupted, "outcome is unknown"},
		{"stream broke", &agent.StreamError{JobID: "j1", Err: cut}, approvals.StateInterrupted, "outcome is unknown"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, detail := outcomeOf("gitlab-1", agent.JobRecord{}, tc.err)
			if state != tc.state || !strings.Contains(detail, tc.says) {
				t.Errorf("outcome %s %q, want %s saying %q", state, detail, tc.state, tc.says)
			}
			if strings.Contains(detail, cut.Error()) {
				t.Errorf("outcome %q shows the Go error text (the card shows it)", detail)
			}
		})
	}
}
