// Package scheduletest helps test package schedule and the packages that
// use it: a manual Clock on which the Scheduler waits without any test
// sleeping (wait for it to arm a timer, then move the clock), and
// RunStoreSuite, the contract every schedule.Store backend passes.
package scheduletest

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// Clock is a schedule.Clock that moves only when told (Advance, Set).
// Timers fire, in order of their deadlines, when the clock reaches them.
// It is safe for concurrent use.
type Clock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*timer
	// changed is closed and replaced whenever the set of timers changes,
	// so that WaitTimers can wait for the code under test to arm one.
	changed chan struct{}
}

var _ schedule.Clock = (*Clock)(nil)

// NewClock returns a Clock reading t.
func NewClock(t time.Time) *Clock {
	return &Clock{now: t, changed: make(chan struct{})}
}

type timer struct {
	c    *Clock
	at   time.Time
	ch   chan time.Time
	done bool
}

// Now is the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

// NewTimer arms a timer d from now; d <= 0 fires at once.
func (c *Clock) NewTimer(d time.Duration) schedule.Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &timer{c: c, at: c.now.Add(d), ch: make(chan time.Time, 1)}
	if d <= 0 {
		t.done = true
		t.ch <- c.now
		return t
	}
	c.timers = append(c.timers, t)
	c.notify()
	return t
}

func (t *timer) C() <-chan time.Time { return t.ch }

func (t *timer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	if t.done {
		return false
	}
	t.done = true
	t.c.timers = slices.DeleteFunc(t.c.timers, func(x *timer) bool { return x == t })
	t.c.notify()
	return true
}

// notify wakes WaitTimers; c.mu is held.
func (c *Clock) notify() {
	close(c.changed)
	c.changed = make(chan struct{})
}

// Advance moves the clock d forward and fires the timers it reaches.
func (c *Clock) Advance(d time.Duration) { c.Set(c.Now().Add(d)) }

// Set moves the clock to t (never backwards) and fires the timers it
// reaches.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if t.After(c.now) {
		c.now = t
	}
	kept := c.timers[:0]
	fired := false
	for _, x := range c.timers {
		if x.at.After(c.now) {
			kept = append(kept, x)
			continue
		}
		x.done = true
		x.ch <- c.now
		fired = true
	}
	c.timers = kept
	if fired {
		c.notify()
	}
}

// Timers returns the deadlines of the armed timers, earliest first.
func (c *Clock) Timers() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.deadlines()
}

// deadlines: c.mu is held.
func (c *Clock) deadlines() []time.Time {
	out := make([]time.Time, 0, len(c.timers))
	for _, x := range c.timers {
		out = append(out, x.at)
	}
	slices.SortFunc(out, func(a, b time.Time) int { return a.Compare(b) })
	return out
}

// WaitTimers waits until exactly n timers are armed (the code under test
// is waiting on the clock) and returns their deadlines, earliest first.
func (c *Clock) WaitTimers(ctx context.Context, n int) ([]time.Time, error) {
	return c.WaitUntil(ctx, fmt.Sprintf("%d armed timers", n), func(ts []time.Time) bool { return len(ts) == n })
}

// WaitUntil waits until the deadlines of the armed timers, earliest
// first, satisfy cond, and returns them; what names the wait in the error.
// Use it when the code under test may still be replacing a timer (it was
// told the schedules changed).
func (c *Clock) WaitUntil(ctx context.Context, what string, cond func(deadlines []time.Time) bool) ([]time.Time, error) {
	for {
		c.mu.Lock()
		ts := c.deadlines()
		changed := c.changed
		c.mu.Unlock()
		if cond(ts) {
			return ts, nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return nil, fmt.Errorf("waiting for %s (armed: %v): %w", what, ts, ctx.Err())
		}
	}
}

// MustWaitTimers is WaitTimers for a test: it fails t after 10 s (a
// deadlock guard, not a timing assumption).
func (c *Clock) MustWaitTimers(t testing.TB, n int) []time.Time {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ts, err := c.WaitTimers(ctx, n)
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// MustWaitDue waits until the one armed timer is due at `at` (a deadlock
// guard of 10 s fails t).
func (c *Clock) MustWaitDue(t testing.TB, at time.Time) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := c.WaitUntil(ctx, "one timer due at "+at.String(), func(ts []time.Time) bool {
		return len(ts) == 1 && ts[0].Equal(at)
	}); err != nil {
		t.Fatal(err)
	}
}
