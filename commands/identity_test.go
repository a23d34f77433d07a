package commands_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestLegacyRequestStillDecidable: a request stored before IDs were
// qualified (requester "U-alice" in a real bbolt store) loads and is
// decided sensibly: its requester, now arriving as "test:U-alice", still
// cannot approve it; a qualified approver can, and the approval statement
// the agent ran it under names both people qualified.
func TestLegacyRequestStillDecidable(t *testing.T) {
	ctx := context.Background()
	s, rec := setup(t, simtest.Options{Policy: approvals.Policy{Approvers: []string{"test:" + bob.ID, "test:" + alice.ID}}})
	id, _ := openMigrate(t, s, rec)
	legacy, err := s.DB.Apply(ctx, id, func(r *approvals.Request) ([]approvals.AuditEntry, error) {
		if r.Requester.ID != "test:"+alice.ID {
			t.Errorf("the router stored requester %q, want test:%s", r.Requester.ID, alice.ID)
		}
		r.Requester.ID = alice.ID // as stored before qualification
		return []approvals.AuditEntry{{Actor: approvals.ActorSystem, Action: "test.legacy", RequestID: id}}, nil
	})
	if err != nil || legacy.Requester.ID != alice.ID {
		t.Fatalf("making the request legacy: %v %+v", err, legacy)
	}

	err = command(t, s, rec, alice, "approve "+id)
	if err == nil || !strings.Contains(err.Error(), "yourself") {
		t.Fatalf("alice approving her own legacy request: %v, want refused as self-approval", err)
	}
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	req, err := s.DB.Request(ctx, id)
	if err != nil || req.State != approvals.StateSucceeded {
		t.Fatalf("legacy request after bob's approval: %v %v", req.State, err)
	}
	jobs := jobSpans(t, s, "migrate")
	if len(jobs) != 1 || jobs[0].Requester != "test:"+alice.ID || !slices.Equal(jobs[0].Approvers, []string{"test:" + bob.ID}) {
		t.Fatalf("agent jobs %+v, want one run for requester test:%s approved by test:%s", jobs, alice.ID, bob.ID)
	}
}
