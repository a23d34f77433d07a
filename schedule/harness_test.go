package schedule_test

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/leader"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/schedule/scheduletest"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// guard bounds every wait of a test: a deadlock guard, not a timing
// assumption (the clock is manual; nothing here sleeps).
const guard = 10 * time.Second

// post is one PostFunc call of the fake runner.
type post struct {
	id string
	r  schedule.Result
	p  schedule.Post
}

// fakeRunner returns scripted results per schedule (the last one
// repeats), records posts, and can hold a schedule's runs until released.
type fakeRunner struct {
	mu      sync.Mutex
	results map[string][]schedule.Result
	errs    map[string]error
	postErr map[string]error
	noPost  map[string]bool
	hold    map[string]chan struct{}
	runs    map[string]int
	posts   chan post
}

func newRunner() *fakeRunner {
	return &fakeRunner{results: map[string][]schedule.Result{}, errs: map[string]error{},
		postErr: map[string]error{}, noPost: map[string]bool{},
		hold: map[string]chan struct{}{}, runs: map[string]int{}, posts: make(chan post, 100)}
}

func (f *fakeRunner) script(id string, rs ...schedule.Result) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.results[id] = rs
}

func (f *fakeRunner) Run(ctx context.Context, s schedule.Schedule) (schedule.Result, schedule.PostFunc, error) {
	f.mu.Lock()
	hold := f.hold[s.ID]
	f.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return schedule.Result{}, nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.runs[s.ID]++
	r := schedule.Result{Facts: map[string]string{"main": "all up"}}
	if rs := f.results[s.ID]; len(rs) > 0 {
		r = rs[0]
		if len(rs) > 1 {
			f.results[s.ID] = rs[1:]
		}
	}
	postErr := f.postErr[s.ID]
	postFn := func(ctx context.Context, p schedule.Post) error {
		if postErr != nil {
			return postErr
		}
		f.posts <- post{id: s.ID, r: r, p: p}
		return nil
	}
	if f.noPost[s.ID] {
		postFn = nil
	}
	return r, postFn, f.errs[s.ID]
}

// harness is a Scheduler on a manual clock over a real bbolt file.
type harness struct {
	t        *testing.T
	clock    *scheduletest.Clock
	path     string
	db       *storage.DB
	runner   *fakeRunner
	outcomes chan [2]string // schedule ID, outcome
	config   []schedule.Schedule
	// hosts, leadership and wrap (of the Store) are read at each open.
	hosts      []string
	leadership leader.Leadership
	wrap       func(schedule.Store) schedule.Store
	sched      *schedule.Scheduler
	stop       func()
}

func newHarness(t *testing.T, now time.Time, config ...schedule.Schedule) *harness {
	return newHarnessWith(t, now, nil, leader.Always{}, config...)
}

// newHarnessWith is newHarness with the Store wrapped (wrap may be nil)
// and another Leadership.
func newHarnessWith(t *testing.T, now time.Time, wrap func(schedule.Store) schedule.Store, lead leader.Leadership, config ...schedule.Schedule) *harness {
	h := &harness{t: t, clock: scheduletest.NewClock(now), path: filepath.Join(t.TempDir(), "chatops.db"),
		runner: newRunner(), outcomes: make(chan [2]string, 100), config: config,
		hosts: []string{"gitlab-1"}, leadership: lead, wrap: wrap}
	h.open()
	t.Cleanup(h.close)
	return h
}

// open opens the database and builds a Scheduler on it, as a start of
// the bot does.
func (h *harness) open() {
	h.t.Helper()
	db, err := storage.Open(h.path, storage.Options{AuditKey: approvalstest.Key})
	if err != nil {
		h.t.Fatal(err)
	}
	h.db = db
	var store schedule.Store = db
	if h.wrap != nil {
		store = h.wrap(db)
	}
	h.sched, err = schedule.New(schedule.Config{
		Schedules: h.config, Hosts: h.hosts, Whats: whats, Store: store, Runner: h.runner,
		Leadership: h.leadership, Clock: h.clock,
		Observe: func(s schedule.Schedule, outcome string) { h.outcomes <- [2]string{s.ID, outcome} },
	})
	if err != nil {
		h.t.Fatal(err)
	}
}

// start runs the Scheduler's loop until stop.
func (h *harness) start() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- h.sched.Run(ctx) }()
	h.stop = func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				h.t.Errorf("Run = %v, want nil after its context ended", err)
			}
		case <-time.After(guard):
			h.t.Error("Run did not return after its context ended")
		}
		h.stop = nil
	}
}

// close stops the loop and closes the database, as a stop of the bot does.
func (h *harness) close() {
	if h.stop != nil {
		h.stop()
	}
	if h.db != nil {
		_ = h.db.Close()
		h.db = nil
	}
}

// restart stops the bot, moves the clock to `at` while it is down, and
// starts it again on the same file.
func (h *harness) restart(at time.Time) {
	h.close()
	h.clock.Set(at)
	h.open()
	h.start()
}

// waitDue waits until the loop waits for exactly one time, and returns it.
func (h *harness) waitDue() time.Time {
	h.t.Helper()
	return h.clock.MustWaitTimers(h.t, 1)[0]
}

// fire moves the clock to the next due time and returns it.
func (h *harness) fire() time.Time {
	h.t.Helper()
	due := h.waitDue()
	h.clock.Set(due)
	return due
}

// outcome waits for the next run's outcome.
func (h *harness) outcome() (id, outcome string) {
	h.t.Helper()
	select {
	case o := <-h.outcomes:
		return o[0], o[1]
	case <-time.After(guard):
		h.t.Fatal("no run finished")
		return "", ""
	}
}

// wantOutcome waits for the next outcome and checks it.
func (h *harness) wantOutcome(id, outcome string) {
	h.t.Helper()
	gotID, got := h.outcome()
	if gotID != id || got != outcome {
		h.t.Fatalf("run of %s: %s; want %s: %s", gotID, got, id, outcome)
	}
}

// takePost returns the post the last run made; it fails if there is none.
func (h *harness) takePost() post {
	h.t.Helper()
	select {
	case p := <-h.runner.posts:
		return p
	default:
		h.t.Fatal("nothing was posted")
		return post{}
	}
}

// noPost checks nothing was posted.
func (h *harness) noPost() {
	h.t.Helper()
	select {
	case p := <-h.runner.posts:
		h.t.Fatalf("posted %+v, want silence", p)
	default:
	}
}

var errUnknownHost = errors.New("host gitlab-1 is no longer configured")
