package main

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// TestOpenRequestsCountsReviews: the scrape-time reader counts emergency
// requests whose post-incident review is open, and those overdue, from a
// real bbolt store.
func TestOpenRequestsCountsReviews(t *testing.T) {
	ctx := context.Background()
	db, err := storage.Open(filepath.Join(t.TempDir(), "bot.db"), storage.Options{AuditKey: auditchain.Key("0123456789abcdef0123456789abcdef")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = db.Close() })
	clock := approvalstest.NewClock(time.Date(2025, 3, 4, 10, 30, 0, 0, time.UTC))
	svc, err := approvals.NewService(db, approvals.Policy{}, approvals.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	alice, bob, carol := approvals.User{ID: "a", Name: "a"}, approvals.User{ID: "b", Name: "b"}, approvals.User{ID: "c", Name: "c"}
	ran := func(emergency bool) {
		t.Helper()
		r, err := svc.Open(ctx, approvals.NewRequest{Host: "h", Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"}, Requester: alice, Reason: "INC-1", Emergency: emergency})
		if err != nil {
			t.Fatal(err)
		}
		for _, u := range []approvals.User{bob, carol}[:r.Required] {
			if _, err := svc.Approve(ctx, r.ID, u, ""); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := svc.Start(ctx, r.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Finish(ctx, r.ID, approvals.StateSucceeded, "ok"); err != nil {
			t.Fatal(err)
		}
	}
	ran(true)
	ran(false)
	clock.Advance(20 * time.Hour)
	ran(true)
	read := openRequests(svc, clock.Now)
	for _, tc := range []struct {
		after         time.Duration
		open, overdue int
	}{{0, 2, 0}, {4 * time.Hour, 2, 1}, {24 * time.Hour, 2, 2}} {
		clock.Advance(tc.after)
		got, err := read(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if got.ReviewsOpen != tc.open || got.ReviewsOverdue != tc.overdue {
			t.Errorf("after +%s: open %d, overdue %d; want %d, %d", tc.after, got.ReviewsOpen, got.ReviewsOverdue, tc.open, tc.overdue)
		}
	}
}
