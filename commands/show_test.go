package commands

import (
	"fmt"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// TestShowGolden renders `show` for a request that ran (with a thread
// link), one that was denied (no link: the platform's IDs instead), one
// still waiting, and one whose history is longer than a message lists.
func TestShowGolden(t *testing.T) {
	at := func(min, sec int) time.Time { return time.Date(2026, 12, 6, 14, min, sec, 0, time.UTC) }
	alice := approvals.User{ID: "U0ALICE01", Name: "alice"}
	bob := approvals.User{ID: "U0BOB0001", Name: "bob"}
	ran := &approvals.Request{
		ID: "r7k2qxa9", Platform: "slack", Channel: "C0OPS0001", Thread: "1765029731.000200",
		Host: "gitlab-1", Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"},
		Requester: alice, Reason: "upgrade to 17.5", FingerprintInfo: "2 migrations down on main: 20241101000000, 20241102000000",
		Required: 1, CreatedAt: at(2, 11), ExpiresAt: at(17, 11), State: approvals.StateSucceeded,
		Decisions: []approvals.Decision{{User: bob, Verdict: approvals.VerdictApprove, At: at(3, 40)}},
		JobID:     "j-20261206-0001", StartedAt: at(3, 41), EndedAt: at(5, 12), Outcome: "all migrations up",
	}
	entry := func(seq uint64, tm time.Time, actor approvals.User, action, outcome, detail string) approvals.AuditEntry {
		return approvals.AuditEntry{Seq: seq, Time: tm, Actor: actor.ID, ActorName: actor.Name, Action: action, RequestID: "r7k2qxa9", Host: "gitlab-1", Operation: "migrate", Outcome: outcome, Detail: detail}
	}
	sys := approvals.SystemUser()
	history := []approvals.AuditEntry{
		entry(101, at(2, 11), alice, approvals.ActionRequestOpened, "pending", "upgrade to 17.5"),
		entry(104, at(3, 2), alice, approvals.ActionRequestRefused, "approve", "a requester never approves their own request"),
		entry(107, at(3, 40), bob, approvals.ActionRequestApproved, "approved", ""),
		entry(108, at(3, 41), sys, approvals.ActionRequestStarted, "running", ""),
		entry(109, at(3, 41), sys, approvals.ActionRequestJob, "running", "agent job j-20261206-0001"),
		{Seq: 130, Time: at(5, 10), Actor: sys.ID, Action: ActionJobOutput, RequestID: "r7k2qxa9", Host: "gitlab-1", Operation: "migrate", Outcome: "succeeded",
			OutputDigest: "sha256:4f1c0e6a2b", Detail: "agent job j-20261206-0001, exit 0, 412 lines, 30911 bytes"},
		entry(131, at(5, 12), sys, approvals.ActionRequestFinished, "succeeded", "all migrations up"),
	}
	checkMessage(t, "show-succeeded", showMessage(ran, history, "https://example.slack.com/archives/C0OPS0001/p1765029731000200"))

	denied := ran.Clone()
	denied.State, denied.JobID, denied.StartedAt, denied.EndedAt, denied.Outcome = approvals.StateDenied, "", time.Time{}, time.Time{}, ""
	denied.Platform, denied.Channel, denied.Thread = "mattermost", "ch5q7w3rxbfyt8k1mjn6opzs2a", "po9x8c7v6b5n4m3l2k1j0h9g8f"
	denied.Decisions = []approvals.Decision{{User: bob, Verdict: approvals.VerdictDeny, At: at(4, 0), Reason: "not during business hours"}}
	checkMessage(t, "show-denied", showMessage(denied, history[:3], ""))

	pending := ran.Clone()
	pending.State, pending.Decisions, pending.JobID, pending.StartedAt, pending.EndedAt, pending.Outcome = approvals.StatePending, nil, "", time.Time{}, time.Time{}, ""
	checkMessage(t, "show-pending", showMessage(pending, history[:1], ""))

	var long []approvals.AuditEntry
	for i := range 100 {
		long = append(long, entry(uint64(200+i), at(6, i%60), bob, approvals.ActionRequestRefused, "approve", fmt.Sprintf("attempt %d", i)))
	}
	checkMessage(t, "show-long-history", showMessage(pending, long, ""))
}
