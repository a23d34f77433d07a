package schedule_test

import (
	"context"
	"log/slog"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// handLeader is a Leadership the test hands out and takes back: each value
// sent on terms starts a term of leadership that ends when it is closed.
type handLeader struct {
	terms  chan chan struct{}
	ended  chan struct{} // receives when a term's fn has returned
	leader atomic.Bool
}

func (l *handLeader) IsLeader() bool { return l.leader.Load() }

func (l *handLeader) RunWhileLeader(ctx context.Context, fn func(context.Context)) error {
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case lost := <-l.terms:
			term, cancel := context.WithCancel(ctx)
			go func() {
				select {
				case <-lost:
				case <-term.Done():
				}
				cancel()
			}()
			l.leader.Store(true)
			fn(term)
			l.leader.Store(false)
			cancel()
			l.ended <- struct{}{}
		}
	}
}

// Only the leader fires schedules. Losing leadership stops the loop and
// cancels a run in progress (nothing is stored for it); regaining it
// catches up what was missed meanwhile, once.
func TestSchedulesRunOnlyWhileLeader(t *testing.T) {
	ctx := context.Background()
	lead := &handLeader{terms: make(chan chan struct{}), ended: make(chan struct{}, 1)}
	s := hourly("status", schedule.WhenAlways)
	s.CatchUp = true
	h := newHarnessWith(t, monday9.Add(time.Minute), nil, lead, s)
	h.start()

	// Not leader: nothing is scheduled, but chat can still run it.
	if ts := h.clock.Timers(); len(ts) != 0 {
		t.Fatalf("timers armed without leadership: %v", ts)
	}
	if err := h.sched.RunNow(ctx, "status"); err != nil {
		t.Fatal(err)
	}
	h.wantOutcome("status", schedule.OutcomePosted)
	h.takePost()

	term := make(chan struct{})
	lead.terms <- term
	h.fire() // 10:00
	h.wantOutcome("status", schedule.OutcomePosted)
	h.takePost()

	// A run hangs at 11:00 and leadership is lost meanwhile.
	release := make(chan struct{})
	h.runner.mu.Lock()
	h.runner.hold["status"] = release
	h.runner.mu.Unlock()
	h.fire()
	close(term)
	select {
	case <-lead.ended: // the loop, and with it the cancelled run, returned
	case <-time.After(guard):
		t.Fatal("the loop did not stop when leadership was lost")
	}
	if lead.IsLeader() || len(h.clock.Timers()) != 0 {
		t.Fatal("still scheduling after leadership was lost")
	}
	select {
	case o := <-h.outcomes:
		t.Fatalf("a cancelled run had an outcome: %v", o)
	default:
	}
	last, _, _, err := h.db.LastResult(ctx, "status")
	if err != nil || !last.At.Equal(monday9.Add(time.Hour)) {
		t.Fatalf("last result %+v, %v; want the 10:00 one (the cancelled run stores nothing)", last, err)
	}
	h.noPost()

	// Regained at 13:30: 11:00 (cancelled), 12:00 and 13:00 were missed.
	close(release)
	h.clock.Set(monday9.Add(4*time.Hour + 30*time.Minute))
	lead.terms <- make(chan struct{})
	h.wantOutcome("status", schedule.OutcomePosted)
	if p := h.takePost(); !p.p.CatchUp {
		t.Fatalf("after regaining leadership posted %+v, want a catch-up", p.p)
	}
	if due := h.waitDue(); !due.Equal(monday9.Add(5 * time.Hour)) {
		t.Fatalf("next due %s, want 14:00", due)
	}
	h.noPost()
}

// Run on a context that has already ended returns at once, runs nothing
// (not even a due catch-up) and logs no error: a stop that races the start
// is no failure of the Store.
func TestRunAfterContextEnd(t *testing.T) {
	s := hourly("status", schedule.WhenAlways)
	s.CatchUp = true
	h := newHarness(t, monday9.Add(time.Minute), s)
	if err := h.db.PutResult(context.Background(), "status", schedule.Result{At: monday9.Add(-24 * time.Hour), Posted: true}); err != nil {
		t.Fatal(err)
	}
	var logs strings.Builder
	sched, err := schedule.New(schedule.Config{Schedules: h.config, Hosts: h.hosts, Whats: whats, Store: h.db, Runner: h.runner,
		Clock: h.clock, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := sched.Run(ctx); err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	if strings.Contains(logs.String(), "level=ERROR") {
		t.Errorf("Run after its context ended logged an error:\n%s", logs.String())
	}
	if n := h.runner.runs["status"]; n != 0 || len(h.clock.Timers()) != 0 {
		t.Errorf("Run after its context ended ran %d times and left timers %v", n, h.clock.Timers())
	}
}
