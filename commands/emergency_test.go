package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
	"github.com/gitlab-chatops/gitlab-chatops/window"
)

var dave = bot.User{ID: "U-dave", Name: "dave"} // an admin

// windowStack is a stack whose policy allows destructive operations from
// 12:00 to 13:00 UTC, on a clock stopped at Tue 2025-03-04 10:30 UTC,
// with an audit channel.
func windowStack(t *testing.T, p approvals.Policy) (*simtest.Stack, *channelRecorder, *approvalstest.Clock) {
	t.Helper()
	noon, err := window.Recurring("0 12 * * *", "UTC", time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	p.Windows = window.Policy{Allow: []window.Span{noon}}
	p.TTL = 2 * time.Hour
	clock := approvalstest.NewClock(time.Date(2025, 3, 4, 10, 30, 0, 0, time.UTC))
	s := simtest.Start(t, simtest.Options{Clock: clock.Now, Policy: p, Router: commands.Options{AuditChannel: "C-audit"}})
	rec := &channelRecorder{recorder: newRecorder(), posts: map[string][]string{}}
	s.Router.Register(rec)
	s.Run(t)
	return s, rec, clock
}

// notices are the audit channel's posts other than the daily anchor.
func notices(rec *channelRecorder) []string {
	var out []string
	for _, p := range rec.in("C-audit") {
		if !strings.HasPrefix(p, "Audit anchor") {
			out = append(out, p)
		}
	}
	return out
}

func requestsIn(t *testing.T, s *simtest.Stack, states ...approvals.State) []*approvals.Request {
	t.Helper()
	reqs, err := s.DB.Requests(context.Background(), approvals.RequestFilter{States: states})
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

// TestWindowsRestrictDestructiveOnly: outside the change windows a migrate
// is refused to its requester with the next allowed time, and audited;
// status runs all the same; a request opened inside its window but whose
// starting approval comes after it closed does not run.
func TestWindowsRestrictDestructiveOnly(t *testing.T) {
	s, rec, clock := windowStack(t, approvals.Policy{Approvers: []string{bob.ID}})

	err := command(t, s, rec.recorder, alice, "migrate -- upgrade to 17.5")
	if err == nil || !strings.Contains(err.Error(), "Migrate is not allowed now: it is outside the change windows (0 12 * * * for 1h (UTC))") || !strings.Contains(err.Error(), "The next allowed time is Tue 2025-03-04 12:00 UTC, in 1 hour 30 minutes.") ||
		!strings.Contains(err.Error(), "--emergency -- <reason>") {
		t.Fatalf("migrate outside the window: %v", err)
	}
	if reqs := requestsIn(t, s); len(reqs) != 0 {
		t.Fatalf("a request was stored: %v", reqs)
	}
	if acts := auditActions(t, s); acts[len(acts)-1] != approvals.ActionCommandRefused {
		t.Fatalf("the refusal is not audited: %v", acts)
	}
	if err := command(t, s, rec.recorder, alice, "status"); err != nil {
		t.Fatalf("status outside the window: %v", err)
	}
	if n := count(auditActions(t, s), approvals.ActionReadOnlyRun); n != 1 {
		t.Fatalf("status ran %d times, want 1: read-only operations are never restricted", n)
	}

	clock.Advance(100 * time.Minute) // 12:10
	id, root := openMigrate(t, s, rec.recorder)
	clock.Advance(55 * time.Minute) // 13:05
	err = click(context.Background(), s.Router, rec, bot.Action{Platform: rec.Platform(), User: bob, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id})
	if err == nil || !strings.Contains(err.Error(), "cannot be approved now, as the approval would start it") || !strings.Contains(err.Error(), "Wed 2025-03-05 12:00 UTC") {
		t.Fatalf("approval after the window closed: %v", err)
	}
	s.Router.Wait()
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Fatalf("migrate ran %d times after its window closed", n)
	}
	if reqs := requestsIn(t, s, approvals.StatePending); len(reqs) != 1 {
		t.Fatalf("want the request still pending, got %v", reqs)
	}
}

// TestEmergencyBreakGlassAndReview: --emergency needs a reason, bypasses
// the window, needs one more approval, is announced in the audit channel
// when opened and when run, asks for a post-incident review that pending
// lists, that the sweep reminds of once when overdue, and that only an
// admin acknowledges.
func TestEmergencyBreakGlassAndReview(t *testing.T) {
	ctx := context.Background()
	s, rec, clock := windowStack(t, approvals.Policy{Approvers: []string{bob.ID, carol.ID}, Admins: []string{dave.ID}})

	err := command(t, s, rec.recorder, alice, "migrate --emergency")
	if err == nil || !strings.Contains(err.Error(), "breaking glass needs a reason") {
		t.Fatalf("--emergency without a reason: %v", err)
	}
	if err := command(t, s, rec.recorder, alice, "migrate --emergency=yes -- x"); err == nil || !strings.Contains(err.Error(), "--emergency takes no value") {
		t.Fatalf("--emergency=yes: %v", err)
	}
	if err := command(t, s, rec.recorder, alice, "migrate --emergency -- INC-42 deploy blocked"); err != nil {
		t.Fatalf("emergency migrate outside the window: %v", err)
	}
	reqs := requestsIn(t, s, approvals.StatePending)
	if len(reqs) != 1 || !reqs[0].Emergency || reqs[0].Required != 2 {
		t.Fatalf("want one pending emergency request needing 2 approvals, got %+v", reqs)
	}
	id, root := reqs[0].ID, reqs[0].Thread
	card := text(rec.message(root))
	contains(t, []string{card}, "🚨 EMERGENCY · Approval needed: migrate on gitlab-sim")
	contains(t, []string{card}, "needs 2 approvals (one more than usual)")
	audit := notices(rec)
	if len(audit) != 1 || !strings.Contains(audit[0], "BREAK-GLASS: emergency migrate on gitlab-sim requested") || !strings.Contains(audit[0], "INC-42 deploy blocked") {
		t.Fatalf("audit channel after opening: %q", audit)
	}

	if err := command(t, s, rec.recorder, carol, "pending"); err != nil {
		t.Fatal(err)
	}
	notes := rec.notesFor(carol.ID)
	contains(t, notes[len(notes)-1:], "🚨 emergency migrate on gitlab-sim by alice, 0 of 2 approvals")

	approve := func(u bot.User) {
		t.Helper()
		if err := click(ctx, s.Router, rec, bot.Action{Platform: rec.Platform(), User: u, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id}); err != nil {
			t.Fatalf("approval by %s: %v", u.Name, err)
		}
		s.Router.Wait()
	}
	approve(bob)
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Fatalf("one approval of an emergency request ran it (%d)", n)
	}
	approve(carol)
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Fatalf("migrate ran %d times after the second approval, want 1", n)
	}
	audit = notices(rec)
	if len(audit) != 2 || !strings.Contains(audit[1], "emergency migrate on gitlab-sim is running now") {
		t.Fatalf("audit channel after the run: %q", audit)
	}
	th := rec.thread(root)
	contains(t, th, "Post-incident review needed")
	contains(t, th, "/gitlab-migrations review "+id)

	pending := func() string {
		t.Helper()
		if err := command(t, s, rec.recorder, carol, "pending"); err != nil {
			t.Fatal(err)
		}
		notes := rec.notesFor(carol.ID)
		return notes[len(notes)-1]
	}
	if p := pending(); !strings.Contains(p, "Post-incident reviews to acknowledge") || !strings.Contains(p, id) || strings.Contains(p, "OVERDUE") {
		t.Fatalf("pending does not list the open review:\n%s", p)
	}

	s.Router.ExpireNow(ctx)
	if n := len(notices(rec)); n != 2 {
		t.Fatalf("a review not yet due was reminded (%d posts)", n)
	}
	clock.Advance(approvals.ReviewWithin + time.Minute)
	s.Router.ExpireNow(ctx)
	s.Router.ExpireNow(ctx)
	audit = notices(rec)
	if len(audit) != 3 || !strings.Contains(audit[2], "Post-incident review overdue: emergency migrate on gitlab-sim") {
		t.Fatalf("audit channel after the review was due: %q", audit)
	}
	if p := pending(); !strings.Contains(p, "OVERDUE") {
		t.Fatalf("pending does not say the review is overdue:\n%s", p)
	}

	if err := command(t, s, rec.recorder, bob, "review "+id+" -- fine"); err == nil || !strings.Contains(err.Error(), "Only the bot's admins may acknowledge") {
		t.Fatalf("review by a non-admin: %v", err)
	}
	if err := command(t, s, rec.recorder, dave, "review "+id); err == nil || !strings.Contains(err.Error(), "after --") {
		t.Fatalf("review without a note: %v", err)
	}
	if err := command(t, s, rec.recorder, dave, "review "+id+" -- postmortem PM-7"); err != nil {
		t.Fatalf("review by an admin: %v", err)
	}
	contains(t, rec.thread(root), "Post-incident review acknowledged by dave: postmortem PM-7")
	if p := pending(); strings.Contains(p, id) {
		t.Fatalf("pending still lists the acknowledged review:\n%s", p)
	}
	if acts := auditActions(t, s); count(acts, approvals.ActionRequestReviewed) != 1 || count(acts, approvals.ActionReviewReminded) != 1 {
		t.Fatalf("audit: %v", acts)
	}
	if err := command(t, s, rec.recorder, carol, "show "+id); err != nil {
		t.Fatal(err)
	}
	notes = rec.notesFor(carol.ID)
	contains(t, notes[len(notes)-1:], "Break-glass: emergency request: bypassed the change windows; needs 2 approvals (one more than usual); post-incident review acknowledged by dave")
	contains(t, notes[len(notes)-1:], "request.review_reminded")
}
