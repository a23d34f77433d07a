package schedule

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Run fires schedules as they come due, while this process is leader
// (Leadership.RunWhileLeader), until ctx ends; it returns nil then, after
// the runs in progress have finished. Each time leadership is gained it
// first catches up (CatchUp schedules that missed a run).
// Run may be called once at a time: a second concurrent call is refused,
// as it would fire every schedule twice.
func (s *Scheduler) Run(ctx context.Context) error {
	if !s.looping.CompareAndSwap(false, true) {
		return errors.New("schedule: the Scheduler is already running")
	}
	defer s.looping.Store(false)
	err := s.leader.RunWhileLeader(ctx, s.loop)
	if ctx.Err() != nil {
		return nil
	}
	return err
}

// loop is one term of leadership.
func (s *Scheduler) loop(ctx context.Context) {
	var wg sync.WaitGroup
	defer wg.Wait()
	s.log.Info("schedule: scheduler started", "configured", len(s.config))
	defer s.log.Info("schedule: scheduler stopped")

	caughtUp := false
	// next is each schedule's next due time, computed when the loop first
	// sees it: a schedule added while running is scheduled at once.
	next := make(map[string]time.Time)
	for {
		all, err := s.schedules(ctx)
		if ctx.Err() != nil {
			// Stopping (or leadership lost) before or while listing: that
			// is no failure of the Store, and nothing may start now.
			return
		}
		if err != nil {
			// The configuration's schedules do not depend on the Store.
			s.log.Error("schedule: cannot list the chat-defined schedules; running the configured ones, retrying", "retry_in", retryStore.String(), "error", err)
			all = s.configured()
		} else if !caughtUp {
			s.catchUp(ctx, &wg, all)
			caughtUp = true
		}
		wait := s.fireDue(ctx, &wg, all, next)
		if err != nil && (wait == 0 || wait > retryStore) {
			wait = retryStore
		}
		var timer Timer
		var fired <-chan time.Time
		if wait > 0 {
			timer = s.clock.NewTimer(wait)
			fired = timer.C()
		}
		select {
		case <-ctx.Done():
			if timer != nil {
				timer.Stop()
			}
			return
		case <-s.wake:
			if timer != nil {
				timer.Stop()
			}
		case <-fired:
		}
	}
}

// fireDue starts every schedule due by now and returns how long to wait
// for the next one (0: none is ever due).
func (s *Scheduler) fireDue(ctx context.Context, wg *sync.WaitGroup, all []planned, next map[string]time.Time) time.Duration {
	now := s.clock.Now()
	seen := make(map[string]bool, len(all))
	var earliest time.Time
	for _, p := range all {
		id := p.s.ID
		seen[id] = true
		if p.err != nil {
			continue
		}
		n, ok := next[id]
		if !ok {
			n = p.t.Next(now)
		}
		if !n.IsZero() && !n.After(now) {
			s.start(ctx, wg, p.s, Post{}, n)
			// From now, not from n: after a long stall (a suspended
			// machine) the missed times collapse into the run just started.
			n = p.t.Next(now)
		}
		next[id] = n
		if !n.IsZero() && (earliest.IsZero() || n.Before(earliest)) {
			earliest = n
		}
	}
	for id := range next {
		if !seen[id] {
			delete(next, id) // removed
		}
	}
	if earliest.IsZero() {
		return 0
	}
	return earliest.Sub(now)
}

// catchUp runs, once each, the CatchUp schedules whose last run is older
// than their latest due time: runs missed while the bot was down collapse
// into one. A schedule that never ran has nothing to catch up.
func (s *Scheduler) catchUp(ctx context.Context, wg *sync.WaitGroup, all []planned) {
	now := s.clock.Now()
	for _, p := range all {
		if !p.s.CatchUp || p.err != nil {
			continue
		}
		last, _, ok, err := s.store.LastResult(ctx, p.s.ID)
		if err != nil {
			s.log.Error("schedule: cannot read the last result; not catching up", "schedule", p.s.ID, "error", err)
			continue
		}
		if !ok {
			continue
		}
		// The latest due time missed stands for the run caught up (the
		// missed runs collapse into it): if another replica, the leader
		// before, fired it, it was not missed, and ClaimTick says so.
		due := lastDue(p.t, last.At, now)
		if due.IsZero() {
			continue
		}
		s.log.Info("schedule: catching up a run missed while the bot was down", "schedule", p.s.ID, "last_run", last.At)
		s.start(ctx, wg, p.s, Post{CatchUp: true}, due)
	}
}

// lastDue is the latest due time of t in (after, now], or zero when there
// is none. Timing only says what comes next, so it first finds a point
// shortly before now with a due time after it (looking back twice as far
// each time, never behind after), then walks forward: a few steps, not
// one per run missed during a long downtime.
func lastDue(t Timing, after, now time.Time) time.Time {
	d := t.Next(after)
	if d.IsZero() || d.After(now) {
		return time.Time{}
	}
	for w := time.Minute; now.Add(-w).After(after); w *= 2 {
		if n := t.Next(now.Add(-w)); !n.IsZero() && !n.After(now) {
			d = n // n is in (after, now], so no earlier than Next(after)
			break
		}
	}
	for {
		n := t.Next(d)
		if n.IsZero() || n.After(now) {
			return d
		}
		d = n
	}
}

// start runs sc's run due at due in its own goroutine, unless that due
// time was fired already (by another replica) or a run of sc is in
// progress.
func (s *Scheduler) start(ctx context.Context, wg *sync.WaitGroup, sc Schedule, p Post, due time.Time) {
	log := s.log.With("schedule", sc.ID, "due", due)
	fire, err := s.claims.ClaimTick(ctx, sc.ID, due)
	switch {
	case err != nil && ctx.Err() != nil:
		return // stopping, or leadership lost: nothing may start now
	case err != nil:
		// Firing without knowing could fire it twice.
		log.Error("schedule: cannot tell whether this run was started already; not starting it", "error", err)
		s.emit(sc, OutcomeError)
		return
	case !fire:
		log.Info("schedule: this run was started already (by another replica, or before a change of leader)")
		return
	}
	// Once claimed, the run starts even if ctx has just ended: runOnce
	// stops at once then, and the claim is released.
	release, ok, err := s.claim(ctx, sc.ID)
	switch {
	case err != nil && ctx.Err() != nil:
		return
	case err != nil:
		log.Error("schedule: cannot claim the run; not starting it", "error", err)
		s.emit(sc, OutcomeError)
		return
	case !ok:
		log.Warn("schedule: due while its previous run is still going; skipping this one")
		s.emit(sc, OutcomeSkipped)
		return
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		outcome, _ := s.runOnce(ctx, sc, p) // runOnce logs its errors
		release()
		s.emit(sc, outcome)
	}()
}
