package etcd_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/leader"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/schedule/scheduletest"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

var _ schedule.Claims = (*etcd.ScheduleClaims)(nil)

// TestScheduleClaims: on a real etcd, a schedule's run claim is held by
// one replica at a time, freed by its release or by the death of its
// replica (the lease), and a due time is fired by one caller only.
func TestScheduleClaims(t *testing.T) {
	t.Parallel() // own etcd server; the tests overlap, as most of their time is waiting on lease TTLs
	srv := etcdtest.Start(t)
	ctx := context.Background()

	t.Run("run claim: exclusive, released, gone with a crashed replica", func(t *testing.T) {
		a := etcd.NewScheduleClaims(dialReplica(t, srv.Endpoints(), "/claims/"))
		bc := dialReplica(t, srv.Endpoints(), "/claims/")
		b := etcd.NewScheduleClaims(bc)
		release, ok, err := a.Claim(ctx, "s1")
		if err != nil || !ok {
			t.Fatalf("first claim: %v, %v", ok, err)
		}
		if _, ok, err := b.Claim(ctx, "s1"); ok || err != nil {
			t.Fatalf("claim on another replica while held: %v, %v; want refused", ok, err)
		}
		if running, err := b.Running(ctx, "s1"); !running || err != nil {
			t.Errorf("Running on another replica = %v, %v; want true", running, err)
		}
		if _, ok, _ := b.Claim(ctx, "s2"); !ok {
			t.Error("another schedule could not be claimed")
		}
		if err := release(ctx); err != nil {
			t.Fatal(err)
		}
		if running, _ := a.Running(ctx, "s1"); running {
			t.Error("still running after its release")
		}
		if _, ok, err := b.Claim(ctx, "s1"); !ok || err != nil {
			t.Fatalf("claim after the release: %v, %v", ok, err)
		}
		// b dies holding s1 (and s2): its lease is not revoked, the claims
		// live until it expires, then a can claim.
		crash(t, bc)
		if _, ok, _ := a.Claim(ctx, "s1"); ok {
			t.Fatal("claimed at once after the holder crashed; its lease still runs")
		}
		deadline := time.Now().Add(4 * testTTL)
		for {
			if _, ok, err := a.Claim(ctx, "s1"); err != nil {
				t.Fatal(err)
			} else if ok {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the crashed replica's claim outlived its lease TTL (%s) by far", testTTL)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	t.Run("a claim whose answer was lost holds nothing", func(t *testing.T) {
		prefix := "/claims-lost-answer/"
		px := etcdtest.NewProxy(t, srv)
		a := etcd.NewScheduleClaims(dialReplica(t, px.Endpoints(), prefix))
		bc := dialReplica(t, srv.Endpoints(), prefix)
		b := etcd.NewScheduleClaims(bc)
		if release, ok, err := a.Claim(ctx, "s0"); !ok || err != nil { // a's session, before the answers go
			t.Fatalf("a claims s0: %v %v", ok, err)
		} else if err := release(ctx); err != nil {
			t.Fatal(err)
		}
		wctx, stopWatch := context.WithCancel(ctx)
		defer stopWatch()
		puts := bc.Client().Watch(wctx, bc.Key("schedule_runs/s9"), clientv3.WithFilterDelete())
		px.Mute()
		cctx, cancel := context.WithTimeout(ctx, testTTL/3)
		_, ok, err := a.Claim(cctx, "s9")
		cancel()
		if ok || err == nil {
			t.Fatalf("a claim without etcd's answer: ok %v, err %v; want an error", ok, err)
		}
		select {
		case wr := <-puts:
			if len(wr.Events) == 0 {
				t.Fatalf("watching s9: %v", wr.Err())
			}
		case <-time.After(testTTL):
			t.Fatal("the claim's Txn was not committed, so this test shows nothing")
		}
		px.Unmute()
		// a lives on, so only undoing the claim frees the schedule.
		for start := time.Now(); ; time.Sleep(100 * time.Millisecond) {
			release, ok, err := b.Claim(ctx, "s9")
			if ok {
				_ = release(ctx)
				break
			}
			if time.Since(start) > 2*testTTL {
				t.Fatalf("s9 still held by a claim that returned an error %s after etcd answered again (err %v)", time.Since(start), err)
			}
		}
	})

	t.Run("a due time fires once", func(t *testing.T) {
		replicas := []*etcd.ScheduleClaims{
			etcd.NewScheduleClaims(dialReplica(t, srv.Endpoints(), "/ticks/")),
			etcd.NewScheduleClaims(dialReplica(t, srv.Endpoints(), "/ticks/")),
			etcd.NewScheduleClaims(dialReplica(t, srv.Endpoints(), "/ticks/")),
		}
		due := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
		n := winners(t, 30, "ClaimTick", func(i int) (bool, error) { return replicas[i%3].ClaimTick(ctx, "s1", due) })
		if n != 1 {
			t.Fatalf("%d of 30 concurrent claims of one due time fired, want 1", n)
		}
		for _, c := range []struct {
			name string
			id   string
			due  time.Time
			want bool
		}{
			{"the same due time again", "s1", due, false},
			{"an earlier one (a catch-up behind it)", "s1", due.Add(-time.Hour), false},
			{"the next one", "s1", due.Add(time.Hour), true},
			{"the same time of another schedule", "s2", due, true},
			{"the same time in another zone", "s1", due.Add(time.Hour).In(time.FixedZone("X", 3600)), false},
		} {
			if ok, err := replicas[1].ClaimTick(ctx, c.id, c.due); ok != c.want || err != nil {
				t.Errorf("%s: ClaimTick = %v, %v; want %v", c.name, ok, err, c.want)
			}
		}
	})

	t.Run("a removed chat schedule's tick goes with it", func(t *testing.T) {
		c := dialReplica(t, srv.Endpoints(), "/ticks-removed/")
		st, claims := openStore(t, c, etcd.StoreOptions{}), etcd.NewScheduleClaims(c)
		sc, err := st.AddSchedule(ctx, schedule.Schedule{Spec: "*/10 * * * *", Platform: "slack", Channel: "C1", What: schedule.WhatStatus})
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := claims.ClaimTick(ctx, sc.ID, time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)); !ok || err != nil {
			t.Fatalf("ClaimTick = %v, %v", ok, err)
		}
		ticks := func() int64 {
			r, err := c.Client().Get(ctx, c.Key("schedule_ticks/"), clientv3.WithPrefix(), clientv3.WithCountOnly())
			if err != nil {
				t.Fatal(err)
			}
			return r.Count
		}
		if n := ticks(); n != 1 {
			t.Fatalf("%d tick keys after a fired tick, want 1", n)
		}
		if err := st.RemoveSchedule(ctx, sc.ID); err != nil {
			t.Fatal(err)
		}
		if n := ticks(); n != 0 {
			t.Fatalf("%d tick keys left after the schedule was removed, want none", n)
		}
	})
}

// tickRunner is the Runner of every replica: it counts runs by the time
// on the shared manual clock when they started, and holds them while
// hold is set.
type tickRunner struct {
	clock *scheduletest.Clock
	mu    sync.Mutex
	runs  map[time.Time]int
	hold  chan struct{}
}

func (r *tickRunner) Run(ctx context.Context, _ schedule.Schedule) (schedule.Result, schedule.PostFunc, error) {
	r.mu.Lock()
	r.runs[r.clock.Now()]++
	hold := r.hold
	r.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return schedule.Result{}, nil, ctx.Err()
		}
	}
	return schedule.Result{Facts: map[string]string{"main": "all up"}}, func(context.Context, schedule.Post) error { return nil }, nil
}

func (r *tickRunner) setHold(c chan struct{}) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.hold = c
}

func (r *tickRunner) counts() map[time.Time]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[time.Time]int{}
	for k, v := range r.runs {
		out[k] = v
	}
	return out
}

// replicaScheduler is one replica's Scheduler on its own Cluster: its own
// Store, Claims and Leadership, as serve builds them on etcd.
type replicaScheduler struct {
	cluster *etcd.Cluster
	sched   *schedule.Scheduler
	lead    leader.Leadership
	stop    func()
}

func startReplicaScheduler(t *testing.T, srv *etcdtest.Server, prefix string, clock *scheduletest.Clock, runner *tickRunner,
	outcomes chan<- string, lead func(*etcd.Cluster) leader.Leadership) *replicaScheduler {
	t.Helper()
	c := dialReplica(t, srv.Endpoints(), prefix)
	r := &replicaScheduler{cluster: c, lead: lead(c)}
	var err error
	r.sched, err = schedule.New(schedule.Config{
		Schedules: []schedule.Schedule{{ID: "every10", Spec: "*/10 * * * *", Platform: "slack", Channel: "C1",
			What: schedule.WhatStatus, CatchUp: true}},
		Whats:      schedule.Whats{ReadOnly: []string{schedule.WhatStatus}},
		Store:      openStore(t, c, etcd.StoreOptions{}),
		Runner:     runner,
		Leadership: r.lead,
		Claims:     etcd.NewScheduleClaims(c),
		Clock:      clock,
		Logger:     slog.New(slog.NewTextHandler(io.Discard, nil)),
		Observe:    func(_ schedule.Schedule, outcome string) { outcomes <- outcome },
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = r.sched.Run(ctx)
	}()
	r.stop = sync.OnceFunc(func() { cancel(); <-done })
	t.Cleanup(r.stop)
	return r
}

// waitTimers waits until n loops wait for due (within guard).
func waitTimers(t *testing.T, clock *scheduletest.Clock, n int, due time.Time, guard time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), guard)
	defer cancel()
	if _, err := clock.WaitUntil(ctx, "the loops waiting for "+due.String(), func(ts []time.Time) bool {
		if len(ts) != n {
			return false
		}
		for _, x := range ts {
			if !x.Equal(due) {
				return false
			}
		}
		return true
	}); err != nil {
		t.Fatal(err)
	}
}

func wantOutcome(t *testing.T, outcomes <-chan string, want string) {
	t.Helper()
	select {
	case got := <-outcomes:
		if got != want {
			t.Fatalf("outcome %s, want %s", got, want)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("no run finished (want %s)", want)
	}
}

// TestSchedulesOncePerTickAcrossReplicas: three Schedulers (three
// Clusters, each its own etcd Store and Claims, one manual clock) fire
// each tick exactly once, even when all three loop at once (as a new
// leader and an old one may, for a moment); a `schedules run` on another
// replica does not overlap a run; and after the leader (elected) crashes
// mid-run, the next leader neither fires that tick again nor catches it
// up, and fires the next one once.
func TestSchedulesOncePerTickAcrossReplicas(t *testing.T) {
	t.Parallel() // own etcd server; the tests overlap, as most of their time is waiting on lease TTLs
	srv := etcdtest.Start(t)
	start := time.Date(2026, 1, 5, 9, 55, 0, 0, time.UTC)

	t.Run("three loops at once", func(t *testing.T) {
		clock := scheduletest.NewClock(start)
		runner := &tickRunner{clock: clock, runs: map[time.Time]int{}}
		outcomes := make(chan string, 100)
		var replicas []*replicaScheduler
		for range 3 {
			replicas = append(replicas, startReplicaScheduler(t, srv, "/sched-all/", clock, runner, outcomes,
				func(*etcd.Cluster) leader.Leadership { return leader.Always{} }))
		}
		due := start.Add(5 * time.Minute)
		for range 3 {
			waitTimers(t, clock, 3, due, 10*time.Second)
			clock.Set(due)
			wantOutcome(t, outcomes, schedule.OutcomePosted)
			due = due.Add(10 * time.Minute)
		}
		// A run in progress on one replica (the tick's, held) makes
		// `schedules run` on every replica busy.
		hold := make(chan struct{})
		runner.setHold(hold)
		waitTimers(t, clock, 3, due, 10*time.Second)
		clock.Set(due)
		eventuallyTrue(t, "the held run started", func() bool { return runner.counts()[due] == 1 })
		for _, r := range replicas {
			if err := r.sched.RunNow(context.Background(), "every10"); !errors.Is(err, schedule.ErrBusy) {
				t.Errorf("schedules run during a run on some replica: %v, want ErrBusy", err)
			}
		}
		close(hold)
		wantOutcome(t, outcomes, schedule.OutcomePosted)
		for _, r := range replicas {
			r.stop()
		}
		counts := runner.counts()
		for at, n := range counts {
			if n != 1 {
				t.Errorf("the tick at %s ran %d times across the replicas, want once", at.Format(time.TimeOnly), n)
			}
		}
		if len(counts) != 4 {
			t.Errorf("%d ticks ran, want 4: %v", len(counts), counts)
		}
		select {
		case o := <-outcomes:
			t.Errorf("an extra run: %s", o)
		default:
		}
	})

	t.Run("leader crashes mid-run", func(t *testing.T) {
		clock := scheduletest.NewClock(start)
		runner := &tickRunner{clock: clock, runs: map[time.Time]int{}}
		outcomes := make(chan string, 100)
		var replicas []*replicaScheduler
		for i := range 3 {
			replicas = append(replicas, startReplicaScheduler(t, srv, "/sched-elected/", clock, runner, outcomes,
				func(c *etcd.Cluster) leader.Leadership {
					return etcd.NewElection(c, string(rune('a'+i)), slog.New(slog.NewTextHandler(io.Discard, nil)))
				}))
		}
		t1 := start.Add(5 * time.Minute)
		waitTimers(t, clock, 1, t1, 20*time.Second) // only the leader loops
		clock.Set(t1)
		wantOutcome(t, outcomes, schedule.OutcomePosted)

		t2 := t1.Add(10 * time.Minute)
		hold := make(chan struct{})
		runner.setHold(hold)
		waitTimers(t, clock, 1, t2, 10*time.Second)
		clock.Set(t2)
		eventuallyTrue(t, "the run of the second tick started", func() bool { return runner.counts()[t2] == 1 })
		var old *replicaScheduler
		for _, r := range replicas {
			if r.lead.IsLeader() {
				old = r
			}
		}
		if old == nil {
			t.Fatal("no replica leads")
		}
		crash(t, old.cluster)
		// The old leader's loop armed its timer for t3 as it started the
		// run of t2 (runs are asynchronous), so a timer at t3 alone does
		// not show a new leader: first the crashed replica stops leading
		// (its term ends TTL/2 after its last renewal, which stops that
		// timer), then another leads, and only then is its timer awaited.
		eventuallyTrue(t, "the crashed replica stops leading", func() bool { return !old.lead.IsLeader() })
		eventuallyTrue(t, "another replica leads", func() bool {
			for _, r := range replicas {
				if r != old && r.lead.IsLeader() {
					return true
				}
			}
			return false
		})
		// The next leader (after the old lease's TTL) catches up nothing:
		// the tick it would catch up was fired by the old leader.
		t3 := t2.Add(10 * time.Minute)
		waitTimers(t, clock, 1, t3, 6*testTTL)
		close(hold)
		clock.Set(t3)
		wantOutcome(t, outcomes, schedule.OutcomePosted)
		for _, r := range replicas {
			r.stop()
		}
		want := map[time.Time]int{t1: 1, t2: 1, t3: 1}
		if got := runner.counts(); len(got) != len(want) || got[t1] != 1 || got[t2] != 1 || got[t3] != 1 {
			t.Errorf("runs by tick %v, want each of 10:00, 10:10, 10:20 once", got)
		}
	})
}

func eventuallyTrue(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("not within 10 s: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
