package schedule_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// A post that fails leaves the result stored but not posted, so `changed`
// posts it at the next run.
func TestFailedPostIsPostedNextTime(t *testing.T) {
	h := newHarness(t, monday9.Add(time.Minute), hourly("status", schedule.WhenChanged))
	h.runner.postErr["status"] = errors.New("slack: channel_not_found")
	h.start()
	h.fire()
	h.wantOutcome("status", schedule.OutcomeError)
	last, posted, ok, err := h.db.LastResult(context.Background(), "status")
	if err != nil || !ok || last.Posted || posted.Posted {
		t.Fatalf("after a failed post: last %+v posted %+v ok %v err %v", last, posted, ok, err)
	}
	h.runner.mu.Lock()
	delete(h.runner.postErr, "status")
	h.runner.mu.Unlock()
	h.fire()
	h.wantOutcome("status", schedule.OutcomePosted)
	h.takePost()
}

// A Runner that fails without a way to post: the failure is stored, the
// outcome is an error, and RunNow returns the Runner's sentence.
func TestRunnerErrorWithoutPost(t *testing.T) {
	h := newHarness(t, monday9, hourly("status", schedule.WhenAlways))
	h.runner.errs["status"] = errUnknownHost
	h.runner.noPost["status"] = true
	err := h.sched.RunNow(context.Background(), "status")
	if !errors.Is(err, errUnknownHost) {
		t.Fatalf("RunNow = %v, want the Runner's error", err)
	}
	h.wantOutcome("status", schedule.OutcomeError)
	last, _, ok, _ := h.db.LastResult(context.Background(), "status")
	if !ok || !last.Failed || last.Reason != errUnknownHost.Error() {
		t.Fatalf("stored %+v", last)
	}
}

// A chat-defined schedule whose host left the configuration is listed
// with the reason and what to do, is not fired, and RunNow refuses it.
func TestStoredScheduleThatNoLongerValidates(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, monday9.Add(time.Minute), hourly("status", schedule.WhenAlways))
	if _, err := h.sched.Add(ctx, schedule.Schedule{Spec: "30 * * * *", Platform: "slack", Channel: "C1",
		What: schedule.WhatStatus, Host: "gitlab-1"}); err != nil {
		t.Fatal(err)
	}
	h.hosts = []string{"gitlab-2"}
	h.restart(monday9.Add(2 * time.Minute))
	list, err := h.sched.List(ctx)
	if err != nil || len(list) != 2 {
		t.Fatalf("List = %+v, %v", list, err)
	}
	if p := list[1].Problem; !strings.Contains(p, `unknown host "gitlab-1"`) || !strings.Contains(p, "remove it with `schedules remove s1`") || !list[1].Next.IsZero() {
		t.Fatalf("s1 listed as %+v", list[1])
	}
	if err := h.sched.RunNow(ctx, "s1"); !errors.Is(err, schedule.ErrInvalid) {
		t.Fatalf("RunNow(s1) = %v, want ErrInvalid", err)
	}
	// Only the configured schedule is waited for: 10:00, not 09:30.
	if due := h.waitDue(); !due.Equal(monday9.Add(time.Hour)) {
		t.Fatalf("due %s, want 10:00", due)
	}
}

// failingList is a Store whose Schedules fails while fail is set.
type failingList struct {
	schedule.Store
	fail atomic.Bool
}

func (f *failingList) Schedules(ctx context.Context) ([]schedule.Schedule, error) {
	if f.fail.Load() {
		return nil, errors.New("disk on fire")
	}
	return f.Store.Schedules(ctx)
}

// While the Store cannot list chat-defined schedules, the configured ones
// still fire, and the loop tries the Store again.
func TestStoreFailureKeepsConfiguredSchedules(t *testing.T) {
	var store *failingList
	wrap := func(s schedule.Store) schedule.Store {
		store = &failingList{Store: s}
		store.fail.Store(true)
		return store
	}
	h := newHarnessWith(t, monday9.Add(30*time.Minute), wrap, nil, hourly("status", schedule.WhenAlways))
	h.start()
	// The retry comes every minute; the configured schedule still fires at
	// 10:00.
	retries := 0
	for due := h.fire(); !due.Equal(monday9.Add(time.Hour)); due = h.fire() {
		if want := monday9.Add(time.Duration(31+retries) * time.Minute); !due.Equal(want) {
			t.Fatalf("woke at %s, want the retry at %s", due, want)
		}
		retries++
	}
	h.wantOutcome("status", schedule.OutcomePosted)
	if retries != 29 {
		t.Fatalf("%d retries between 09:30 and 10:00, want 29", retries)
	}
	// Once the Store answers, a schedule added meanwhile is scheduled.
	store.fail.Store(false)
	if _, err := h.sched.Add(context.Background(), schedule.Schedule{Spec: "5 10 * * *", Platform: "slack", Channel: "C1", What: schedule.WhatBBM}); err != nil {
		t.Fatal(err)
	}
	h.clock.MustWaitDue(t, monday9.Add(65*time.Minute))
}

// A chat schedule removed while it runs: the run finishes and posts, but
// its result is not stored again under the removed ID (no orphaned
// record that nothing would ever delete).
func TestRemoveDuringRunKeepsNoResult(t *testing.T) {
	ctx := context.Background()
	h := newHarness(t, monday9.Add(time.Minute))
	s, err := h.sched.Add(ctx, schedule.Schedule{Spec: "30 * * * *", Platform: "slack", Channel: "C1", What: schedule.WhatStatus})
	if err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	h.runner.hold[s.ID] = release
	h.start()
	h.fire()    // 09:30: s1 starts and is held
	h.waitDue() // the loop has started it and waits for 10:30
	if err := h.sched.Remove(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	close(release)
	h.wantOutcome(s.ID, schedule.OutcomePosted)
	h.takePost()
	if _, _, ok, err := h.db.LastResult(ctx, s.ID); ok || err != nil {
		t.Fatalf("a result of the removed %s was stored: ok=%v err=%v", s.ID, ok, err)
	}
	// Nothing is due any more.
	h.clock.MustWaitTimers(t, 0)
}

// While the Store cannot list chat-defined schedules, a configured one
// still runs by hand (as it still fires); a chat one gets the Store's
// error.
func TestRunNowConfiguredWhileStoreFails(t *testing.T) {
	ctx := context.Background()
	var store *failingList
	wrap := func(s schedule.Store) schedule.Store {
		store = &failingList{Store: s}
		store.fail.Store(true)
		return store
	}
	h := newHarnessWith(t, monday9, wrap, nil, hourly("status", schedule.WhenAlways))
	if err := h.sched.RunNow(ctx, "status"); err != nil {
		t.Fatalf("RunNow(configured) while the Store fails = %v", err)
	}
	h.wantOutcome("status", schedule.OutcomePosted)
	if p := h.takePost(); !p.p.Manual {
		t.Fatalf("posted %+v, want a run by hand", p.p)
	}
	if err := h.sched.RunNow(ctx, "s1"); err == nil || errors.Is(err, schedule.ErrNotFound) {
		t.Fatalf("RunNow(s1) while the Store fails = %v, want the Store's error, not 'no such schedule'", err)
	}
}
