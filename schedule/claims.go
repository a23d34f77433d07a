package schedule

import (
	"context"
	"sync"
	"time"
)

// Claims is how a Scheduler keeps its runs from doubling with another
// run of the same schedule: in this process (MemoryClaims) or on every
// replica sharing a store (storage/etcd's, on leases). Leadership alone
// is not enough across replicas: `schedules run` works on every replica,
// and a new leader may start before the old one's run of a tick is done
// (or, with a clock a little behind, reach a tick the old leader fired).
type Claims interface {
	// Claim takes the run claim of schedule id: ok is false when a run
	// of it holds the claim already, here or on another replica. The
	// claim lasts until release (called once, with a context of its
	// own), or until this replica dies (its lease ends).
	Claim(ctx context.Context, id string) (release func(ctx context.Context) error, ok bool, err error)
	// Running reports whether a run of id holds its claim.
	Running(ctx context.Context, id string) (bool, error)
	// ClaimTick reports whether the caller fires id's run due at due:
	// true for exactly one caller per due time, false for a due time not
	// after one already fired. Ticks are at most once: a tick whose run
	// was cut short (its replica died) is not fired again.
	ClaimTick(ctx context.Context, id string, due time.Time) (bool, error)
}

// MemoryClaims are the Claims of one process, the default.
type MemoryClaims struct {
	mu      sync.Mutex
	running map[string]bool
	ticks   map[string]time.Time // id -> the latest due time fired
}

var _ Claims = (*MemoryClaims)(nil)

// NewMemoryClaims returns empty in-process Claims.
func NewMemoryClaims() *MemoryClaims {
	return &MemoryClaims{running: map[string]bool{}, ticks: map[string]time.Time{}}
}

// Claim implements Claims.
func (m *MemoryClaims) Claim(_ context.Context, id string) (func(context.Context) error, bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.running[id] {
		return nil, false, nil
	}
	m.running[id] = true
	return func(context.Context) error {
		m.mu.Lock()
		defer m.mu.Unlock()
		delete(m.running, id)
		return nil
	}, true, nil
}

// Running implements Claims.
func (m *MemoryClaims) Running(_ context.Context, id string) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.running[id], nil
}

// ClaimTick implements Claims.
func (m *MemoryClaims) ClaimTick(_ context.Context, id string, due time.Time) (bool, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if last, ok := m.ticks[id]; ok && !due.After(last) {
		return false, nil
	}
	m.ticks[id] = due
	return true, nil
}
