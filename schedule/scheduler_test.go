package schedule_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

var monday9 = time.Date(2026, 3, 2, 9, 0, 0, 0, time.UTC) // a Monday

func hourly(id, when string) schedule.Schedule {
	return schedule.Schedule{ID: id, Spec: "0 * * * *", Platform: "slack", Channel: "C1",
		What: schedule.WhatStatus, When: when}
}

func result(main string, problem bool) schedule.Result {
	return schedule.Result{Facts: map[string]string{"main": main}, Problem: problem}
}

// changed posts the first result, stays silent while it stays the same,
// and posts again, saying what changed, when it changes.
func TestChangedPostsOnceUntilItChanges(t *testing.T) {
	h := newHarness(t, monday9.Add(time.Minute), hourly("status", schedule.WhenChanged))
	h.runner.script("status", result("2 down", true), result("2 down", true), result("2 down", true),
		result("all up", false), result("all up", false))
	h.start()

	if due := h.fire(); !due.Equal(monday9.Add(time.Hour)) {
		t.Fatalf("first run at %s, want 10:00", due)
	}
	h.wantOutcome("status", schedule.OutcomePosted)
	if p := h.takePost(); len(p.p.Changes) != 0 || p.r.Facts["main"] != "2 down" {
		t.Fatalf("first post %+v, want the result without changes", p)
	}
	for range 2 {
		h.fire()
		h.wantOutcome("status", schedule.OutcomeSilent)
		h.noPost()
	}
	h.fire()
	h.wantOutcome("status", schedule.OutcomePosted)
	p := h.takePost()
	if !slices.Equal(p.p.Changes, []string{"main: 2 down → all up"}) || !p.p.Recovered {
		t.Fatalf("post on change %+v, want main: 2 down → all up", p.p)
	}
	h.fire()
	h.wantOutcome("status", schedule.OutcomeSilent)
	h.noPost()
}

// problems posts only while something is wrong (a failed run included,
// with its reason), and once when it recovers.
func TestProblemsPostsProblemsAndRecoveryOnce(t *testing.T) {
	h := newHarness(t, monday9.Add(time.Minute), hourly("watch", schedule.WhenProblems))
	h.runner.script("watch",
		result("all up", false), result("all up", false),
		result("2 down", true), result("2 down", true),
		schedule.Result{Failed: true, Reason: "agent unreachable"},
		result("all up", false), result("all up", false))
	h.start()

	steps := []struct {
		outcome   string
		posted    bool
		recovered bool
		changes   []string
	}{
		{schedule.OutcomeSilent, false, false, nil},
		{schedule.OutcomeSilent, false, false, nil},
		{schedule.OutcomePosted, true, false, nil},
		{schedule.OutcomePosted, true, false, nil},
		{schedule.OutcomeFailed, true, false, []string{"main: 2 down → run failed (agent unreachable)"}},
		{schedule.OutcomePosted, true, true, []string{"main: run failed (agent unreachable) → all up"}},
		{schedule.OutcomeSilent, false, false, nil},
	}
	for i, st := range steps {
		h.fire()
		h.wantOutcome("watch", st.outcome)
		if !st.posted {
			h.noPost()
			continue
		}
		p := h.takePost()
		if p.p.Recovered != st.recovered || !slices.Equal(p.p.Changes, st.changes) {
			t.Fatalf("run %d posted %+v, want recovered=%v changes=%q", i+1, p.p, st.recovered, st.changes)
		}
	}
	// The failed run is stored with its reason.
	_, posted, _, err := h.db.LastResult(context.Background(), "watch")
	if err != nil || posted.Failed || !posted.Posted {
		t.Fatalf("last posted = %+v, %v", posted, err)
	}
}

// A Runner that cannot even try is a failed run: stored with the reason
// and posted when the Runner gave a way to post.
func TestRunnerErrorIsAFailedRun(t *testing.T) {
	h := newHarness(t, monday9.Add(time.Minute), hourly("status", schedule.WhenProblems))
	h.runner.errs["status"] = errUnknownHost
	h.start()
	h.fire()
	h.wantOutcome("status", schedule.OutcomeFailed)
	h.takePost()
	last, _, ok, err := h.db.LastResult(context.Background(), "status")
	if err != nil || !ok || !last.Failed || last.Reason != errUnknownHost.Error() || !last.Posted {
		t.Fatalf("stored %+v, %v", last, err)
	}
}

// A schedule in a DST zone fires at 09:00 wall-clock time the days before,
// of and after the change, in the loop itself.
func TestSchedulerFiresAtWallClockAcrossDST(t *testing.T) {
	for _, tc := range []struct {
		tz   string
		from time.Time
	}{
		{"Europe/Berlin", time.Date(2026, 3, 27, 12, 0, 0, 0, time.UTC)},
		{"Europe/Berlin", time.Date(2026, 10, 23, 12, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 3, 6, 18, 0, 0, 0, time.UTC)},
		{"America/New_York", time.Date(2026, 10, 30, 18, 0, 0, 0, time.UTC)},
	} {
		t.Run(tc.tz+" "+tc.from.Month().String(), func(t *testing.T) {
			s := schedule.Schedule{ID: "morning", Spec: "0 9 * * *", TZ: tc.tz, Platform: "slack", Channel: "C1", What: schedule.WhatStatus}
			h := newHarness(t, tc.from, s)
			h.start()
			loc, _ := time.LoadLocation(tc.tz)
			offsets := map[int]bool{}
			for day := range 4 {
				due := h.fire()
				local := due.In(loc)
				if local.Format("15:04") != "09:00" {
					t.Fatalf("day %d fired at %s", day+1, local.Format("2006-01-02 15:04 MST"))
				}
				_, off := local.Zone()
				offsets[off] = true
				h.wantOutcome("morning", schedule.OutcomePosted)
			}
			if len(offsets) != 2 {
				t.Fatalf("the four days did not cross a change (offsets %v)", offsets)
			}
		})
	}
}

// Runs missed while the bot was down are caught up once at start, and the
// post says so; schedules without catch_up, or that never ran, are not.
func TestCatchUpAfterDowntimePostsOnce(t *testing.T) {
	daily := schedule.Schedule{ID: "daily", Spec: "0 9 * * *", Platform: "slack", Channel: "C1",
		What: schedule.WhatStatus, When: schedule.WhenAlways, CatchUp: true}
	noCatchUp := daily
	noCatchUp.ID, noCatchUp.CatchUp, noCatchUp.Spec = "plain", false, "0 8 * * *"
	never := daily
	never.ID, never.Spec = "weekly", "0 9 * * 0" // Sundays; never runs before the downtime
	h := newHarness(t, monday9.Add(-2*time.Hour), daily, noCatchUp, never)
	h.start()

	h.fire() // 08:00 plain
	h.wantOutcome("plain", schedule.OutcomePosted)
	h.takePost()
	h.fire() // 09:00 daily
	h.wantOutcome("daily", schedule.OutcomePosted)
	if p := h.takePost(); p.p.CatchUp {
		t.Fatal("a run on time says catch-up")
	}

	// Down from Monday 09:30 to Thursday 10:00: daily missed Tue, Wed and
	// Thu 09:00 and plain three 08:00 runs; weekly never ran.
	h.restart(monday9.Add(3*24*time.Hour + time.Hour))
	h.wantOutcome("daily", schedule.OutcomePosted)
	p := h.takePost()
	if p.id != "daily" || !p.p.CatchUp {
		t.Fatalf("after the downtime posted %+v, want one catch-up of daily", p)
	}
	// Nothing else runs before the next due time: Friday 08:00.
	if due := h.waitDue(); !due.Equal(monday9.Add(4*24*time.Hour - time.Hour)) {
		t.Fatalf("next due %s, want Friday 08:00", due)
	}
	h.noPost()
	if n := h.runner.runs["daily"]; n != 2 {
		t.Fatalf("daily ran %d times, want 2 (one on time, one catch-up)", n)
	}

	// A restart before the next due time catches nothing up.
	h.restart(monday9.Add(3*24*time.Hour + 2*time.Hour))
	h.waitDue()
	h.noPost()
	select {
	case o := <-h.outcomes:
		t.Fatalf("a restart with nothing missed ran %v", o)
	default:
	}
}

// Chat-defined schedules survive a restart: after the file is closed and
// reopened, a new Scheduler lists them and fires them, and `changed`
// compares with the result posted before the restart.
func TestChatSchedulesSurviveRestart(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, monday9.Add(time.Minute), hourly("config-status", schedule.WhenAlways))
	h.start()
	added, err := h.sched.Add(ctx, schedule.Schedule{Spec: "30 * * * *", TZ: "Europe/Berlin", Platform: "slack",
		Channel: "C2", What: schedule.WhatBBM, When: schedule.WhenChanged, CreatedBy: "U1"})
	if err != nil {
		t.Fatal(err)
	}
	if added.ID != "s1" || added.Source != schedule.SourceChat || !added.CreatedAt.Equal(h.clock.Now()) {
		t.Fatalf("added %+v", added)
	}
	// It is scheduled at once: 09:30 comes before the config one's 10:00.
	h.clock.MustWaitDue(t, monday9.Add(30*time.Minute))
	h.clock.Set(monday9.Add(30 * time.Minute))
	h.wantOutcome("s1", schedule.OutcomePosted)
	h.takePost()

	h.restart(monday9.Add(35 * time.Minute))
	list, err := h.sched.List(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].Schedule.ID != "config-status" || list[1].Schedule.ID != "s1" {
		t.Fatalf("List after restart = %+v, want config-status then s1", list)
	}
	s1 := list[1]
	if s1.Schedule.Source != schedule.SourceChat || s1.Schedule.What != schedule.WhatBBM || !s1.HasLast || !s1.Last.Posted ||
		!s1.Next.Equal(monday9.Add(90*time.Minute)) || s1.Next.Location().String() != "Europe/Berlin" {
		t.Fatalf("s1 after restart = %+v", s1)
	}
	if list[0].HasLast || !list[0].Next.Equal(monday9.Add(time.Hour)) {
		t.Fatalf("config-status after restart = %+v", list[0])
	}
	h.fire() // 10:00 config-status
	h.wantOutcome("config-status", schedule.OutcomePosted)
	h.takePost()
	h.fire() // 10:30 s1: the same result as posted before the restart
	h.wantOutcome("s1", schedule.OutcomeSilent)
	h.noPost()
}

// Add refuses what Validate refuses, and stores nothing.
func TestAddRefusesDestructive(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, monday9)
	for _, what := range []string{"migrate", "finalize", "restart"} {
		_, err := h.sched.Add(ctx, schedule.Schedule{Spec: "@hourly", Platform: "slack", Channel: "C1", What: what})
		if !errors.Is(err, schedule.ErrInvalid) || !strings.Contains(err.Error(), "a schedule can never run "+what+": it needs a second person's approval") {
			t.Errorf("Add(%s) = %v", what, err)
		}
	}
	if all, err := h.db.Schedules(ctx); err != nil || len(all) != 0 {
		t.Fatalf("stored after refusals: %v, %v", all, err)
	}
}

// The configuration's schedules are checked whole at start.
func TestNewRefusesBadConfig(t *testing.T) {
	h := newHarness(t, monday9)
	_, err := schedule.New(schedule.Config{Store: h.db, Runner: h.runner, Whats: whats, Schedules: []schedule.Schedule{
		{ID: "nightly", Spec: "0 2 * * *", Platform: "slack", Channel: "C1", What: "migrate"},
		{ID: "s1", Spec: "0 2 * * *", Platform: "slack", Channel: "C1", What: "status"},
		{ID: "twice", Spec: "0 2 * * *", Platform: "slack", Channel: "C1", What: "status"},
		{ID: "twice", Spec: "0 3 * * *", Platform: "slack", Channel: "C1", What: "status"},
	}})
	for _, want := range []string{
		"schedule nightly: a schedule can never run migrate",
		`schedule id "s1" has the form of the ids given to schedules added from chat`,
		"schedule twice is defined twice",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("New = %v, want it to say %q", err, want)
		}
	}
}

// Remove deletes a chat schedule and unschedules it; a configured one is
// refused, an unknown one is not found.
func TestRemove(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, monday9.Add(time.Minute), hourly("status", schedule.WhenAlways))
	h.start()
	s, err := h.sched.Add(ctx, schedule.Schedule{Spec: "30 * * * *", Platform: "slack", Channel: "C1", What: schedule.WhatServices})
	if err != nil {
		t.Fatal(err)
	}
	h.clock.MustWaitDue(t, monday9.Add(30*time.Minute))
	if err := h.sched.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	// The loop re-arms for the configured schedule only.
	h.clock.MustWaitDue(t, monday9.Add(time.Hour))
	h.clock.Set(monday9.Add(time.Hour))
	h.wantOutcome("status", schedule.OutcomePosted)

	err = h.sched.Remove(ctx, "status")
	if !errors.Is(err, schedule.ErrReadOnly) || err.Error() != "schedule status is defined in the configuration file; remove it there" {
		t.Errorf("Remove(config) = %v", err)
	}
	if err := h.sched.Remove(ctx, s.ID); !errors.Is(err, schedule.ErrNotFound) {
		t.Errorf("Remove(removed) = %v, want ErrNotFound", err)
	}
}

// RunNow runs at once and posts whatever `when` says, marked manual; an
// unknown ID is not found.
func TestRunNow(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, monday9, hourly("status", schedule.WhenChanged))
	for range 2 {
		if err := h.sched.RunNow(ctx, "status"); err != nil {
			t.Fatal(err)
		}
		h.wantOutcome("status", schedule.OutcomePosted)
		if p := h.takePost(); !p.p.Manual || p.p.CatchUp {
			t.Fatalf("RunNow posted %+v, want manual", p.p)
		}
	}
	if err := h.sched.RunNow(ctx, "nope"); !errors.Is(err, schedule.ErrNotFound) {
		t.Fatalf("RunNow(unknown) = %v", err)
	}
}

// A second Run while one runs is refused: it would fire everything twice.
func TestRunTwiceRefused(t *testing.T) {
	h := newHarness(t, monday9, hourly("status", schedule.WhenAlways))
	h.start()
	h.waitDue() // the first Run is looping
	if err := h.sched.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "already running") {
		t.Fatalf("second Run = %v", err)
	}
}

// A slow run of one schedule delays no other, and its own runs never
// overlap: a due time that finds it still running is skipped.
func TestSlowRunDelaysNothingAndNeverOverlaps(t *testing.T) {
	ctx := context.Background()
	slow := hourly("slow", schedule.WhenAlways)
	fast := hourly("fast", schedule.WhenAlways)
	fast.Spec = "30 * * * *"
	h := newHarness(t, monday9.Add(time.Minute), slow, fast)
	release := make(chan struct{})
	h.runner.hold["slow"] = release
	h.start()

	h.fire() // 09:30 fast
	h.wantOutcome("fast", schedule.OutcomePosted)
	h.fire() // 10:00 slow starts and hangs
	h.fire() // 10:30 fast still runs
	h.wantOutcome("fast", schedule.OutcomePosted)
	if err := h.sched.RunNow(ctx, "slow"); !errors.Is(err, schedule.ErrBusy) {
		t.Fatalf("RunNow while running = %v, want ErrBusy", err)
	}
	list, err := h.sched.List(ctx)
	if err != nil || !list[1].Running || list[1].Schedule.ID != "slow" {
		t.Fatalf("List while slow runs = %+v, %v", list, err)
	}
	h.fire() // 11:00 slow is due again while still running
	h.wantOutcome("slow", schedule.OutcomeSkipped)
	close(release)
	h.wantOutcome("slow", schedule.OutcomePosted)
	if n := h.runner.runs["slow"]; n != 1 {
		t.Fatalf("slow ran %d times, want 1", n)
	}
}
