package etcd

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// DefaultSeenSlot is how finely Seen's leases are shared: every key of
// one replica whose expiry falls in the same slot is bound to one lease.
const DefaultSeenSlot = 10 * time.Second

// Seen implements bot.Seen for one platform, shared by every replica on
// the cluster: key k is etcd key seen/<platform>/<hex SHA-256 of k>,
// created only if absent (CreateRevision == 0) and bound to a lease, so
// etcd forgets it once its ttl has passed.
//
// FirstSeen is one Txn round trip. Leases are shared by time slot
// (SeenOptions.Slot): a key whose expiry falls in slot [E-slot, E) is
// bound to the slot's lease, which expires no sooner than E; one replica
// grants about one lease per slot instead of one per request, and a key
// lives at most one slot longer than asked (a replay window a little
// longer, never shorter).
//
// When etcd cannot be reached FirstSeen returns the error (once its ctx
// ends): the caller refuses rather than let a replay through.
type Seen struct {
	c        *Cluster
	platform string
	slot     time.Duration
	now      func() time.Time

	mu     sync.Mutex
	leases map[int64]*slotLease // by the slot's end, Unix nanoseconds
}

// SeenOptions tune a Seen; the zero value is the default.
type SeenOptions struct {
	// Slot is the lease-sharing granularity (DefaultSeenSlot when zero).
	Slot time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// slotLease is the lease of one slot, granted by the first key that
// needs it; the others wait for ready.
type slotLease struct {
	ready chan struct{}
	id    clientv3.LeaseID
	err   error
}

// NewSeen returns the Seen of platform ("slack") on c.
func NewSeen(c *Cluster, platform string, o SeenOptions) (*Seen, error) {
	if platform == "" {
		return nil, errors.New("etcd seen: empty platform name")
	}
	if o.Slot <= 0 {
		o.Slot = DefaultSeenSlot
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return &Seen{c: c, platform: platform, slot: o.Slot, now: o.Now, leases: map[int64]*slotLease{}}, nil
}

// FirstSeen implements bot.Seen.
func (s *Seen) FirstSeen(ctx context.Context, key string, ttl time.Duration) (bool, error) {
	sum := sha256.Sum256([]byte(key))
	k := s.c.Key("seen/" + s.platform + "/" + hex.EncodeToString(sum[:]))
	// A lease found gone (revoked by hand, or outlived by our clock) is
	// replaced once.
	for attempt := 0; ; attempt++ {
		lease, end, err := s.lease(ctx, max(ttl, time.Second))
		if err != nil {
			return false, err
		}
		r, err := s.c.client.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
			Then(clientv3.OpPut(k, "", clientv3.WithLease(lease))).
			Commit()
		if errors.Is(err, rpctypes.ErrLeaseNotFound) && attempt == 0 {
			s.forget(end)
			continue
		}
		if err != nil {
			return false, fmt.Errorf("etcd seen %s: %w", s.platform, err)
		}
		return r.Succeeded, nil
	}
}

// lease returns the lease of the slot a key expiring ttl from now falls
// in (granting it if this replica has none yet) and that slot's end.
func (s *Seen) lease(ctx context.Context, ttl time.Duration) (clientv3.LeaseID, int64, error) {
	now := s.now()
	exp := now.Add(ttl).UnixNano()
	slot := s.slot.Nanoseconds()
	end := (exp/slot + 1) * slot // the slot [end-slot, end) holds exp
	s.mu.Lock()
	l, ok := s.leases[end]
	if !ok {
		l = &slotLease{ready: make(chan struct{})}
		s.leases[end] = l
		// Slots whose end has passed have leases that are ending.
		for e := range s.leases {
			if e < now.UnixNano() {
				delete(s.leases, e)
			}
		}
	}
	s.mu.Unlock()
	if !ok {
		// Until end, plus a second for the rounding of etcd's TTL to
		// seconds and the clocks' drift: never shorter than asked.
		secs := (end-now.UnixNano()+int64(time.Second)-1)/int64(time.Second) + 1
		g, err := s.c.client.Grant(ctx, secs)
		if err != nil {
			l.err = fmt.Errorf("etcd seen %s: grant a lease: %w", s.platform, err)
			s.forget(end)
		} else {
			l.id = g.ID
		}
		close(l.ready)
	}
	select {
	case <-l.ready:
	case <-ctx.Done():
		return 0, 0, fmt.Errorf("etcd seen %s: waiting for a lease: %w", s.platform, ctx.Err())
	}
	return l.id, end, l.err
}

// forget drops the slot's lease, for the next key to grant another.
func (s *Seen) forget(end int64) {
	s.mu.Lock()
	delete(s.leases, end)
	s.mu.Unlock()
}
