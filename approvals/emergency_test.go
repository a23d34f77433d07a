package approvals_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/window"
)

// noon allows destructive operations from 12:00 to 13:00 UTC; t0 is 10:30.
func noon(t *testing.T) window.Policy {
	t.Helper()
	s, err := window.Recurring("0 12 * * *", "UTC", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	return window.Policy{Allow: []window.Span{s}}
}

func emergency(by approvals.User, reason string) approvals.NewRequest {
	nr := migrate(by)
	nr.Emergency, nr.Reason = true, reason
	return nr
}

func TestWindowsCheckedAtOpenAndAtTheStartingApproval(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{Approvers: []string{bob.ID, carol.ID}, ApprovalsRequired: 2, TTL: 2 * time.Hour, Windows: noon(t)})

	_, err := f.svc.Open(ctx, migrate(alice))
	if !errors.Is(err, approvals.ErrOutsideWindow) {
		t.Fatalf("Open at 10:30 = %v, want ErrOutsideWindow", err)
	}
	for _, want := range []string{"migrate is not allowed now", "outside the change windows (0 12 * * * for 1h (UTC))", "The next allowed time is Tue 2025-03-04 12:00 UTC, in 1 hour 30 minutes.", "--emergency -- <reason>"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("refusal %q does not say %q", err, want)
		}
	}
	if err := f.svc.CheckWindow("migrate", false); !errors.Is(err, approvals.ErrOutsideWindow) {
		t.Errorf("CheckWindow = %v", err)
	}
	if err := f.svc.CheckWindow("migrate", true); err != nil {
		t.Errorf("CheckWindow(emergency) = %v, want nil", err)
	}
	if last := f.store.Entries()[len(f.store.Entries())-1]; last.Action != approvals.ActionCommandRefused || !strings.Contains(last.Detail, "next allowed time") {
		t.Errorf("refusal audited as %+v", last)
	}

	f.clock.Advance(time.Hour + 40*time.Minute) // 12:10
	r := f.open(t)
	must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t) // 1 of 2: recorded whatever the time
	f.clock.Advance(50 * time.Minute)              // 13:00: the window has closed
	if err := f.svc.CheckApprover(ctx, r.ID, carol); !errors.Is(err, approvals.ErrOutsideWindow) {
		t.Fatalf("CheckApprover after the window = %v, want ErrOutsideWindow", err)
	}
	_, err = f.svc.Approve(ctx, r.ID, carol, "fp-1")
	if !errors.Is(err, approvals.ErrOutsideWindow) || !strings.Contains(err.Error(), "the approval would start it") || !strings.Contains(err.Error(), "Wed 2025-03-05 12:00 UTC, in 23 hours.") {
		t.Fatalf("the starting approval after the window = %v", err)
	}
	if got := f.state(t, r.ID); got != approvals.StatePending {
		t.Fatalf("state = %s, want pending: a request approved after its window closed does not run", got)
	}
	f.clock.Advance(23 * time.Hour) // 12:00 the next day; the request expired meanwhile
	if err := f.svc.CheckWindow("migrate", false); err != nil {
		t.Errorf("CheckWindow inside the next window = %v", err)
	}
}

func TestEmergencyBypassesWindowsAndNeedsOneMoreApproval(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{Approvers: []string{bob.ID, carol.ID}, Windows: noon(t)})

	if _, err := f.svc.Open(ctx, emergency(alice, " ")); !errors.Is(err, approvals.ErrReasonRequired) || !strings.Contains(err.Error(), "breaking glass needs a reason") {
		t.Fatalf("emergency without a reason = %v", err)
	}
	r := must(f.svc.Open(ctx, emergency(alice, "INC-42 database down")))(t)
	if !r.Emergency || r.Required != 2 {
		t.Fatalf("emergency request: Emergency %v, Required %d; want true, 2 (approvals_required 1 + 1)", r.Emergency, r.Required)
	}
	opened := f.store.Entries()[len(f.store.Entries())-1]
	if opened.Action != approvals.ActionRequestOpened || !strings.HasPrefix(opened.Detail, "EMERGENCY (break-glass, change windows bypassed; needs 2 approvals); reason: INC-42") {
		t.Errorf("opened entry = %+v", opened)
	}
	if a := must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t); a.State != approvals.StatePending {
		t.Fatalf("after one approval: %s, want pending (an emergency needs one more)", a.State)
	}
	if a := must(f.svc.Approve(ctx, r.ID, carol, "fp-1"))(t); a.State != approvals.StateApproved {
		t.Fatalf("after two approvals outside the window: %s, want approved", a.State)
	}
	started := must(f.svc.Start(ctx, r.ID))(t)
	if e := f.store.Entries()[len(f.store.Entries())-1]; !strings.HasPrefix(e.Detail, "EMERGENCY (break-glass): approved by bob and carol; reason: INC-42") {
		t.Errorf("started entry = %q", e.Detail)
	}
	if !started.ReviewDue.IsZero() {
		t.Errorf("review due before the request ran: %s", started.ReviewDue)
	}
}

func TestEmergencyApproverGroupApprovesAlone(t *testing.T) {
	ctx := context.Background()
	groups := approvalstest.Groups{Members: map[string][]string{"oncall": {dave.ID}}}
	f := newFixture(t, approvals.Policy{Approvers: []string{bob.ID, carol.ID}, ApprovalsRequired: 2, EmergencyApprovers: []string{"oncall"}},
		approvals.WithGroupResolver("", groups))

	plain := f.open(t)
	if _, err := f.svc.Approve(ctx, plain.ID, dave, "fp-1"); !errors.Is(err, approvals.ErrNotApprover) {
		t.Fatalf("an emergency approver on an ordinary request = %v, want ErrNotApprover", err)
	}
	r := must(f.svc.Open(ctx, emergency(alice, "INC-43")))(t)
	if r.Required != 3 {
		t.Fatalf("Required = %d, want 3", r.Required)
	}
	if a := must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t); a.State != approvals.StatePending {
		t.Fatalf("an ordinary approver alone: %s, want pending", a.State)
	}
	a := must(f.svc.Approve(ctx, r.ID, dave, "fp-1"))(t)
	if a.State != approvals.StateApproved {
		t.Fatalf("after the emergency approver: %s, want approved", a.State)
	}
	if e := f.store.Entries()[len(f.store.Entries())-1]; !strings.Contains(e.Detail, "by an emergency approver, which suffices") {
		t.Errorf("approval entry = %q", e.Detail)
	}
	if _, err := approvals.NewService(&approvalstest.Store{}, approvals.Policy{EmergencyApprovers: []string{"oncall"}}); !errors.Is(err, approvals.ErrInvalid) {
		t.Errorf("emergency approvers nobody resolves = %v, want ErrInvalid", err)
	}
}

func TestPostIncidentReview(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{Approvers: []string{bob.ID, carol.ID}, Admins: []string{dave.ID}})
	r := must(f.svc.Open(ctx, emergency(alice, "INC-44")))(t)
	must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t)
	must(f.svc.Approve(ctx, r.ID, carol, "fp-1"))(t)
	if _, err := f.svc.Review(ctx, r.ID, dave, "too early"); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("review before it ran = %v", err)
	}
	must(f.svc.Start(ctx, r.ID))(t)
	done := must(f.svc.Finish(ctx, r.ID, approvals.StateSucceeded, "all up"))(t)
	if want := t0.Add(approvals.ReviewWithin); !done.ReviewDue.Equal(want) || !done.ReviewOpen() {
		t.Fatalf("ReviewDue = %s (open %v), want %s", done.ReviewDue, done.ReviewOpen(), want)
	}
	ordinary := f.open(t)
	open := must(f.svc.OpenReviews(ctx))(t)
	if len(open) != 1 || open[0].ID != r.ID {
		t.Fatalf("OpenReviews = %v, want only %s (not %s)", open, r.ID, ordinary.ID)
	}

	if _, err := f.svc.MarkReviewReminded(ctx, r.ID); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("reminder before the review is due = %v", err)
	}
	f.clock.Advance(approvals.ReviewWithin)
	if !done.ReviewOverdue(f.clock.Now()) {
		t.Fatal("not overdue after 24 h")
	}
	must(f.svc.MarkReviewReminded(ctx, r.ID))(t)
	if _, err := f.svc.MarkReviewReminded(ctx, r.ID); !errors.Is(err, approvals.ErrAlreadyDecided) {
		t.Fatalf("second reminder = %v, want ErrAlreadyDecided (once)", err)
	}

	for _, tc := range []struct {
		user approvals.User
		note string
		want error
	}{
		{bob, "fine", approvals.ErrNotAllowed},
		{dave, "  ", approvals.ErrReasonRequired},
		{dave, strings.Repeat("x", 1001), approvals.ErrInvalid},
	} {
		if _, err := f.svc.Review(ctx, r.ID, tc.user, tc.note); !errors.Is(err, tc.want) {
			t.Errorf("Review by %s with %d bytes = %v, want %v", tc.user.Name, len(tc.note), err, tc.want)
		}
	}
	if _, err := f.svc.Review(ctx, ordinary.ID, dave, "n/a"); !errors.Is(err, approvals.ErrInvalid) {
		t.Errorf("review of an ordinary request = %v", err)
	}
	f.clock.Advance(time.Hour)
	rv := must(f.svc.Review(ctx, r.ID, dave, "postmortem PM-7"))(t)
	if rv.Review == nil || rv.Review.Note != "postmortem PM-7" || rv.ReviewOpen() {
		t.Fatalf("after the review: %+v", rv.Review)
	}
	if e := f.store.Entries()[len(f.store.Entries())-1]; e.Action != approvals.ActionRequestReviewed || e.Detail != "review acknowledged 1h0m0s late: postmortem PM-7" || e.Actor != dave.ID {
		t.Errorf("review entry = %+v", e)
	}
	if _, err := f.svc.Review(ctx, r.ID, dave, "again"); !errors.Is(err, approvals.ErrAlreadyDecided) {
		t.Errorf("second review = %v", err)
	}
	if open := must(f.svc.OpenReviews(ctx))(t); len(open) != 0 {
		t.Errorf("OpenReviews after the review = %v", open)
	}
	if !slices.Contains(f.store.Actions(), approvals.ActionReviewReminded) {
		t.Error("no reminder entry")
	}
}

func TestEmergencyNobodyCouldApproveIsRefused(t *testing.T) {
	f := newFixture(t, approvals.Policy{Approvers: []string{alice.ID, bob.ID}})
	_, err := f.svc.Open(context.Background(), emergency(alice, "INC-45"))
	if !errors.Is(err, approvals.ErrNotAllowed) || !strings.Contains(err.Error(), "needs 2 approvals, but only 1 approver could approve yours") {
		t.Fatalf("emergency with one possible approver = %v", err)
	}
	if _, err := f.svc.Open(context.Background(), emergency(carol, "INC-45")); err != nil {
		t.Fatalf("emergency with two possible approvers = %v", err)
	}
}
