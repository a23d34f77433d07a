package commands_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// lostAnswer commits every write, but answers the first one that approves
// a request with an error, as etcd's client does when the connection
// drops after the commit (the outcome unknown to the caller).
type lostAnswer struct {
	approvals.Store
	lost atomic.Bool
}

func (s *lostAnswer) Apply(ctx context.Context, id string, fn func(*approvals.Request) ([]approvals.AuditEntry, error)) (*approvals.Request, error) {
	r, err := s.Store.Apply(ctx, id, fn)
	if err == nil && r.State == approvals.StateApproved && s.lost.CompareAndSwap(false, true) {
		return nil, errors.New("write request to etcd (it may or may not have been written: read it back): context deadline exceeded")
	}
	return r, err
}

// TestApprovalCommittedButAnswerLost: the approval is written but its
// answer lost: the bot reads it back and starts the request (migrate runs
// once), rather than telling the approver it was not recorded and leaving
// it approved for the sweep to abandon.
func TestApprovalCommittedButAnswerLost(t *testing.T) {
	store := &lostAnswer{}
	s, rec := setup(t, simtest.Options{WrapStore: func(st approvals.Store) approvals.Store {
		store.Store = st
		return store
	}})
	id, root := openMigrate(t, s, rec)
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	if !store.lost.Load() {
		t.Fatal("no approval's answer was lost: this test shows nothing")
	}
	req, err := s.DB.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if req.State != approvals.StateSucceeded {
		t.Fatalf("request %s after an approval whose answer was lost; want succeeded (thread: %q)", req.State, rec.thread(root))
	}
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Fatalf("migrate ran %d times; want once", n)
	}
	for _, n := range rec.notesFor(bob.ID) {
		if strings.Contains(n, "not recorded") {
			t.Errorf("bob was told his recorded approval was not: %q", n)
		}
	}
}
