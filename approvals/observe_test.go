package approvals_test

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// recorder is an approvals.Observer that keeps what it was told.
type recorder struct {
	changes []string
	actions []string
}

func (r *recorder) RequestChanged(op, from, to string, age time.Duration) {
	r.changes = append(r.changes, fmt.Sprintf("%s %s->%s %s", op, from, to, age))
}

func (r *recorder) AuditAppended(action string) { r.actions = append(r.actions, action) }

// TestObserverSeesCommittedChanges: every committed transition is reported
// once with the time since the request was opened (the decision's time for
// a decision, the end for a run), every committed audit entry once, and a
// refused change as its refusal entry only.
func TestObserverSeesCommittedChanges(t *testing.T) {
	ctx := context.Background()
	rec := &recorder{}
	f := newFixture(t, approvals.Policy{Approvers: []string{bob.ID}}, approvals.WithObserver(rec))

	r := f.open(t)
	if _, err := f.svc.Approve(ctx, r.ID, alice, "fp-1"); err == nil {
		t.Fatal("the requester approved their own request")
	}
	f.clock.Advance(5 * time.Minute)
	if _, err := f.svc.Approve(ctx, r.ID, bob, "fp-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Start(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	f.clock.Advance(2 * time.Minute)
	if _, err := f.svc.Finish(ctx, r.ID, approvals.StateSucceeded, "all up"); err != nil {
		t.Fatal(err)
	}
	denied := f.open(t)
	f.clock.Advance(time.Minute)
	if _, err := f.svc.Deny(ctx, denied.ID, bob, "not now"); err != nil {
		t.Fatal(err)
	}

	wantChanges := []string{
		"migrate ->pending 0s",
		"migrate pending->approved 5m0s",
		"migrate approved->running 5m0s",
		"migrate running->succeeded 7m0s",
		"migrate ->pending 0s",
		"migrate pending->denied 1m0s",
	}
	if !slices.Equal(rec.changes, wantChanges) {
		t.Errorf("changes:\n got %q\nwant %q", rec.changes, wantChanges)
	}
	if got, want := rec.actions, f.store.Actions(); !slices.Equal(got, want) {
		t.Errorf("audit entries reported %q, the trail holds %q", got, want)
	}
	if !slices.Contains(rec.actions, approvals.ActionRequestRefused) {
		t.Errorf("the refused self-approval was not reported as its audit entry: %q", rec.actions)
	}
}
