package commands

import (
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// TestFixtures: the fixture set bot/bottest renders through every adapter
// has every kind of message once, each with something to show, and its
// canned captures parse (a capture that stopped parsing would silently
// turn a fixture into an empty summary or drop it).
func TestFixtures(t *testing.T) {
	seen := map[string]bool{}
	for _, f := range Fixtures() {
		if seen[f.Name] {
			t.Errorf("fixture %q twice", f.Name)
		}
		seen[f.Name] = true
		if f.Message.Title.String() == "" && f.Message.Text.String() == "" {
			t.Errorf("fixture %q has neither title nor text", f.Name)
		}
		if f.Message.Text.String() == bot.FailedText {
			t.Errorf("fixture %q is the bot's own failure, not the message it stands for", f.Name)
		}
	}
	for _, want := range []string{"approval-pending", "approved-running", "result-succeeded", "result-failed", "result-partly",
		"result-no-effect", "result-not-verified", "denied", "expired", "status-summary", "bbm", "services",
		"upgrade-check-ready", "upgrade-check-not-ready", "migrate-result-failed", "finalize-offer", "audit-page", "show",
		"help", "usage-error", "unknown-subcommand", "schedules-list", "scheduled-post-changes", "scheduled-post-catch-up",
		"progress", "progress-problem", "agent-error", "outcome-unknown", "expired-reply", "pending", "hosts", "approved-reply", "denied-reply", "approve-code", "enrolment"} {
		if !seen[want] {
			t.Errorf("no fixture %q", want)
		}
	}
}
