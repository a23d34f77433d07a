package bot

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Seen remembers once-only keys: the signature of a verified inbound
// request (replay protection), the ID of an envelope the platform may
// deliver again. With several replicas behind one platform, a retry may
// land on another replica than the first delivery; a Seen shared by the
// replicas (storage/etcd's) recognises it there too. Setup.Seen carries
// it to the adapters; nil is a MemorySeen of the adapter's own.
type Seen interface {
	// FirstSeen records key for at least ttl and reports whether this
	// call is the first to record it (on any replica sharing the Seen)
	// while it is remembered. An error means it could not tell; the
	// caller refuses what the key stands for rather than risk handling
	// it twice (a replay let through is worse than a retry asked for).
	FirstSeen(ctx context.Context, key string, ttl time.Duration) (bool, error)
}

// ErrSeenFull is MemorySeen's refusal when it is full of keys that have
// not expired.
var ErrSeenFull = errors.New("once-only key memory full of unexpired keys")

// MemorySeen is the per-process Seen: keys live in a map until their ttl
// has passed.
//
// It is bounded: when it is full of unexpired keys it refuses new ones
// (ErrSeenFull) instead of forgetting old ones, because forgetting would
// let a replay through. Adapters record only authenticated input, so only
// the platform (or whoever holds its secret) can fill it.
type MemorySeen struct {
	now     func() time.Time
	mu      sync.Mutex
	max     int
	seen    map[string]time.Time // key -> when it is forgotten
	sweepAt int                  // sweep expired keys when len(seen) reaches this
}

var _ Seen = (*MemorySeen)(nil)

// NewMemorySeen remembers at most capacity unexpired keys (at least 1),
// on the clock now (nil: time.Now).
func NewMemorySeen(capacity int, now func() time.Time) *MemorySeen {
	capacity = max(capacity, 1)
	if now == nil {
		now = time.Now
	}
	return &MemorySeen{now: now, max: capacity, seen: map[string]time.Time{}, sweepAt: min(capacity, 1024)}
}

// FirstSeen implements Seen; its only error is ErrSeenFull.
func (m *MemorySeen) FirstSeen(_ context.Context, key string, ttl time.Duration) (bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if until, ok := m.seen[key]; ok && now.Before(until) {
		return false, nil
	}
	if len(m.seen) >= m.sweepAt {
		for k, until := range m.seen {
			if !now.Before(until) {
				delete(m.seen, k)
			}
		}
		// Amortise: the next sweep comes when the map has doubled.
		m.sweepAt = min(m.max, max(1024, 2*len(m.seen)))
		if len(m.seen) >= m.max {
			return false, ErrSeenFull
		}
	}
	m.seen[key] = now.Add(ttl)
	return true, nil
}
