package approvals

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"
)

// maxRefusalSources bounds the distinct sources counted in one minute;
// beyond it every further source is counted together, so a flood from many
// addresses grows neither memory nor the audit trail.
const maxRefusalSources = 256

// RefusalCounter aggregates refusals of unauthenticated traffic (bad
// signatures, tokens, HMACs) so that it cannot grow the audit trail without
// bound: one auth.refused entry per source and minute, with the count and
// the first reason, written when the minute is over (or at Close). The
// first refusal of a source in a minute is also logged at once by the
// caller's logger, so an attack is visible without waiting.
type RefusalCounter struct {
	record func(context.Context, ...AuditEntry) error
	now    func() time.Time
	onErr  func(error)

	mu     sync.Mutex
	minute time.Time
	counts map[string]*refusals
	other  *refusals
	timer  *time.Timer
	closed bool
}

type refusals struct {
	n     int
	first string
}

// NewRefusalCounter returns a counter that writes through s.Record. onErr,
// when not nil, is told about entries that could not be written.
func (s *Service) NewRefusalCounter(onErr func(error)) *RefusalCounter {
	return &RefusalCounter{record: s.Record, now: s.now, onErr: onErr, counts: map[string]*refusals{}}
}

// Refused counts one refusal from source (e.g. the peer's IP address) for
// reason. It reports whether it was the first from source this minute.
func (c *RefusalCounter) Refused(source, reason string) bool {
	c.mu.Lock()
	var due []AuditEntry
	now := c.now()
	minute := now.Truncate(time.Minute)
	if !minute.Equal(c.minute) {
		due = c.takeLocked()
		c.minute = minute
	}
	first := false
	switch r, ok := c.counts[source]; {
	case ok:
		r.n++
	case len(c.counts) < maxRefusalSources:
		c.counts[source] = &refusals{n: 1, first: reason}
		first = true
	case c.other == nil:
		c.other = &refusals{n: 1, first: reason}
		first = true
	default:
		c.other.n++
	}
	if c.closed {
		due = append(due, c.takeLocked()...) // nobody flushes after Close
	} else if c.timer == nil {
		c.timer = time.AfterFunc(minute.Add(time.Minute).Sub(now), c.flushDue)
	}
	c.mu.Unlock()
	c.write(due)
	return first
}

// flushDue writes the minute that has ended.
func (c *RefusalCounter) flushDue() {
	c.mu.Lock()
	c.timer = nil
	var due []AuditEntry
	if now := c.now(); !now.Before(c.minute.Add(time.Minute)) {
		due = c.takeLocked()
	} else if len(c.counts) > 0 || c.other != nil {
		c.timer = time.AfterFunc(c.minute.Add(time.Minute).Sub(now), c.flushDue)
	}
	c.mu.Unlock()
	c.write(due)
}

// Close writes what is still counted; later refusals are written at once.
// It is safe to call more than once.
func (c *RefusalCounter) Close() {
	c.mu.Lock()
	c.closed = true
	if c.timer != nil {
		c.timer.Stop()
		c.timer = nil
	}
	due := c.takeLocked()
	c.mu.Unlock()
	c.write(due)
}

func (c *RefusalCounter) takeLocked() []AuditEntry {
	sources := make([]string, 0, len(c.counts))
	for s := range c.counts {
		sources = append(sources, s)
	}
	sort.Strings(sources)
	var out []AuditEntry
	add := func(source string, r *refusals) {
		times := "once"
		if r.n > 1 {
			times = fmt.Sprintf("%d times", r.n)
		}
		out = append(out, AuditEntry{Actor: ActorSystem, Action: ActionAuthRefused, Outcome: fmt.Sprint(r.n),
			Detail: fmt.Sprintf("refused %s from %s in the minute from %s; first: %s", times, source, c.minute.UTC().Format("2006-01-02 15:04 UTC"), r.first)})
	}
	for _, s := range sources {
		add(s, c.counts[s])
	}
	if c.other != nil {
		add(fmt.Sprintf("other sources (more than %d)", maxRefusalSources), c.other)
	}
	c.counts, c.other = map[string]*refusals{}, nil
	return out
}

func (c *RefusalCounter) write(due []AuditEntry) {
	if len(due) == 0 {
		return
	}
	if err := c.record(context.Background(), due...); err != nil && c.onErr != nil {
		c.onErr(err)
	}
}
