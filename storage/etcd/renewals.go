package etcd

import (
	"context"
	"errors"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"
)

// renewals watches that this replica still renews a lease, so that what
// is bound to it (leadership, job ownership) stops being acted on BEFORE
// etcd expires the lease and hands it to another replica.
//
// The session's own keepalive hides its responses (and only ends when the
// client-side deadline, the full TTL, has passed), so renewals renews the
// lease itself with KeepAliveOnce every TTL/6 and times each success from
// when it was SENT: etcd renewed the lease after that moment, so the lease
// lives on the server at least until then + TTL. Lost closes when no
// renewal has succeeded for TTL/2 (the other TTL/2 is the margin for the
// work to stop), or at once when etcd says the lease is gone.
type renewals struct {
	lost chan struct{}
}

// watchRenewals starts watching lease id (of TTL ttl) until ctx ends. The
// lease counts as renewed at since: when the caller sent a renewal that
// succeeded, or granted the lease.
func watchRenewals(ctx context.Context, c *clientv3.Client, id clientv3.LeaseID, ttl time.Duration, since time.Time) *renewals {
	r := &renewals{lost: make(chan struct{})}
	go r.run(ctx, c, id, ttl, since)
	return r
}

// Lost is closed when the lease may no longer be relied on.
func (r *renewals) Lost() <-chan struct{} { return r.lost }

// isLost reports whether Lost is closed.
func (r *renewals) isLost() bool {
	select {
	case <-r.lost:
		return true
	default:
		return false
	}
}

func (r *renewals) run(ctx context.Context, c *clientv3.Client, id clientv3.LeaseID, ttl time.Duration, since time.Time) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	grace := ttl / 2
	deadline := time.NewTimer(time.Until(since.Add(grace)))
	defer deadline.Stop()
	renewed := make(chan time.Time)
	gone := make(chan struct{})
	go func() {
		tick := time.NewTicker(ttl / 6)
		defer tick.Stop()
		for {
			sent := time.Now()
			kctx, kcancel := context.WithTimeout(ctx, ttl/4)
			_, err := c.KeepAliveOnce(kctx, id)
			kcancel()
			switch {
			case err == nil:
				select {
				case renewed <- sent:
				case <-ctx.Done():
					return
				}
			case errors.Is(err, rpctypes.ErrLeaseNotFound):
				close(gone)
				return
			}
			select {
			case <-tick.C:
			case <-ctx.Done():
				return
			}
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-gone:
			close(r.lost)
			return
		case <-deadline.C:
			close(r.lost)
			return
		case sent := <-renewed:
			deadline.Reset(time.Until(sent.Add(grace)))
		}
	}
}
