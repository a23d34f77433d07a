package etcd

import (
	"context"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// A claim key (owners/<id>, schedule_runs/<id>) is created on a replica's
// session lease under a CreateRevision == 0 compare, and deleted only
// under a compare that proves it is still the one this replica wrote:
//   - its CreateRevision, when the create's answer came back (a release);
//   - its value, unique to that attempt, when the answer was lost (the key
//     may or may not exist): undoing it never touches a later claim.
//
// A deletion that fails must be tried again: left in place on a lease that
// lives on, the key would hold the job or the schedule on every replica.
// Once the session ends, the key goes with its lease and trying stops.

// deleteClaim deletes key if cmp holds, in one Txn; deleted is whether it
// held.
func (c *Cluster) deleteClaim(ctx context.Context, key string, cmp clientv3.Cmp) (deleted bool, err error) {
	resp, err := c.client.Txn(ctx).If(cmp).Then(clientv3.OpDelete(key)).Commit()
	if err != nil {
		return false, err
	}
	return resp.Succeeded, nil
}

// deleteClaimLater tries deleteClaim every quarter of the lease TTL (the
// first at once when now is set), each try bounded by half of it, until
// etcd answers, the session ends or the client closes. deleted is
// whether a try deleted the key (false: cmp did not hold, or trying
// stopped).
func (c *Cluster) deleteClaimLater(key string, cmp clientv3.Cmp, sess *concurrency.Session, now bool) (deleted bool) {
	tick := time.NewTicker(c.LeaseTTL() / 4)
	defer tick.Stop()
	for {
		if now {
			ctx, cancel := context.WithTimeout(c.client.Ctx(), c.LeaseTTL()/2)
			deleted, err := c.deleteClaim(ctx, key, cmp)
			cancel()
			if err == nil {
				return deleted
			}
		}
		now = true
		select {
		case <-sess.Done():
			return false
		case <-c.client.Ctx().Done():
			return false
		case <-tick.C:
		}
	}
}
