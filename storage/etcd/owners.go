package etcd

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// Owners is the "who follows this running job" claim shared by all
// replicas (commands.Owners): the key owners/<request id>, holding the
// replica's name and the number of the Take that wrote it, bound to the
// replica's session lease.
//
// Invariants:
//   - A claim is taken with a CreateRevision == 0 compare: of all the
//     replicas (and goroutines) that try, exactly one holds it.
//   - A claim dies with its replica: a crashed or cut-off replica's lease
//     expires and the key with it, so the leader's sweep can adopt the
//     job. The replica itself stops following (its claim's context is
//     cancelled) when it could not renew the lease for TTL/2, before the
//     key expires, or when the key is deleted (Drop, by the leader).
//   - Release deletes the key only if it is still this claim's (its
//     CreateRevision), never a later owner's.
//   - A Take that returns an error took nothing: if its Txn was committed
//     but the answer lost, the key it wrote (its value) is deleted in the
//     background, never left to block the job while the replica lives.
type Owners struct {
	c    *Cluster
	name string
	log  *slog.Logger

	mu       sync.Mutex
	sess     *concurrency.Session
	ren      *renewals
	stopRen  context.CancelFunc
	claims   map[string]*ownerClaim
	watching bool
	takes    atomic.Uint64 // numbers each Take's value
}

// ownerClaim is a claim of this replica: the key's CreateRevision and how
// to end its follower.
type ownerClaim struct {
	rev    int64
	cancel context.CancelCauseFunc
}

// ErrOwnershipLost is the cause of a follower's end when its claim was
// deleted (the leader's sweep took the job over) or its session ended.
var ErrOwnershipLost = errors.New("etcd: this replica no longer owns the job (its claim was taken over, or its lease ended)")

// NewOwners is replica name's job ownership on cluster c (log: nil for
// the default logger).
func NewOwners(c *Cluster, name string, log *slog.Logger) *Owners {
	if log == nil {
		log = slog.Default()
	}
	return &Owners{c: c, name: name, log: log.With("replica", name), claims: map[string]*ownerClaim{}}
}

func (o *Owners) key(id string) string { return o.c.Key("owners/" + id) }

// Take makes this replica the follower of request id. ok is false, with
// nothing taken, when a follower (here or on another replica) holds it;
// err when etcd could not say (nothing taken). The returned context ends
// when the claim is lost; release frees the claim (only if still ours).
func (o *Owners) Take(parent context.Context, id string) (context.Context, func(), bool, error) {
	sess, ren, err := o.session(parent)
	if err != nil {
		return nil, nil, false, fmt.Errorf("taking ownership of request %s: %w", id, err)
	}
	key := o.key(id)
	// The value names the replica and this Take alone, so that a Txn whose
	// answer was lost can be undone without touching a later claim.
	val := fmt.Sprintf("%s %d", o.name, o.takes.Add(1))
	tctx, cancel := context.WithTimeout(parent, o.c.LeaseTTL()/2)
	resp, err := o.c.Client().Txn(tctx).
		If(clientv3.Compare(clientv3.CreateRevision(key), "=", 0)).
		Then(clientv3.OpPut(key, val, clientv3.WithLease(sess.Lease()))).
		Commit()
	cancel()
	if err != nil {
		// The outcome is unknown: the key may have been written. Left on
		// this live replica's lease, it would block every follower of the
		// job (and the sweep's adoption) while nobody follows it; the
		// caller is told nothing was taken, so make it true.
		go o.undoTake(id, key, val, sess)
		return nil, nil, false, fmt.Errorf("etcd: taking ownership of request %s: %w", id, err)
	}
	if !resp.Succeeded {
		return nil, nil, false, nil
	}
	rev := resp.Header.Revision
	ctx, end := context.WithCancelCause(parent)
	cl := &ownerClaim{rev: rev, cancel: end}
	o.mu.Lock()
	if old := o.claims[id]; old != nil {
		old.cancel(ErrOwnershipLost) // its key is gone, or this Txn would have failed
	}
	o.claims[id] = cl
	o.mu.Unlock()
	o.ensureWatch(rev + 1)
	go func() {
		select {
		case <-ren.Lost():
			end(ErrLeaseNotRenewed)
		case <-sess.Done():
			end(ErrOwnershipLost)
		case <-ctx.Done():
		}
	}()
	release := func() {
		o.forget(id, cl)
		end(nil)
		if err := o.unclaim(key, rev); err != nil {
			// The key must not outlive the claim while this replica's
			// lease lives on (etcd restarted, say): nobody would adopt the
			// job. Try again until it is gone, or goes with the lease.
			o.log.Warn("releasing ownership of a job in etcd; trying again in the background", "request", id, "err", err)
			go o.unclaimLater(id, key, rev, sess)
		}
	}
	return ctx, release, true, nil
}

// undoTake deletes key if it holds val (a Take whose answer was lost),
// trying until etcd answers, the session's lease (and the key with it)
// ends, or the client closes (claimkey.go).
func (o *Owners) undoTake(id, key, val string, sess *concurrency.Session) {
	if o.c.deleteClaimLater(key, clientv3.Compare(clientv3.Value(key), "=", val), sess, true) {
		o.log.Info("undid a claim of a job whose answer from etcd was lost", "request", id)
	}
}

// unclaim deletes key if it is still the claim created at revision rev.
func (o *Owners) unclaim(key string, rev int64) error {
	ctx, cancel := context.WithTimeout(o.c.Client().Ctx(), o.c.LeaseTTL()/2)
	defer cancel()
	_, err := o.c.deleteClaim(ctx, key, clientv3.Compare(clientv3.CreateRevision(key), "=", rev))
	return err
}

// unclaimLater retries unclaim until it succeeds, or the session's lease
// (and the key with it) ends, or the client closes.
func (o *Owners) unclaimLater(id, key string, rev int64, sess *concurrency.Session) {
	if o.c.deleteClaimLater(key, clientv3.Compare(clientv3.CreateRevision(key), "=", rev), sess, false) {
		o.log.Info("released ownership of a job in etcd", "request", id)
	}
}

// Held reports whether any replica holds request id.
func (o *Owners) Held(ctx context.Context, id string) (bool, error) {
	resp, err := o.c.Client().Get(ctx, o.key(id), clientv3.WithCountOnly())
	if err != nil {
		return false, fmt.Errorf("etcd: reading the owner of request %s: %w", id, err)
	}
	return resp.Count > 0, nil
}

// Drop frees request id whoever holds it: the holder's follower is
// cancelled (here at once, on another replica when its watch sees the
// deletion).
func (o *Owners) Drop(ctx context.Context, id string) error {
	if _, err := o.c.Client().Delete(ctx, o.key(id)); err != nil {
		return fmt.Errorf("etcd: dropping the owner of request %s: %w", id, err)
	}
	o.mu.Lock()
	cl := o.claims[id]
	delete(o.claims, id)
	o.mu.Unlock()
	if cl != nil {
		cl.cancel(ErrOwnershipLost)
	}
	return nil
}

// forget removes claim cl of request id from this replica's claims.
func (o *Owners) forget(id string, cl *ownerClaim) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.claims[id] == cl {
		delete(o.claims, id)
	}
}

// session is the replica's session and the watch of its renewals. A new
// watch (a new session, or one that saw the renewals stop) begins on a
// renewal made now, so no claim is taken on a lease about to expire.
func (o *Owners) session(ctx context.Context) (*concurrency.Session, *renewals, error) {
	ttl := o.c.LeaseTTL()
	sctx, cancel := context.WithTimeout(ctx, ttl/2)
	defer cancel()
	sess, err := o.c.Session(sctx)
	if err != nil {
		return nil, nil, err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.sess == sess && !o.ren.isLost() {
		return sess, o.ren, nil
	}
	sent := time.Now()
	if _, err := o.c.Client().KeepAliveOnce(sctx, sess.Lease()); err != nil {
		return nil, nil, fmt.Errorf("renewing the replica's lease: %w", err)
	}
	if o.stopRen != nil {
		o.stopRen()
	}
	rctx, stop := context.WithCancel(o.c.Client().Ctx())
	o.sess, o.ren, o.stopRen = sess, watchRenewals(rctx, o.c.Client(), sess.Lease(), ttl, sent), stop
	return sess, o.ren, nil
}

// ensureWatch starts, once, the watch that ends this replica's followers
// whose keys are deleted (by Drop on the leader), from revision from.
func (o *Owners) ensureWatch(from int64) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.watching {
		return
	}
	o.watching = true
	go o.watch(o.c.Client().Ctx(), from)
}

// watch follows deletions under owners/ until the client closes. After a
// broken watch (compaction, etcd restarted) it checks every claim of
// this replica against etcd, then watches again from there.
func (o *Owners) watch(ctx context.Context, from int64) {
	prefix := o.c.Key("owners/")
	for ctx.Err() == nil {
		wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
		wch := o.c.Client().Watch(wctx, prefix, clientv3.WithPrefix(), clientv3.WithFilterPut(), clientv3.WithRev(from))
		broken := false
		for wr := range wch {
			if wr.Err() != nil || wr.Canceled {
				broken = true
				break
			}
			for _, ev := range wr.Events {
				o.deleted(strings.TrimPrefix(string(ev.Kv.Key), prefix), ev.Kv.ModRevision)
			}
			from = wr.Header.Revision + 1
		}
		cancel()
		if ctx.Err() != nil {
			return
		}
		if broken {
			if rev, err := o.recheck(ctx); err == nil {
				from = rev + 1
			}
		}
		select {
		case <-ctx.Done():
		case <-time.After(o.c.LeaseTTL() / 10):
		}
	}
}

// deleted ends this replica's claim of request id if the deletion at
// revision rev came after the claim was taken.
func (o *Owners) deleted(id string, rev int64) {
	o.mu.Lock()
	cl := o.claims[id]
	if cl != nil && rev > cl.rev {
		delete(o.claims, id)
	} else {
		cl = nil
	}
	o.mu.Unlock()
	if cl != nil {
		o.log.Warn("this replica's ownership of a running job was taken over", "request", id)
		cl.cancel(ErrOwnershipLost)
	}
}

// recheck ends every claim of this replica whose key is gone or another's,
// and returns the revision it read at.
func (o *Owners) recheck(ctx context.Context) (int64, error) {
	gctx, cancel := context.WithTimeout(ctx, o.c.LeaseTTL()/2)
	defer cancel()
	resp, err := o.c.Client().Get(gctx, o.c.Key("owners/"), clientv3.WithPrefix(), clientv3.WithKeysOnly())
	if err != nil {
		return 0, err
	}
	live := map[string]int64{}
	prefix := o.c.Key("owners/")
	for _, kv := range resp.Kvs {
		live[strings.TrimPrefix(string(kv.Key), prefix)] = kv.CreateRevision
	}
	o.mu.Lock()
	var lost []*ownerClaim
	for id, cl := range o.claims {
		if live[id] != cl.rev {
			lost = append(lost, cl)
			delete(o.claims, id)
		}
	}
	o.mu.Unlock()
	for _, cl := range lost {
		cl.cancel(ErrOwnershipLost)
	}
	return resp.Header.Revision, nil
}
