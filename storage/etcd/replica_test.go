package etcd_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// testTTL is the replicas' lease TTL in these tests: short, so failover
// tests take seconds, yet long enough that a busy machine still renews.
const testTTL = 3 * time.Second

// dialReplica connects one replica to endpoints under prefix; it is closed
// when the test ends (closing it twice is harmless).
func dialReplica(t *testing.T, endpoints []string, prefix string) *etcd.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := etcd.Dial(ctx, etcd.Config{Endpoints: endpoints, Prefix: prefix, LeaseTTL: testTTL})
	if err != nil {
		t.Fatalf("dial etcd: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// crash ends a replica as SIGKILL would: its connection closes and its
// lease is NOT revoked, so what is bound to it lives until the TTL. A
// request in flight at that moment (a resign of the replica's own) may
// still reach etcd; kill is the exact SIGKILL.
func crash(t *testing.T, c *etcd.Cluster) {
	t.Helper()
	if err := c.Client().Close(); err != nil && !errors.Is(err, context.Canceled) {
		t.Logf("closing the crashed replica's client: %v", err)
	}
}

// kill ends a replica reaching etcd through px as SIGKILL would: not one
// more request reaches etcd (no resign, no revoke), so what is bound to
// its lease lives until the TTL.
func kill(t *testing.T, px *etcdtest.Proxy, c *etcd.Cluster) {
	t.Helper()
	px.Cut()
	crash(t, c)
}

// terms records the terms of leadership of several replicas on one
// timeline, and checks that two never overlap.
type terms struct {
	t  *testing.T
	mu sync.Mutex
	// active is the replica whose term runs ("" when none).
	active  string
	overlap []string
	started chan string // each term's replica, as it begins
	ended   map[string]time.Time
	begun   map[string]time.Time
}

func newTerms(t *testing.T) *terms {
	return &terms{t: t, started: make(chan string, 64), ended: map[string]time.Time{}, begun: map[string]time.Time{}}
}

// run is the fn a replica runs while leader.
func (ts *terms) run(name string) func(context.Context) {
	return func(ctx context.Context) {
		ts.mu.Lock()
		if ts.active != "" {
			ts.overlap = append(ts.overlap, ts.active+" and "+name)
		}
		ts.active = name
		ts.begun[name] = time.Now()
		ts.mu.Unlock()
		ts.started <- name
		<-ctx.Done()
		ts.mu.Lock()
		if ts.active == name {
			ts.active = ""
		}
		ts.ended[name] = time.Now()
		ts.mu.Unlock()
	}
}

// next waits for the next term to begin and returns its replica.
func (ts *terms) next(within time.Duration) string {
	ts.t.Helper()
	select {
	case name := <-ts.started:
		return name
	case <-time.After(within):
		ts.t.Fatalf("no replica became leader within %s", within)
		return ""
	}
}

func (ts *terms) check() {
	ts.t.Helper()
	ts.mu.Lock()
	defer ts.mu.Unlock()
	if len(ts.overlap) > 0 {
		ts.t.Errorf("terms of leadership overlapped: %v", ts.overlap)
	}
}

// elect runs an Election for replica name on c until the test ends.
func elect(t *testing.T, c *etcd.Cluster, name string, ts *terms) *etcd.Election {
	t.Helper()
	e := etcd.NewElection(c, name, nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = e.RunWhileLeader(ctx, ts.run(name))
	}()
	t.Cleanup(func() { cancel(); <-done })
	return e
}

func TestElection(t *testing.T) {
	t.Parallel() // own etcd server; the tests overlap, as most of their time is waiting on lease TTLs
	srv := etcdtest.Start(t)

	t.Run("one leader among three, another after its crash", func(t *testing.T) {
		prefix := "/election-crash/"
		ts := newTerms(t)
		clusters := map[string]*etcd.Cluster{}
		proxies := map[string]*etcdtest.Proxy{}
		elections := map[string]*etcd.Election{}
		for _, name := range []string{"a", "b", "c"} {
			proxies[name] = etcdtest.NewProxy(t, srv)
			clusters[name] = dialReplica(t, proxies[name].Endpoints(), prefix)
			elections[name] = elect(t, clusters[name], name, ts)
		}
		first := ts.next(10 * time.Second)
		// Leadership stays put while everyone renews.
		select {
		case name := <-ts.started:
			t.Fatalf("%s became leader while %s led and renewed its lease", name, first)
		case <-time.After(testTTL):
		}
		leaders := 0
		for _, e := range elections {
			if e.IsLeader() {
				leaders++
			}
		}
		if leaders != 1 || !elections[first].IsLeader() {
			t.Fatalf("IsLeader is true on %d replicas (want only %s)", leaders, first)
		}
		killed := time.Now()
		kill(t, proxies[first], clusters[first])
		second := ts.next(4 * testTTL)
		took := time.Since(killed)
		if second == first {
			t.Fatalf("the crashed replica %s led again", first)
		}
		// The crashed leader's lease lived on until it expired: the next
		// leader comes after about the TTL, not at once.
		if took < testTTL/2 || took > 3*testTTL {
			t.Errorf("the next leader came %s after the crash; want about the lease TTL (%s)", took, testTTL)
		}
		t.Logf("failover after a crash: %s (lease TTL %s)", took.Round(10*time.Millisecond), testTTL)
		ts.check()
	})

	t.Run("etcd restarted: the leader stops while it is down, one leads again after", func(t *testing.T) {
		prefix := "/election-restart/"
		ts := newTerms(t)
		a := elect(t, dialReplica(t, srv.Endpoints(), prefix), "a", ts)
		if name := ts.next(10 * time.Second); name != "a" {
			t.Fatalf("%s led; want a", name)
		}
		b := elect(t, dialReplica(t, srv.Endpoints(), prefix), "b", ts)
		time.Sleep(testTTL / 3)
		srv.Stop()
		stoppedAt := time.Now()
		eventuallyTrue(t, "a stops leading while etcd is down", func() bool { return !a.IsLeader() })
		if d := time.Since(stoppedAt); d >= testTTL {
			t.Errorf("a stopped leading %s after etcd stopped; want within its lease TTL (%s)", d, testTTL)
		}
		time.Sleep(testTTL / 2)
		srv.Restart()
		name := ts.next(6 * testTTL)
		time.Sleep(testTTL) // no second leader while the first renews
		if a.IsLeader() == b.IsLeader() {
			t.Errorf("after the restart IsLeader is a=%v b=%v; want exactly one (%s began a term)", a.IsLeader(), b.IsLeader(), name)
		}
		ts.check()
	})

	t.Run("a partitioned leader stops before its lease expires", func(t *testing.T) {
		prefix := "/election-partition/"
		ts := newTerms(t)
		px := etcdtest.NewProxy(t, srv)
		cut := dialReplica(t, px.Endpoints(), prefix)
		cutElection := elect(t, cut, "cut", ts)
		if name := ts.next(10 * time.Second); name != "cut" {
			t.Fatalf("%s led; want the only replica, cut", name)
		}
		other := elect(t, dialReplica(t, srv.Endpoints(), prefix), "other", ts)
		time.Sleep(testTTL / 3) // the other replica campaigns, and waits
		cutAt := time.Now()
		px.Cut()
		if name := ts.next(4 * testTTL); name != "other" {
			t.Fatalf("%s led after the partition; want other", name)
		}
		ts.mu.Lock()
		stopped, ok := ts.ended["cut"]
		otherBegan := ts.begun["other"]
		ts.mu.Unlock()
		if !ok {
			t.Fatal("the partitioned leader's term never ended")
		}
		if d := stopped.Sub(cutAt); d >= testTTL {
			t.Errorf("the partitioned leader stopped %s after the partition; want before its lease TTL (%s)", d, testTTL)
		}
		if !stopped.Before(otherBegan) {
			t.Errorf("the partitioned leader stopped at %s, after the other began leading at %s", stopped.Format(time.StampMilli), otherBegan.Format(time.StampMilli))
		}
		if cutElection.IsLeader() || !other.IsLeader() {
			t.Errorf("IsLeader: partitioned %v, other %v; want false, true", cutElection.IsLeader(), other.IsLeader())
		}
		t.Logf("partitioned leader stopped %s after the cut; the other led %s after it (lease TTL %s)",
			stopped.Sub(cutAt).Round(10*time.Millisecond), otherBegan.Sub(cutAt).Round(10*time.Millisecond), testTTL)
		ts.check()
	})
}

func TestOwners(t *testing.T) {
	t.Parallel() // own etcd server; the tests overlap, as most of their time is waiting on lease TTLs
	srv := etcdtest.Start(t)
	ctx := context.Background()

	t.Run("exclusive across two replicas, released only by its holder", func(t *testing.T) {
		prefix := "/owners-exclusive/"
		a := etcd.NewOwners(dialReplica(t, srv.Endpoints(), prefix), "a", nil)
		b := etcd.NewOwners(dialReplica(t, srv.Endpoints(), prefix), "b", nil)
		actx, release, ok, err := a.Take(ctx, "r1")
		if err != nil || !ok {
			t.Fatalf("a takes r1: ok %v, err %v", ok, err)
		}
		for _, o := range []*etcd.Owners{a, b} {
			if _, _, ok, err := o.Take(ctx, "r1"); ok || err != nil {
				t.Fatalf("a second Take of r1 (held by a): ok %v, err %v; want false, nil", ok, err)
			}
			if held, err := o.Held(ctx, "r1"); !held || err != nil {
				t.Fatalf("Held(r1) = %v, %v; want true", held, err)
			}
		}
		release()
		if actx.Err() == nil {
			t.Error("the released claim's context is still live")
		}
		bctx, releaseB, ok, err := b.Take(ctx, "r1")
		if err != nil || !ok {
			t.Fatalf("b takes r1 after a released it: ok %v, err %v", ok, err)
		}
		release() // a's release again: b's claim is not a's to free
		if held, _ := a.Held(ctx, "r1"); !held || bctx.Err() != nil {
			t.Fatalf("a's second release freed b's claim (held %v, b's ctx %v)", held, bctx.Err())
		}
		releaseB()
		if held, _ := a.Held(ctx, "r1"); held {
			t.Error("r1 is still held after its holder released it")
		}
	})

	t.Run("many takers at once: exactly one holds it", func(t *testing.T) {
		prefix := "/owners-race/"
		var owners []*etcd.Owners
		for _, name := range []string{"a", "b", "c"} {
			owners = append(owners, etcd.NewOwners(dialReplica(t, srv.Endpoints(), prefix), name, nil))
		}
		won := winners(t, 30, "Take", func(i int) (bool, error) {
			_, _, ok, err := owners[i%3].Take(ctx, "r2")
			return ok, err
		})
		if won != 1 {
			t.Errorf("%d of 30 concurrent Takes on 3 replicas won; want exactly 1", won)
		}
	})

	t.Run("a Take whose answer was lost leaves no claim behind", func(t *testing.T) {
		prefix := "/owners-lost-answer/"
		px := etcdtest.NewProxy(t, srv)
		a := etcd.NewOwners(dialReplica(t, px.Endpoints(), prefix), "a", nil)
		bc := dialReplica(t, srv.Endpoints(), prefix)
		b := etcd.NewOwners(bc, "b", nil)
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		puts := bc.Client().Watch(wctx, bc.Key("owners/r9"), clientv3.WithFilterDelete())
		if _, release, ok, err := a.Take(ctx, "warm"); !ok || err != nil {
			t.Fatalf("a takes warm: %v %v", ok, err)
		} else {
			release()
		}
		px.Mute() // a's requests reach etcd, its answers are lost
		if _, _, ok, err := a.Take(ctx, "r9"); ok || err == nil {
			t.Fatalf("a Take without etcd's answer: ok %v, err %v; want an error", ok, err)
		}
		select {
		case wr := <-puts:
			if len(wr.Events) == 0 {
				t.Fatalf("watching r9: %v", wr.Err())
			}
		case <-time.After(testTTL):
			t.Fatal("the Take's Txn was not committed, so this test shows nothing")
		}
		px.Unmute()
		// a lives on (its lease is renewed), so only undoing the Take frees
		// the job for a follower.
		for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
			_, release, ok, err := b.Take(ctx, "r9")
			if ok {
				release()
				break
			}
			if time.Since(start) > 2*testTTL {
				t.Fatalf("r9 still held by a Take that returned an error %s after etcd answered again (err %v)", time.Since(start), err)
			}
		}
		if _, release, ok, err := a.Take(ctx, "r10"); !ok || err != nil {
			t.Fatalf("a (alive) takes r10: %v %v", ok, err)
		} else {
			release()
		}
	})

	t.Run("a crashed replica's claim vanishes with its lease", func(t *testing.T) {
		prefix := "/owners-crash/"
		px := etcdtest.NewProxy(t, srv)
		dead := dialReplica(t, px.Endpoints(), prefix)
		if _, _, ok, err := etcd.NewOwners(dead, "dead", nil).Take(ctx, "r3"); !ok || err != nil {
			t.Fatalf("take: %v %v", ok, err)
		}
		live := etcd.NewOwners(dialReplica(t, srv.Endpoints(), prefix), "live", nil)
		crashed := time.Now()
		kill(t, px, dead)
		if held, _ := live.Held(ctx, "r3"); !held {
			t.Fatal("the claim vanished at once; a crash without revoke leaves it until the lease TTL")
		}
		for {
			held, err := live.Held(ctx, "r3")
			if err != nil {
				t.Fatal(err)
			}
			if !held {
				break
			}
			if time.Since(crashed) > 4*testTTL {
				t.Fatalf("the crashed replica's claim is still there %s after the crash", time.Since(crashed))
			}
			time.Sleep(100 * time.Millisecond)
		}
		if _, release, ok, err := live.Take(ctx, "r3"); !ok || err != nil {
			t.Fatalf("the live replica takes the dead one's job: %v %v", ok, err)
		} else {
			release()
		}
	})

	t.Run("Drop on one replica ends the follower on another", func(t *testing.T) {
		prefix := "/owners-drop/"
		holder := etcd.NewOwners(dialReplica(t, srv.Endpoints(), prefix), "holder", nil)
		sweeper := etcd.NewOwners(dialReplica(t, srv.Endpoints(), prefix), "sweeper", nil)
		hctx, release, ok, err := holder.Take(ctx, "r4")
		if !ok || err != nil {
			t.Fatalf("take: %v %v", ok, err)
		}
		defer release()
		if err := sweeper.Drop(ctx, "r4"); err != nil {
			t.Fatal(err)
		}
		select {
		case <-hctx.Done():
			if !errors.Is(context.Cause(hctx), etcd.ErrOwnershipLost) {
				t.Errorf("cause %v; want ErrOwnershipLost", context.Cause(hctx))
			}
		case <-time.After(testTTL):
			t.Fatal("the follower on the other replica was not cancelled after Drop")
		}
		if _, r, ok, err := sweeper.Take(ctx, "r4"); !ok || err != nil {
			t.Fatalf("the sweeper takes the dropped job: %v %v", ok, err)
		} else {
			defer r()
		}
	})

	t.Run("a partitioned replica stops following before its lease expires", func(t *testing.T) {
		prefix := "/owners-partition/"
		px := etcdtest.NewProxy(t, srv)
		cut := etcd.NewOwners(dialReplica(t, px.Endpoints(), prefix), "cut", nil)
		other := etcd.NewOwners(dialReplica(t, srv.Endpoints(), prefix), "other", nil)
		// other's session (its lease, granted on its first Take within
		// TTL/2) is set up now: under -race on a loaded machine the first
		// grant could outlast that bound, and this test is about the
		// takeover, not about a fresh replica's first connection.
		if _, r, ok, err := other.Take(ctx, "warm-up"); !ok || err != nil {
			t.Fatalf("the other replica's first take: %v %v", ok, err)
		} else {
			r()
		}
		cctx, release, ok, err := cut.Take(ctx, "r5")
		if !ok || err != nil {
			t.Fatalf("take: %v %v", ok, err)
		}
		defer release()
		cutAt := time.Now()
		px.Cut()
		select {
		case <-cctx.Done():
		case <-time.After(4 * testTTL):
			t.Fatal("the partitioned replica's follower was never cancelled")
		}
		stopped := time.Since(cutAt)
		if stopped >= testTTL {
			t.Errorf("the partitioned follower stopped %s after the cut; want before the lease TTL (%s)", stopped, testTTL)
		}
		// Only after the follower stopped may the other replica take over.
		if held, _ := other.Held(ctx, "r5"); !held {
			t.Error("the claim was gone before the partitioned follower stopped")
		}
		deadline := time.Now().Add(4 * testTTL)
		for {
			_, r, ok, err := other.Take(ctx, "r5")
			if err != nil {
				t.Fatal(err)
			}
			if ok {
				r()
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("the other replica never took the partitioned replica's job over")
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Logf("partitioned follower stopped %s after the cut; its claim expired %s after it", stopped.Round(10*time.Millisecond), time.Since(cutAt).Round(10*time.Millisecond))
	})

	// Last: it stops the shared server.
	t.Run("a claim released while etcd is down is deleted once it is back", func(t *testing.T) {
		prefix := "/owners-restart/"
		o := etcd.NewOwners(dialReplica(t, srv.Endpoints(), prefix), "o", nil)
		cctx, release, ok, err := o.Take(ctx, "r6")
		if !ok || err != nil {
			t.Fatalf("take: %v %v", ok, err)
		}
		srv.Stop()
		select {
		case <-cctx.Done():
		case <-time.After(2 * testTTL):
			t.Fatal("the follower went on while etcd was down past half the lease TTL")
		}
		release() // fails now: etcd is down
		srv.Restart()
		// The replica lives on, and with it the lease (etcd keeps leases
		// across a restart): only the retried release frees the job.
		eventuallyTrue(t, "the released claim deleted after etcd came back", func() bool {
			held, err := o.Held(ctx, "r6")
			return err == nil && !held
		})
	})
}
