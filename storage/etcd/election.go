package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"

	"github.com/gitlab-chatops/gitlab-chatops/leader"
)

// Election is leader.Leadership across replicas: concurrency.Election on
// the replica's session lease, under the key election/.
//
// Invariants, besides leader.Leadership's:
//   - A term begins only when this replica's campaign key is the oldest
//     under election/ and still exists with the revision it was created
//     at (a campaign that outlived its own lease is no term).
//   - A term ends (fn's context is cancelled, IsLeader is false) as soon
//     as the key is deleted, the session ends, or no lease renewal has
//     succeeded for TTL/2 (renewals): a replica cut off from etcd stops
//     acting as leader while its lease still lives, so it has stopped
//     before etcd expires the lease and another replica is elected.
//   - Errors of etcd (unreachable, restarted) never end RunWhileLeader:
//     it campaigns again, after a pause, until its ctx ends.
//   - It resigns (deletes its key) only when its ctx ends; a lost term
//     leaves the key to its lease, so a hiccup does not hand leadership
//     over while a real partition does, after the TTL.
type Election struct {
	c      *Cluster
	value  string
	log    *slog.Logger
	leader atomic.Bool
}

var _ leader.Leadership = (*Election)(nil)

// ErrLeaseNotRenewed is the cause of a term's end when this replica could
// not renew its lease for half its TTL (cut off from etcd).
var ErrLeaseNotRenewed = errors.New("etcd: the replica's lease was not renewed for half its TTL (etcd unreachable?); stopping before it expires")

// errLeadershipLost is the cause of a term's end when the campaign key
// vanished or the session ended.
var errLeadershipLost = errors.New("etcd: leadership lost (the election key or the session is gone)")

// NewElection is this replica's Election on cluster c. name identifies the
// replica in the election key's value (for operators reading etcd: the
// host name and process ID, say); log receives term changes (nil: the
// default logger).
func NewElection(c *Cluster, name string, log *slog.Logger) *Election {
	if log == nil {
		log = slog.Default()
	}
	return &Election{c: c, value: name, log: log.With("replica", name)}
}

// IsLeader reports whether a term of this replica is under way.
func (e *Election) IsLeader() bool { return e.leader.Load() }

// RunWhileLeader campaigns, runs fn for each term, and campaigns again,
// until ctx ends; it returns ctx's error. fn never runs twice at once.
func (e *Election) RunWhileLeader(ctx context.Context, fn func(ctx context.Context)) error {
	for ctx.Err() == nil {
		if err := e.term(ctx, fn); err != nil && ctx.Err() == nil {
			e.log.Warn("leader election: campaigning again shortly", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(e.c.LeaseTTL() / 4):
			}
		}
	}
	return ctx.Err()
}

// term campaigns once and, if elected, runs fn until the term ends.
func (e *Election) term(ctx context.Context, fn func(ctx context.Context)) error {
	ttl := e.c.LeaseTTL()
	sctx, cancel := context.WithTimeout(ctx, ttl)
	sess, err := e.c.Session(sctx)
	cancel()
	if err != nil {
		return err
	}
	el := concurrency.NewElection(sess, e.c.Key("election"))
	if err := e.campaign(ctx, sess, el); err != nil {
		return err
	}
	// Elected. The term begins on a renewal made now, and the watch of the
	// renewals counts from when it was sent: a lease that was not renewed
	// while the campaign waited begins no term.
	sent := time.Now()
	kctx, kcancel := context.WithTimeout(ctx, ttl/4)
	_, err = e.c.Client().KeepAliveOnce(kctx, sess.Lease())
	kcancel()
	if err != nil {
		return fmt.Errorf("etcd election: renewing the lease before leading: %w", err) // the key stays, as below
	}
	wctx, stopWatch := context.WithCancel(ctx)
	defer stopWatch()
	ren := watchRenewals(wctx, e.c.Client(), sess.Lease(), ttl, sent)
	tctx, end := context.WithCancelCause(ctx)
	defer end(nil)
	if err := e.watchKey(tctx, end, el); err != nil {
		return err // a key still there is this replica's next campaign's
	}
	go func() {
		select {
		case <-ren.Lost():
			end(ErrLeaseNotRenewed)
		case <-sess.Done():
			end(errLeadershipLost)
		case <-tctx.Done():
		}
	}()
	e.leader.Store(true)
	e.log.Info("became leader", "key", el.Key())
	// IsLeader turns false the moment the term ends, not when fn returns.
	stop := context.AfterFunc(tctx, func() { e.leader.Store(false) })
	fn(tctx)
	// An fn that returns early keeps the term (as leader.Always does): it
	// runs again only after leadership was lost and regained.
	<-tctx.Done()
	stop()
	e.leader.Store(false)
	if ctx.Err() != nil {
		// Stopping: hand over at once rather than after the TTL.
		e.resign(el)
		return nil
	}
	// Lost: the key is gone, or stays bound to a lease that may expire.
	// It is not deleted: after a mere hiccup this replica campaigns again
	// with the same key and leads again at once; cut off for good, its
	// lease expires and another replica is elected.
	e.log.Warn("leadership lost", "cause", context.Cause(tctx))
	return nil
}

// campaign waits until elected, or the session ends. Missed renewals do
// not end the wait (only a term needs them): cancelling a Campaign makes
// concurrency.Election delete the campaign key, and a cancelled one that
// completes late would delete the same key (same lease) of a later term.
// It does not wait for Campaign itself to return after ctx ends:
// concurrency.Election resigns with the client's context then, which
// blocks while etcd is unreachable; that goroutine ends with the client.
func (e *Election) campaign(ctx context.Context, sess *concurrency.Session, el *concurrency.Election) error {
	cctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- el.Campaign(cctx, e.value) }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("etcd election: campaigning: %w", err)
		}
		return nil
	case <-sess.Done():
		return errLeadershipLost
	case <-ctx.Done():
		return ctx.Err()
	}
}

// watchKey checks that the campaign key is still the one elected (it may
// have expired with the lease while the campaign waited) and ends the
// term (end) when it is deleted or its watch fails.
func (e *Election) watchKey(ctx context.Context, end context.CancelCauseFunc, el *concurrency.Election) error {
	gctx, cancel := context.WithTimeout(ctx, e.c.LeaseTTL()/2)
	resp, err := e.c.Client().Get(gctx, el.Key())
	cancel()
	if err != nil {
		return fmt.Errorf("etcd election: reading back the campaign key: %w", err)
	}
	if len(resp.Kvs) == 0 || resp.Kvs[0].CreateRevision != el.Rev() {
		return errLeadershipLost
	}
	wch := e.c.Client().Watch(clientv3.WithRequireLeader(ctx), el.Key(), clientv3.WithRev(resp.Header.Revision+1), clientv3.WithFilterPut())
	go func() {
		for wr := range wch {
			if wr.Err() != nil || len(wr.Events) > 0 {
				end(errLeadershipLost)
				return
			}
		}
		// The watch ends with ctx, or when the client closes.
		end(errLeadershipLost)
	}()
	return nil
}

// resign gives leadership up at once (the next replica need not wait for
// the lease to expire), within a bounded time: when etcd cannot be
// reached the key expires with the lease instead.
func (e *Election) resign(el *concurrency.Election) {
	ctx, cancel := context.WithTimeout(context.Background(), e.c.LeaseTTL()/4)
	defer cancel()
	if err := el.Resign(ctx); err != nil {
		e.log.Debug("resigning leadership", "err", err)
	}
}
