package schedule

import (
	"context"
	"fmt"
	"time"
)

// Entry is one schedule as `schedules` lists it.
type Entry struct {
	Schedule Schedule
	// Next is when it is next due, in its zone; zero if never (or it
	// cannot run).
	Next time.Time
	// Last is its newest result; HasLast is false when it never ran.
	Last    Result
	HasLast bool
	// Running: a run is in progress (on any replica sharing the Claims).
	Running bool
	// Problem, when set, says why the schedule cannot run and what to do.
	Problem string
}

// List returns every schedule, the configuration's first, each group by
// ID (s2 before s10), with its next run and last result.
func (s *Scheduler) List(ctx context.Context) ([]Entry, error) {
	all, err := s.schedules(ctx)
	if err != nil {
		return nil, err
	}
	now := s.clock.Now()
	out := make([]Entry, 0, len(all))
	for _, p := range all {
		running, err := s.claims.Running(ctx, p.s.ID)
		if err != nil {
			return nil, fmt.Errorf("whether schedule %s is running: %w", p.s.ID, err)
		}
		e := Entry{Schedule: p.s, Running: running}
		if p.err != nil {
			e.Problem = p.err.Error()
		} else {
			e.Next = p.t.Next(now)
		}
		last, _, ok, err := s.store.LastResult(ctx, p.s.ID)
		if err != nil {
			return nil, fmt.Errorf("last result of schedule %s: %w", p.s.ID, err)
		}
		e.Last, e.HasLast = last, ok
		out = append(out, e)
	}
	return out, nil
}

// Add validates sc, stores it as a chat-defined schedule and schedules it
// at once. The Store assigns its ID; Add returns the stored schedule. A
// refusal wraps ErrInvalid and says what to change.
func (s *Scheduler) Add(ctx context.Context, sc Schedule) (Schedule, error) {
	sc.ID = ""
	sc.Source = SourceChat
	if sc.When == "" {
		sc.When = WhenAlways
	}
	if sc.CreatedAt.IsZero() {
		sc.CreatedAt = s.clock.Now().UTC()
	}
	if _, err := Validate(sc, s.hosts, s.whats); err != nil {
		return Schedule{}, err
	}
	stored, err := s.store.Schedules(ctx)
	if err != nil {
		return Schedule{}, fmt.Errorf("add schedule: %w", err)
	}
	if len(stored) >= MaxChatSchedules {
		return Schedule{}, invalid(fmt.Sprintf("there are already %d schedules added from chat, the most there can be: remove one first (`schedules remove <id>`)", len(stored)))
	}
	added, err := s.store.AddSchedule(ctx, sc)
	if err != nil {
		return Schedule{}, fmt.Errorf("add schedule: %w", err)
	}
	s.log.Info("schedule: added", "schedule", added.ID, "spec", added.Spec, "tz", added.TZ,
		"what", added.What, "host", added.Host, "when", added.When, "by", added.CreatedBy)
	s.poke()
	return added, nil
}

// Remove deletes a chat-defined schedule and its results. A schedule from
// the configuration file is refused (ErrReadOnly); an unknown ID is
// ErrNotFound. A run in progress finishes.
func (s *Scheduler) Remove(ctx context.Context, id string) error {
	if _, ok := s.timings[id]; ok {
		return &userError{kind: ErrReadOnly, msg: fmt.Sprintf("schedule %s is defined in the configuration file; remove it there", id)}
	}
	if err := s.store.RemoveSchedule(ctx, id); err != nil {
		if isNotFound(err) {
			return &userError{kind: ErrNotFound, msg: fmt.Sprintf("there is no schedule %q: `schedules` lists them with their ids", id)}
		}
		return fmt.Errorf("remove schedule %s: %w", id, err)
	}
	s.log.Info("schedule: removed", "schedule", id)
	s.poke()
	return nil
}

// RunNow runs schedule id at once and posts its result whatever its
// `when` says (Post.Manual), then stores it like any run. It returns when
// the post is done. It refuses (ErrBusy) while a run of the schedule is in
// progress, and returns the Runner's error or the error posting.
func (s *Scheduler) RunNow(ctx context.Context, id string) error {
	p, err := s.find(ctx, id)
	if err != nil {
		return err
	}
	if p.err != nil {
		return p.err
	}
	release, ok, err := s.claim(ctx, id)
	if err != nil {
		return fmt.Errorf("schedule %s: cannot tell whether it is running now, so it was not started: %w", id, err)
	}
	if !ok {
		return &userError{kind: ErrBusy, msg: fmt.Sprintf("schedule %s is running now; its result will be posted when it finishes", id)}
	}
	outcome, err := s.runOnce(ctx, p.s, Post{Manual: true})
	release()
	s.emit(p.s, outcome)
	return err
}
