package commands_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/schedule/scheduletest"
)

// withScheduler gives s's router a real Scheduler over s's bbolt store,
// on clock, as serve wires them.
func withScheduler(t *testing.T, s *simtest.Stack, clock schedule.Clock) *schedule.Scheduler {
	t.Helper()
	sched, _ := withObservedScheduler(t, s, clock)
	return sched
}

// withObservedScheduler is withScheduler that also returns each run's
// outcome (schedule.Outcome*) as the Scheduler's Observe hook reports it:
// after the run's result is stored and its claim released, so a test that
// has received a run's outcome may let the schedule come due again, or run
// it by hand, without it being skipped or refused as still running.
func withObservedScheduler(t *testing.T, s *simtest.Stack, clock schedule.Clock) (*schedule.Scheduler, <-chan string) {
	t.Helper()
	outcomes := make(chan string, 100)
	observe := func(_ schedule.Schedule, outcome string) {
		select {
		case outcomes <- outcome:
		default:
			t.Errorf("outcome %q dropped: more runs than the test reads", outcome)
		}
	}
	sched, err := schedule.New(schedule.Config{Store: s.DB, Runner: s.Router, Hosts: s.Router.HostNames(),
		Whats: commands.ScheduleWhats(), Clock: clock, Observe: observe})
	if err != nil {
		t.Fatal(err)
	}
	s.Router.UseSchedules(sched)
	return sched, outcomes
}

// waitOutcome waits for the next run's outcome and wants it to be want (a
// deadlock guard of 10 s, not a timing assumption).
func waitOutcome(t *testing.T, outcomes <-chan string, what, want string) {
	t.Helper()
	select {
	case got := <-outcomes:
		if got != want {
			t.Fatalf("%s: outcome %q, want %q", what, got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("timed out waiting for %s to end", what)
	}
}

// auditOf returns the audit entries with action, newest last.
func auditOf(t *testing.T, s *simtest.Stack, action string) []approvals.AuditEntry {
	t.Helper()
	entries, err := s.DB.TailAudit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []approvals.AuditEntry
	for _, e := range entries {
		if e.Action == action {
			out = append(out, e)
		}
	}
	return out
}

// TestSchedulesAdminsOnly: only policy.admins add and remove schedules;
// anyone else is refused with who may, nothing is stored, and the refusal
// is audited. An admin's add and remove are audited with the schedule.
func TestSchedulesAdminsOnly(t *testing.T) {
	s, rec := setup(t, simtest.Options{Policy: approvals.Policy{Admins: []string{carol.ID}}})
	sched := withScheduler(t, s, nil)
	ctx := context.Background()
	const add = `schedules add "0 8 * * 1-5" status --when changed --tz Europe/Berlin`

	err := command(t, s, rec, alice, add)
	if m, _, _ := bot.Refusal(err); !strings.Contains(m.Text.String(), "Only the bot's admins may add or remove schedules; ask one of them (policy.admins: U-carol).") {
		t.Fatalf("a non-admin's add: %v", err)
	}
	if stored, _ := s.DB.Schedules(ctx); len(stored) != 0 {
		t.Fatalf("a refused add stored %d schedules", len(stored))
	}

	if err := command(t, s, rec, carol, add); err != nil {
		t.Fatalf("the admin's add: %v", err)
	}
	entries, err := sched.List(ctx)
	if err != nil || len(entries) != 1 {
		t.Fatalf("List = %v, %v", entries, err)
	}
	added := entries[0].Schedule
	if added.ID != "s1" || added.Spec != "0 8 * * 1-5" || added.TZ != "Europe/Berlin" || added.When != schedule.WhenChanged ||
		added.Channel != "C1" || added.Platform != rec.Platform() || added.CreatedBy != carol.ID || added.Source != schedule.SourceChat {
		t.Fatalf("stored %+v", added)
	}
	contains(t, rec.notesFor(carol.ID), "Schedule s1 added")
	contains(t, rec.notesFor(carol.ID), "Next run: ")
	got := auditOf(t, s, approvals.ActionScheduleAdded)
	if len(got) != 1 || got[0].Actor != approvals.Qualify(rec.Platform(), carol.ID) || got[0].Operation != "status" ||
		!strings.Contains(got[0].Detail, "s1: status on the default host at 0 8 * * 1-5 Europe/Berlin, when changed, into C1") {
		t.Fatalf("schedule.added entries: %+v", got)
	}

	err = command(t, s, rec, alice, "schedules remove s1")
	if m, _, _ := bot.Refusal(err); !strings.Contains(m.Text.String(), "Only the bot's admins") {
		t.Fatalf("a non-admin's remove: %v", err)
	}
	if stored, _ := s.DB.Schedules(ctx); len(stored) != 1 {
		t.Fatalf("a refused remove left %d schedules", len(stored))
	}
	refused := 0
	for _, e := range auditOf(t, s, approvals.ActionCommandRefused) {
		if e.Actor == approvals.Qualify(rec.Platform(), alice.ID) && strings.HasPrefix(e.Operation, "schedules") {
			refused++
		}
	}
	if refused != 2 {
		t.Errorf("%d refusals of alice audited, want 2", refused)
	}

	if err := command(t, s, rec, carol, "schedules remove s1"); err != nil {
		t.Fatalf("the admin's remove: %v", err)
	}
	if stored, _ := s.DB.Schedules(ctx); len(stored) != 0 {
		t.Fatalf("removed, yet %d schedules are stored", len(stored))
	}
	got = auditOf(t, s, approvals.ActionScheduleRemoved)
	if len(got) != 1 || got[0].Actor != approvals.Qualify(rec.Platform(), carol.ID) || !strings.Contains(got[0].Detail, "s1: status on the default host") {
		t.Fatalf("schedule.removed entries: %+v", got)
	}
	err = command(t, s, rec, carol, "schedules remove s1")
	if m, _, _ := bot.Refusal(err); !strings.Contains(m.Text.String(), `There is no schedule "s1"`) {
		t.Fatalf("removing it again: %v", err)
	}
}

// TestSchedulesNoAdmins: without policy.admins nobody may add, and the
// refusal says so.
func TestSchedulesNoAdmins(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	withScheduler(t, s, nil)
	err := command(t, s, rec, alice, "schedules add @hourly status")
	if m, _, _ := bot.Refusal(err); !strings.Contains(m.Text.String(), "no policy.admins is configured") {
		t.Fatalf("add without admins: %v", err)
	}
}

// TestSchedulesAddRefusesBadInput: the admin's bad input is refused with
// what to change, and nothing is stored.
func TestSchedulesAddRefusesBadInput(t *testing.T) {
	s, rec := setup(t, simtest.Options{Policy: approvals.Policy{Admins: []string{carol.ID}}})
	withScheduler(t, s, nil)
	for _, c := range []struct{ line, says string }{
		{`schedules add "0 8 * *" status`, `cron spec "0 8 * *" is not valid`},
		{`schedules add @daily migrate`, "a schedule can never run migrate: it needs a second person's approval"},
		{`schedules add @daily status --tz Mars/Olympus`, `unknown time zone "Mars/Olympus"`},
		{`schedules add @daily status --when sometimes`, `unknown when "sometimes"`},
		{`schedules add @daily status --host gitlab-9`, `unknown host "gitlab-9"`},
		{`schedules add "@every 10s" status`, "runs more often than once a minute"},
	} {
		err := command(t, s, rec, carol, c.line)
		if m, _, _ := bot.Refusal(err); !strings.Contains(m.Text.String(), c.says) {
			t.Errorf("%s: %v; want %q", c.line, err, c.says)
		}
	}
	if stored, _ := s.DB.Schedules(context.Background()); len(stored) != 0 {
		t.Fatalf("refused adds stored %d schedules", len(stored))
	}
}

// TestScheduleFiresAndPosts: a schedule added from chat fires on the
// scheduler's clock and posts into the channel it was added in: a root
// post naming the schedule, the usual status summary in the thread; the
// run is audited with the actor scheduler. With when changed, the next
// day's identical result stays silent; `schedules run` posts whatever
// when says; `schedules` lists it with its next run and last result.
func TestScheduleFiresAndPosts(t *testing.T) {
	monday7 := time.Date(2026, 3, 2, 7, 0, 0, 0, time.UTC)
	clock := scheduletest.NewClock(monday7)
	s, rec := setup(t, simtest.Options{Policy: approvals.Policy{Admins: []string{carol.ID}}, Clock: clock.Now})
	sched, outcomes := withObservedScheduler(t, s, clock)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- sched.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	if err := command(t, s, rec, carol, `schedules add "0 8 * * *" status --when changed`); err != nil {
		t.Fatal(err)
	}
	at := monday7.Add(time.Hour)
	clock.MustWaitDue(t, at)
	clock.Set(at)
	// The run has ended (posted, stored, released) once its outcome is
	// observed; until then a due time or `schedules run` would find it
	// still running, and be skipped or refused.
	waitOutcome(t, outcomes, "the first run", schedule.OutcomePosted)
	if n := len(rec.roots()); n != 1 {
		t.Fatalf("the first run: %d root posts, want 1", n)
	}
	root := rec.roots()[0]
	thread := rec.thread(root)
	if len(thread) < 2 {
		t.Fatalf("the first run's thread: %q, want the root and the summary", thread)
	}
	contains(t, thread[:1], "Scheduled status on gitlab-sim (schedule s1)")
	contains(t, thread[:1], "`0 8 * * *` UTC · when changed")
	contains(t, thread[:1], "main: ")
	contains(t, thread[1:], "Migration status on gitlab-sim")
	var byScheduler int
	for _, e := range auditOf(t, s, approvals.ActionReadOnlyRun) {
		if e.Actor == approvals.ActorScheduler && e.Operation == "migrate-status" && strings.Contains(e.ActorName, "schedule s1") {
			byScheduler++
		}
	}
	if byScheduler != 1 {
		t.Errorf("%d read-only runs audited as the scheduler's, want 1", byScheduler)
	}

	stored := func(what string, at time.Time) {
		t.Helper()
		last, _, ok, err := s.DB.LastResult(context.Background(), "s1")
		if err != nil || !ok || !last.At.Equal(at) {
			t.Fatalf("%s: last result %+v (found %v, %v), want one at %v", what, last, ok, err, at)
		}
	}
	stored("the first run", at)

	// The next day: the same result, so nothing is posted.
	at = at.Add(24 * time.Hour)
	clock.MustWaitDue(t, at)
	clock.Set(at)
	waitOutcome(t, outcomes, "the second run", schedule.OutcomeSilent)
	stored("the second run", at)
	if n := len(rec.roots()); n != 1 {
		t.Fatalf("when changed posted an unchanged result: %d root posts", n)
	}

	if err := command(t, s, rec, alice, "schedules run s1"); err != nil {
		t.Fatal(err)
	}
	if n := len(rec.roots()); n != 2 {
		t.Fatalf("schedules run: %d root posts, want 2", n)
	}
	contains(t, rec.thread(rec.roots()[1])[:1], "Run now by hand (`schedules run s1`)")
	if got := auditOf(t, s, approvals.ActionScheduleRunNow); len(got) != 1 || got[0].Actor != approvals.Qualify(rec.Platform(), alice.ID) || got[0].Detail != "schedule s1" {
		t.Errorf("schedule.run entries: %+v", got)
	}

	if err := command(t, s, rec, alice, "schedules"); err != nil {
		t.Fatal(err)
	}
	notes := rec.notesFor(alice.ID)
	contains(t, notes, "*s1*: status on the default host at `0 8 * * *` UTC, when changed, into C1 (test)")
	contains(t, notes, "next: Wed 4 Mar 08:00 UTC")
	contains(t, notes, "last: main: ")
	contains(t, notes, "(just now, posted)")
}

// TestScheduledRunFacts: the Runner's comparable facts per host and
// database for every read-only what, on every host (--host all: a host
// whose agent is down is a fact and a problem, not the end of the run) and
// on one host whose agent is down (a failed run, with the reason).
func TestScheduledRunFacts(t *testing.T) {
	s, _ := severalHosts(t, simtest.Options{})
	ctx := context.Background()
	run := func(what, host string) schedule.Result {
		t.Helper()
		res, post, err := s.Router.Run(ctx, schedule.Schedule{ID: "t1", Spec: "@hourly", What: what, Host: host, Platform: "test", Channel: "C1"})
		if err != nil || post == nil {
			t.Fatalf("Run(%s on %s) = %v, post %v", what, host, err, post != nil)
		}
		return res
	}
	all := run(schedule.WhatServices, schedule.AllHosts)
	if !all.Problem || all.Failed || all.Facts["gitlab-sim services"] != "all running" ||
		!strings.HasPrefix(all.Facts["gitlab-3 services"], "not running: ") || all.Facts["gitlab-down"] != "run failed" {
		t.Errorf("services on every host: %+v", all)
	}
	bbm := run(schedule.WhatBBM, schedule.AllHosts)
	if !bbm.Problem || !strings.HasSuffix(bbm.Facts["gitlab-2 main"]+bbm.Facts["gitlab-2 ci"], "unfinished") {
		t.Errorf("bbm on every host: %+v", bbm)
	}
	status := run(schedule.WhatStatus, "gitlab-2")
	if len(status.Facts) != 2 || status.Facts["main"] == "" || status.Facts["ci"] == "" {
		t.Errorf("status on a decomposed host: %+v", status)
	}
	down := run(schedule.WhatStatus, "gitlab-down")
	if !down.Failed || !strings.Contains(down.Reason, "gitlab-down") {
		t.Errorf("status on a host whose agent is down: %+v", down)
	}
	up := run(schedule.WhatUpgradeCheck, "gitlab-3")
	if !up.Problem || up.Facts["verdict"] != "NOT READY" {
		t.Errorf("upgrade-check on a host with services down: %+v", up)
	}
}

// TestScheduledRunNeverDestructive: the Runner refuses a destructive what
// (whatever reached it), and nothing runs on the agent.
func TestScheduledRunNeverDestructive(t *testing.T) {
	s, _ := setup(t, simtest.Options{})
	for _, what := range []string{"migrate", "finalize", "restart", "approve", "audit"} {
		_, post, err := s.Router.Run(context.Background(), schedule.Schedule{ID: "t1", Spec: "@hourly", What: what, Platform: "test", Channel: "C1"})
		if err == nil || post != nil {
			t.Errorf("Run(%s) = %v; want a refusal", what, err)
		}
	}
	for _, op := range []string{"migrate", "finalize", "restart"} {
		if n := agentJobs(t, s, op); n != 0 {
			t.Errorf("%s ran %d times", op, n)
		}
	}
}

// TestSchedulesAddNeedsAHost: with several hosts and none the default, a
// schedule without --host is refused at once (it could never run); one
// naming a host or all is added.
func TestSchedulesAddNeedsAHost(t *testing.T) {
	s, rec := severalHosts(t, simtest.Options{Policy: approvals.Policy{Admins: []string{carol.ID}}})
	withScheduler(t, s, nil)
	err := command(t, s, rec, carol, "schedules add @hourly status")
	if m, _, _ := bot.Refusal(err); !strings.Contains(m.Text.String(), "none is the default: name the one this schedule is for with --host NAME, or --host all") {
		t.Fatalf("add without a host: %v", err)
	}
	for _, line := range []string{"schedules add @hourly status --host all", "schedules add @hourly bbm --host gitlab-2"} {
		if err := command(t, s, rec, carol, line); err != nil {
			t.Fatalf("%s: %v", line, err)
		}
	}
	if stored, _ := s.DB.Schedules(context.Background()); len(stored) != 2 {
		t.Fatalf("%d schedules stored, want 2", len(stored))
	}
}

// TestScheduleThatCannotRunSaysSo: a schedule the bot cannot even try (no
// host named, several hosts and none the default: stored before a second
// host was configured) posts why into its channel, and is recorded as a
// failed run.
func TestScheduleThatCannotRunSaysSo(t *testing.T) {
	s, rec := severalHosts(t, simtest.Options{})
	sched := withScheduler(t, s, nil)
	ctx := context.Background()
	added, err := s.DB.AddSchedule(ctx, schedule.Schedule{Spec: "@hourly", What: "status", When: schedule.WhenProblems, Platform: rec.Platform(), Channel: "C1", Source: schedule.SourceChat})
	if err != nil {
		t.Fatal(err)
	}
	if err := sched.RunNow(ctx, added.ID); err == nil {
		t.Fatal("RunNow of a schedule that cannot run reported no error")
	}
	roots := rec.roots()
	if len(roots) != 1 {
		t.Fatalf("%d posts, want the one saying why", len(roots))
	}
	contains(t, rec.thread(roots[0]), "could not run: Several hosts are configured")
	last, _, ok, err := s.DB.LastResult(ctx, added.ID)
	if err != nil || !ok || !last.Failed || !strings.Contains(last.Reason, "none is the default") {
		t.Fatalf("last result %+v (%v, %v); want a failed run with the reason", last, ok, err)
	}
}
