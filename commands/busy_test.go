package commands_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// busyChecks is the real agent client, except that approval checks are
// answered as a saturated agent answers them (429, Retry-After) while
// left > 0 (or always, when left < 0).
type busyChecks struct {
	commands.Agent
	mu      sync.Mutex
	left    int
	refused int
}

func (b *busyChecks) Run(ctx context.Context, req agent.RunRequest, onEvent func(agent.Event) error) (agent.JobRecord, error) {
	b.mu.Lock()
	busy := req.Purpose == agent.PurposeApprovalCheck && b.left != 0
	if busy {
		b.left--
		b.refused++
	}
	b.mu.Unlock()
	if busy {
		return agent.JobRecord{}, &agent.APIError{Status: 429, Message: "too many read-only jobs", RetryAfter: 50 * time.Millisecond}
	}
	return b.Agent.Run(ctx, req, onEvent)
}

// busyHostSetup is a stack whose second host, "busy", reaches the same
// agent through busyChecks; approvals need two people, so an approval is
// recorded without anything running.
func busyHostSetup(t *testing.T, left int, wait time.Duration) (*simtest.Stack, *recorder, *busyChecks) {
	t.Helper()
	b := &busyChecks{left: left}
	s := simtest.Start(t, simtest.Options{
		Policy: approvals.Policy{ApprovalsRequired: 2},
		Router: commands.Options{BusyWait: wait, Hosts: []commands.Host{{Name: "busy", Agent: b}}},
	})
	b.Agent = s.Client
	rec := newRecorder()
	s.Router.Register(rec)
	s.Run(t)
	if err := command(t, s, rec, alice, "migrate --host busy -- upgrade to 17.5"); err != nil {
		t.Fatal(err)
	}
	return s, rec, b
}

func pendingID(t *testing.T, s *simtest.Stack) string {
	t.Helper()
	reqs, err := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("want one pending request, got %d (%v)", len(reqs), err)
	}
	return reqs[0].ID
}

// approvalEntries returns the audit entries of who's approval attempts.
func approvalEntries(t *testing.T, s *simtest.Stack, id, who string) []approvals.AuditEntry {
	t.Helper()
	entries, err := s.DB.TailAudit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []approvals.AuditEntry
	for _, e := range entries {
		if e.RequestID == id && e.Actor == approvals.Qualify("test", who) && (e.Action == approvals.ActionRequestApproved || e.Action == approvals.ActionRequestRefused) {
			out = append(out, e)
		}
	}
	return out
}

// TestApprovalWaitsOutABusyAgent: an approval check that meets a 429 is
// retried after the agent's Retry-After; the approver is told it waits,
// and the approval is recorded.
func TestApprovalWaitsOutABusyAgent(t *testing.T) {
	s, rec, b := busyHostSetup(t, 3, time.Minute)
	id := pendingID(t, s)
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	if b.refused != 3 {
		t.Errorf("the agent refused %d approval checks, want 3 before one ran", b.refused)
	}
	contains(t, rec.notesFor(bob.ID), "waits for the migration status it is checked against: the agent on busy is busy")
	for _, n := range rec.notesFor(bob.ID) {
		if strings.Contains(n, "not recorded") {
			t.Errorf("bob was told: %s", n)
		}
	}
	got := approvalEntries(t, s, id, bob.ID)
	if len(got) != 1 || got[0].Action != approvals.ActionRequestApproved {
		t.Errorf("bob's approval in the audit: %+v, want one request.approved", got)
	}
}

// TestApprovalLostToABusyAgentIsAudited: when the agent stays busy past
// BusyWait, the approver hears that the approval was not recorded and
// why, and the attempt is in the audit with that reason.
func TestApprovalLostToABusyAgentIsAudited(t *testing.T) {
	s, rec, _ := busyHostSetup(t, -1, 300*time.Millisecond)
	id := pendingID(t, s)
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.notesFor(bob.ID), "Your approval of "+id+" was not recorded")
	contains(t, rec.notesFor(bob.ID), "stayed busy with other read-only jobs")
	got := approvalEntries(t, s, id, bob.ID)
	if len(got) != 1 || got[0].Action != approvals.ActionRequestRefused || !strings.Contains(got[0].Detail, "approval not recorded") || !strings.Contains(got[0].Detail, "stayed busy") {
		t.Errorf("bob's lost approval in the audit: %+v, want one request.refused naming the busy agent", got)
	}
	req, err := s.DB.Request(context.Background(), id)
	if err != nil || req.State != approvals.StatePending || len(req.Approvals()) != 0 {
		t.Errorf("request after the lost approval: %+v (%v), want pending without approvals", req, err)
	}
}
