package schedule

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/leader"
)

// MaxChatSchedules bounds how many schedules can be added from chat.
const MaxChatSchedules = 100

// retryStore is how long the loop waits after its Store failed to list
// the schedules before it tries again.
const retryStore = time.Minute

// finishTimeout bounds posting and storing a run's result once the run is
// done; they run on a context the end of leadership does not cancel, so a
// finished run's post and its record are not torn apart.
const finishTimeout = 30 * time.Second

// Outcomes of a run, as the Observe hook receives them.
const (
	// OutcomePosted: the result was posted.
	OutcomePosted = "posted"
	// OutcomeSilent: the run's `when` did not post it.
	OutcomeSilent = "silent"
	// OutcomeFailed: the run itself failed (agent unreachable, rake
	// aborted), whether or not that was posted.
	OutcomeFailed = "failed"
	// OutcomeError: the bot could not post or record the result.
	OutcomeError = "error"
	// OutcomeSkipped: the schedule came due while its previous run was
	// still going; runs of one schedule never overlap.
	OutcomeSkipped = "skipped"
)

// Config is what a Scheduler is built from.
type Config struct {
	// Schedules are the configuration file's; each needs an ID
	// (CheckConfigID). Their Source is set to SourceConfig.
	Schedules []Schedule
	// Hosts are the configured host names (a schedule's Host must be one,
	// AllHosts or empty).
	Hosts []string
	// Whats are what a schedule may run, as the Runner knows them
	// (commands.ScheduleWhats). ReadOnly is required.
	Whats Whats
	// Store keeps chat-defined schedules and results. Required.
	Store Store
	// Runner runs and posts. Required.
	Runner Runner
	// Leadership gates the loop (Run); nil is leader.Always.
	Leadership leader.Leadership
	// Claims keep runs of one schedule from overlapping and a due time
	// from firing twice; nil is NewMemoryClaims (one process). Replicas
	// share theirs (storage/etcd.ScheduleClaims).
	Claims Claims
	// Clock: nil is the system clock.
	Clock Clock
	// Logger: nil discards.
	Logger *slog.Logger
	// Observe, when set, is called after every run (and every skipped
	// one) with its outcome, one of the Outcome* constants.
	Observe func(s Schedule, outcome string)
}

// Scheduler fires schedules when due, decides whether to post their
// results and keeps the results. It is safe for concurrent use: chat calls
// List, Add, Remove and RunNow while Run loops.
//
// Invariants:
//   - Runs of one schedule never overlap, across the replicas sharing
//     Claims: a schedule is claimed before its run starts (by the loop or
//     RunNow) and released after its result is stored; a due time that
//     finds it claimed is skipped.
//   - A due time fires at most once across those replicas: the loop
//     claims the tick (Claims.ClaimTick) before it claims the run, so a
//     new leader, or one whose clock lags, never fires a tick the old
//     leader fired, nor catches up a run the old leader is making.
//   - A run never delays another schedule: each run has its own goroutine.
//   - Only the leader fires schedules (Run); RunNow, Add and Remove work
//     on every replica, through the Store.
type Scheduler struct {
	config  []Schedule // validated, sorted by ID
	timings map[string]Timing
	hosts   []string
	whats   Whats
	store   Store
	runner  Runner
	leader  leader.Leadership
	clock   Clock
	log     *slog.Logger
	observe func(Schedule, string)

	// wake tells the loop the set of schedules changed (capacity 1).
	wake chan struct{}
	// looping is set while Run runs.
	looping atomic.Bool

	claims Claims
}

// New checks the configuration's schedules and returns a Scheduler. The
// error lists every problem, each naming its schedule.
func New(cfg Config) (*Scheduler, error) {
	if cfg.Store == nil || cfg.Runner == nil {
		return nil, errors.New("schedule.New: a Store and a Runner are required")
	}
	if len(cfg.Whats.ReadOnly) == 0 {
		return nil, errors.New("schedule.New: Whats.ReadOnly is empty: the Runner's read-only subcommands are required")
	}
	s := &Scheduler{
		timings: make(map[string]Timing),
		hosts:   slices.Clone(cfg.Hosts),
		whats:   cfg.Whats,
		store:   cfg.Store,
		runner:  cfg.Runner,
		leader:  cfg.Leadership,
		clock:   cfg.Clock,
		log:     cfg.Logger,
		observe: cfg.Observe,
		wake:    make(chan struct{}, 1),
		claims:  cfg.Claims,
	}
	if s.claims == nil {
		s.claims = NewMemoryClaims()
	}
	if s.leader == nil {
		s.leader = leader.Always{}
	}
	if s.clock == nil {
		s.clock = SystemClock{}
	}
	if s.log == nil {
		s.log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	var errs []error
	for _, c := range cfg.Schedules {
		c.Source = SourceConfig
		if c.When == "" {
			c.When = WhenAlways
		}
		if err := CheckConfigID(c.ID); err != nil {
			errs = append(errs, err)
			continue
		}
		if _, dup := s.timings[c.ID]; dup {
			errs = append(errs, fmt.Errorf("schedule %s is defined twice in the configuration: give each an id of its own: %w", c.ID, ErrInvalid))
			continue
		}
		t, err := Validate(c, s.hosts, s.whats)
		if err != nil {
			errs = append(errs, fmt.Errorf("schedule %s: %w", c.ID, err))
			continue
		}
		s.timings[c.ID] = t
		s.config = append(s.config, c)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.SortFunc(s.config, func(a, b Schedule) int { return compareIDs(a.ID, b.ID) })
	return s, nil
}

// planned is a schedule with its timing, or why it cannot run.
type planned struct {
	s   Schedule
	t   Timing
	err error
}

// schedules lists the configuration's schedules (sorted) then the
// Store's (by ID). A stored schedule that no longer validates (its host
// was removed from the configuration) is listed with the reason.
func (s *Scheduler) schedules(ctx context.Context) ([]planned, error) {
	stored, err := s.store.Schedules(ctx)
	if err != nil {
		return nil, fmt.Errorf("list chat-defined schedules: %w", err)
	}
	out := s.configured()
	slices.SortFunc(stored, func(a, b Schedule) int { return compareIDs(a.ID, b.ID) })
	for _, c := range stored {
		if _, clash := s.timings[c.ID]; clash {
			// CheckConfigID keeps the two name spaces apart; a clash means
			// a damaged store, and the configuration wins.
			s.log.Warn("schedule: a stored schedule has the id of a configured one; ignoring it", "schedule", c.ID)
			continue
		}
		c.Source = SourceChat
		if c.When == "" {
			c.When = WhenAlways
		}
		t, err := Validate(c, s.hosts, s.whats)
		if err != nil {
			err = fmt.Errorf("schedule %s cannot run: %w; remove it with `schedules remove %s` and add it again", c.ID, err, c.ID)
		}
		out = append(out, planned{s: c, t: t, err: err})
	}
	return out, nil
}

// configured lists the configuration's schedules, sorted.
func (s *Scheduler) configured() []planned {
	out := make([]planned, 0, len(s.config))
	for _, c := range s.config {
		out = append(out, planned{s: c, t: s.timings[c.ID]})
	}
	return out
}

// find returns the schedule named id.
func (s *Scheduler) find(ctx context.Context, id string) (planned, error) {
	all, err := s.schedules(ctx)
	if err != nil {
		// A configured schedule does not depend on the Store's list (the
		// loop keeps firing it too).
		if _, ok := s.timings[id]; !ok {
			return planned{}, err
		}
		all = s.configured()
	}
	for _, p := range all {
		if p.s.ID == id {
			return p, nil
		}
	}
	return planned{}, &userError{kind: ErrNotFound, msg: fmt.Sprintf("there is no schedule %q: `schedules` lists them with their ids", id)}
}

// claim takes id's run claim: a release (which logs its own failure),
// or false when a run holds it already. An error means it could not
// tell; the caller does not run.
func (s *Scheduler) claim(ctx context.Context, id string) (func(), bool, error) {
	release, ok, err := s.claims.Claim(ctx, id)
	if err != nil || !ok {
		return nil, false, err
	}
	return func() {
		// Not cut short by the end of leadership: a claim left behind
		// would hold the schedule until this replica's lease ended.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
		defer cancel()
		if err := release(rctx); err != nil {
			s.log.Error("schedule: cannot release the run claim; it ends with this replica's lease", "schedule", id, "error", err)
		}
	}, true, nil
}

// poke wakes the loop to re-read the schedules.
func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// emit tells Observe a run's outcome; a run stopped by ctx has none.
func (s *Scheduler) emit(sc Schedule, outcome string) {
	if s.observe != nil && outcome != "" {
		s.observe(sc, outcome)
	}
}

// compareIDs orders IDs naturally: s2 before s10.
func compareIDs(a, b string) int {
	ap, an := splitNumber(a)
	bp, bn := splitNumber(b)
	if c := strings.Compare(ap, bp); c != 0 {
		return c
	}
	return cmp.Or(cmp.Compare(an, bn), strings.Compare(a, b))
}

// splitNumber splits a trailing decimal number off id (-1 when none).
func splitNumber(id string) (string, int) {
	i := len(id)
	for i > 0 && id[i-1] >= '0' && id[i-1] <= '9' {
		i--
	}
	n, err := strconv.Atoi(id[i:])
	if err != nil {
		return id, -1
	}
	return id[:i], n
}
