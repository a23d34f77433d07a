package etcd

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Key paths of the schedule claims (see doc.go).
const (
	dirScheduleRuns  = "schedule_runs/"
	dirScheduleTicks = "schedule_ticks/"
)

// ScheduleClaims implements schedule.Claims for the replicas sharing the
// cluster's prefix:
//   - a run claim is the key schedule_runs/<id>, created only if absent
//     (CreateRevision == 0) and bound to the replica's session lease, so a
//     replica that dies mid-run does not hold the schedule for longer than
//     its lease TTL; it is deleted only if it is still ours;
//   - a fired tick is the key schedule_ticks/<id>, holding the latest due
//     time fired (RFC 3339, UTC), moved forward only, under a compare on
//     its revision. It has no lease: it must outlive every replica, or a
//     new leader could fire a tick again. Store.RemoveSchedule deletes it
//     with its chat schedule (IDs are never reused, so no later schedule
//     needs it); a configured schedule keeps its one small key.
type ScheduleClaims struct {
	c     *Cluster
	takes atomic.Uint64 // numbers each Claim's value
}

// NewScheduleClaims returns the schedule claims on c.
func NewScheduleClaims(c *Cluster) *ScheduleClaims { return &ScheduleClaims{c: c} }

// Claim implements schedule.Claims.
func (s *ScheduleClaims) Claim(ctx context.Context, id string) (func(context.Context) error, bool, error) {
	sess, err := s.c.Session(ctx)
	if err != nil {
		return nil, false, fmt.Errorf("claim schedule %s: %w", id, err)
	}
	k := s.c.Key(dirScheduleRuns + id)
	// The value (when, and this Claim's number) is this Claim's alone, so
	// a Txn whose answer was lost can be undone without touching a later
	// claim.
	val := fmt.Sprintf("%s %d", time.Now().UTC().Format(time.RFC3339), s.takes.Add(1))
	r, err := s.c.client.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, val, clientv3.WithLease(sess.Lease()))).
		Commit()
	if err != nil {
		// Maybe written: left on this live replica's lease, it would hold
		// the schedule on every replica; the caller is told nothing was
		// claimed, so make it true.
		go s.undoClaim(sess, k, val)
		return nil, false, fmt.Errorf("claim schedule %s in etcd: %w", id, err)
	}
	if !r.Succeeded {
		return nil, false, nil
	}
	rev := r.Header.Revision // the key's CreateRevision: ours
	return func(ctx context.Context) error {
		err := s.release(ctx, k, rev)
		if err != nil {
			go s.releaseLater(sess, k, rev)
			return fmt.Errorf("release schedule %s's run claim (retried in the background until this replica's lease ends): %w", id, err)
		}
		return nil
	}, true, nil
}

// release deletes the claim k if it is still the one created at rev.
func (s *ScheduleClaims) release(ctx context.Context, k string, rev int64) error {
	_, err := s.c.deleteClaim(ctx, k, clientv3.Compare(clientv3.CreateRevision(k), "=", rev))
	return err
}

// releaseLater retries a failed release (claimkey.go).
func (s *ScheduleClaims) releaseLater(sess *concurrency.Session, k string, rev int64) {
	s.c.deleteClaimLater(k, clientv3.Compare(clientv3.CreateRevision(k), "=", rev), sess, false)
}

// undoClaim deletes k if it holds val (a Claim whose answer was lost),
// trying until etcd answers or the session (and the key with it) ends.
func (s *ScheduleClaims) undoClaim(sess *concurrency.Session, k, val string) {
	s.c.deleteClaimLater(k, clientv3.Compare(clientv3.Value(k), "=", val), sess, true)
}

// Running implements schedule.Claims.
func (s *ScheduleClaims) Running(ctx context.Context, id string) (bool, error) {
	r, err := s.c.client.Get(ctx, s.c.Key(dirScheduleRuns+id), clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("whether schedule %s runs, in etcd: %w", id, err)
	}
	return r.Count > 0, nil
}

// ClaimTick implements schedule.Claims: read the latest due time fired,
// and move it to due under a compare on its revision; a lost compare
// (another replica moved it) reads again.
func (s *ScheduleClaims) ClaimTick(ctx context.Context, id string, due time.Time) (bool, error) {
	k := s.c.Key(dirScheduleTicks + id)
	for {
		g, err := s.c.client.Get(ctx, k)
		if err != nil {
			return false, fmt.Errorf("schedule %s's last fired time, in etcd: %w", id, err)
		}
		guard := clientv3.Compare(clientv3.CreateRevision(k), "=", 0)
		if len(g.Kvs) > 0 {
			kv := g.Kvs[0]
			last, err := time.Parse(time.RFC3339Nano, string(kv.Value))
			if err != nil {
				return false, fmt.Errorf("schedule %s's last fired time %q in etcd is damaged (delete %s to let it fire): %w", id, kv.Value, k, err)
			}
			if !due.After(last) {
				return false, nil
			}
			guard = clientv3.Compare(clientv3.ModRevision(k), "=", kv.ModRevision)
		}
		r, err := s.c.client.Txn(ctx).If(guard).
			Then(clientv3.OpPut(k, due.UTC().Format(time.RFC3339Nano))).
			Commit()
		if err != nil {
			return false, fmt.Errorf("record schedule %s's fired time in etcd: %w", id, err)
		}
		if r.Succeeded {
			return true, nil
		}
	}
}
