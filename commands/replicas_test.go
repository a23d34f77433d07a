package commands_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// replicaTTL is the replicas' lease TTL in these tests.
const replicaTTL = 3 * time.Second

// replica is one bot replica on etcd: its connection, store, approvals
// service and router (with the etcd Election and Owners), sharing the
// agent of s and the chat rec with the other replicas.
type replica struct {
	name      string
	proxy     *etcdtest.Proxy
	cluster   *etcd.Cluster
	store     *etcd.Store
	approvals *approvals.Service
	router    *commands.Router
	election  *etcd.Election
}

// openReplicaStore dials etcd at endpoints under the replicas' prefix and
// opens the store and approvals service a replica runs on; the connection
// closes when the test ends.
func openReplicaStore(ctx context.Context, t *testing.T, endpoints []string) (*etcd.Cluster, *etcd.Store, *approvals.Service) {
	t.Helper()
	c, err := etcd.Dial(ctx, etcd.Config{Endpoints: endpoints, Prefix: "/replicas/", LeaseTTL: replicaTTL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	store, err := etcd.OpenStore(ctx, c, etcd.StoreOptions{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := approvals.NewService(store, approvals.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	return c, store, svc
}

// startReplica starts replica name; it reaches etcd through a proxy of
// its own (replica.proxy), which the test may cut.
func startReplica(t *testing.T, name string, srv *etcdtest.Server, s *simtest.Stack, rec bot.Chat) *replica {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	px := etcdtest.NewProxy(t, srv)
	c, store, svc := openReplicaStore(ctx, t, px.Endpoints())
	var err error
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("replica", name)
	}
	r := &replica{name: name, proxy: px, cluster: c, store: store, approvals: svc, election: etcd.NewElection(c, name, log)}
	r.router, err = commands.New(commands.Options{Hosts: []commands.Host{s.Host}, Approvals: svc, Audit: store, Logger: log,
		Leadership: r.election, Owners: etcd.NewOwners(c, name, log), ExpireEvery: 250 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	r.router.Register(rec)
	rctx, stop := context.WithCancel(context.Background())
	if err := r.router.Start(rctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { stop(); r.router.Close() })
	return r
}

// TestReplicaFailoverReattachesRunningMigrate: two replicas on one etcd
// and one real agent. The leader opens, wins the approval of and runs a
// slow migrate; it dies mid-run (cut from etcd, then its client closed:
// no resign, no revoke, as a SIGKILL leaves it). The other replica becomes leader after
// the lease TTL, re-attaches to the job, and posts its outcome in the
// original thread; migrate ran once and the audit chain verifies.
func TestReplicaFailoverReattachesRunningMigrate(t *testing.T) {
	srv := etcdtest.Start(t)
	s := simtest.Start(t, simtest.Options{Agent: func(cfg *agent.Config) { simtest.SimSpeed(cfg, "1") }})
	chat := newSweepChat() // keeps every reply as first posted
	rec := chat.recorder
	a := startReplica(t, "a", srv, s, chat)
	eventually(t, "replica a leading", a.election.IsLeader)
	b := startReplica(t, "b", srv, s, chat)
	ctx := context.Background()

	if err := handle(ctx, a.router, rec, bot.Command{Platform: rec.Platform(), User: alice, Channel: "C1", Text: "migrate -- upgrade to 17.5"}); err != nil {
		t.Fatal(err)
	}
	a.router.Wait()
	pending, err := b.store.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if err != nil || len(pending) != 1 {
		t.Fatalf("replica b sees %d pending requests (%v); want the one opened on a", len(pending), err)
	}
	id, root := pending[0].ID, pending[0].Thread
	if err := handle(ctx, a.router, rec, bot.Command{Platform: rec.Platform(), User: bob, Channel: "C1", Text: "approve " + id}); err != nil {
		t.Fatal(err)
	}
	var running *approvals.Request
	eventually(t, "the migrate running with its agent job", func() bool {
		running, _ = b.store.Request(ctx, id)
		return running != nil && running.State == approvals.StateRunning && running.JobID != ""
	})
	// While a lives, b's sweeps (b is not leader) and a's own leave it be.
	time.Sleep(replicaTTL / 2)
	if held, err := etcd.NewOwners(b.cluster, "probe", nil).Held(ctx, id); err != nil || !held {
		t.Fatalf("the running request has no owner in etcd (held %v, %v)", held, err)
	}

	// a dies as SIGKILL leaves it: not one more request reaches etcd.
	crashed := time.Now()
	a.proxy.Cut()
	if err := a.cluster.Client().Close(); err != nil {
		t.Logf("closing a's client: %v", err)
	}
	eventually(t, "replica b leading", b.election.IsLeader)
	tookOver := time.Since(crashed)
	if tookOver < replicaTTL/2 {
		t.Errorf("b led %s after a's crash; a's lease (TTL %s) should have kept it out until it expired", tookOver, replicaTTL)
	}
	eventually(t, "the request finished", func() bool {
		got, _ := b.store.Request(ctx, id)
		return got != nil && got.State.Terminal()
	})
	b.router.Wait()
	got, _ := b.store.Request(ctx, id)
	if got.State != approvals.StateSucceeded {
		t.Fatalf("request %s (%s), want succeeded", got.State, got.Error)
	}
	if job, err := s.Client.Job(ctx, running.JobID); err != nil || job.State != agent.StateSucceeded {
		t.Fatalf("agent job %s: %s, %v", running.JobID, job.State, err)
	}
	// b's messages are replies in the original thread.
	contains(t, chat.replies(), "The bot replica that followed it stopped and another took over; following the job again.")
	contains(t, rec.thread(root), "All up on gitlab-sim")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times on the agent; want once", n)
	}
	rep, err := auditchain.Verify(ctx, b.store, approvalstest.Key, nil)
	if err != nil {
		t.Fatalf("audit verify after the failover: %v (%+v)", err, rep)
	}
	finished := 0
	entries, err := b.store.TailAudit(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.RequestID == id && e.Action == approvals.ActionRequestFinished {
			finished++
		}
	}
	if finished != 1 {
		t.Errorf("%d request.finished entries for %s; want 1", finished, id)
	}
	t.Logf("failover: b led %s after a's crash (lease TTL %s)", tookOver.Round(10*time.Millisecond), replicaTTL)
}

// TestLeaderRecoveryLeavesLiveReplicasApproved: a replica that becomes
// leader abandons the approved requests nobody holds (left by a dead
// process) but never one a live replica holds to start it.
func TestLeaderRecoveryLeavesLiveReplicasApproved(t *testing.T) {
	srv := etcdtest.Start(t)
	s := simtest.Start(t, simtest.Options{})
	ctx := context.Background()
	c, store, svc := openReplicaStore(ctx, t, srv.Endpoints())
	rec := newRecorder()
	approved := func(thread string) (string, string) {
		root, _ := rec.PostRoot(ctx, "C1", bot.Message{Text: bot.Plain("approval " + thread)})
		req, err := svc.Open(ctx, approvals.NewRequest{Platform: "test", Channel: "C1", Thread: root.ID, Host: simtest.HostName,
			Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"}, Requester: approvals.User{ID: "U-alice", Name: "alice"}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Approve(ctx, req.ID, approvals.User{ID: "U-bob", Name: "bob"}, ""); err != nil {
			t.Fatal(err)
		}
		return req.ID, root.ID
	}
	live, liveRoot := approved("live")
	orphan, orphanRoot := approved("orphan")
	// The live replica holds its request's claim, about to start it.
	if _, release, ok, err := etcd.NewOwners(c, "live", nil).Take(ctx, live); !ok || err != nil {
		t.Fatalf("the live replica takes its request: %v %v", ok, err)
	} else {
		defer release()
	}
	leader := startReplica(t, "leader", srv, s, rec)
	eventually(t, "the new replica leading", leader.election.IsLeader)
	eventually(t, "the orphaned approval abandoned", func() bool {
		got, _ := store.Request(ctx, orphan)
		return got != nil && got.State == approvals.StateInterrupted
	})
	leader.router.Wait()
	if got, err := store.Request(ctx, live); err != nil {
		t.Fatalf("reading the live replica's request: %v", err)
	} else if got.State != approvals.StateApproved {
		t.Errorf("the live replica's approved request is %s (%s); recovery must leave it approved", got.State, got.Error)
	}
	// The thread is told after the state is recorded.
	eventually(t, "the orphaned approval's thread told", func() bool {
		return strings.Contains(strings.Join(rec.thread(orphanRoot), "\n"), "Nothing ran")
	})
	if th := rec.thread(liveRoot); len(th) != 1 || !strings.Contains(th[0], "approval live") {
		t.Errorf("the leader touched the live replica's request in chat: %q", th)
	}
}

// TestConcurrentApprovalsAcrossReplicasRunOnce: 100 approvals of one
// migrate, by ten users, clicked and typed, split across two replicas on
// one etcd: exactly one migrate reaches the agent and the request
// succeeds (the claim taken before an approval never leaves the winner
// unable to start it).
func TestConcurrentApprovalsAcrossReplicasRunOnce(t *testing.T) {
	srv := etcdtest.Start(t)
	s := simtest.Start(t, simtest.Options{})
	rec := newRecorder()
	replicas := []*replica{startReplica(t, "a", srv, s, rec), startReplica(t, "b", srv, s, rec)}
	ctx := context.Background()
	if err := handle(ctx, replicas[1].router, rec, bot.Command{Platform: rec.Platform(), User: alice, Channel: "C1", Text: "migrate -- upgrade to 17.5"}); err != nil {
		t.Fatal(err)
	}
	replicas[1].router.Wait()
	pending, err := replicas[0].store.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if err != nil || len(pending) != 1 {
		t.Fatalf("%d pending requests (%v); want 1", len(pending), err)
	}
	id, root := pending[0].ID, pending[0].Thread
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Go(func() {
			r := replicas[i%2].router
			u := bot.User{ID: fmt.Sprintf("U-%d", i%10), Name: fmt.Sprintf("user%d", i%10)}
			if i%4 < 2 {
				_ = click(ctx, r, rec, bot.Action{Platform: rec.Platform(), User: u, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id})
			} else {
				_ = handle(ctx, r, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: "approve " + id})
			}
		})
	}
	wg.Wait()
	eventually(t, "the request finished", func() bool {
		got, _ := replicas[0].store.Request(ctx, id)
		return got != nil && got.State.Terminal()
	})
	for _, r := range replicas {
		r.router.Wait()
	}
	if got, _ := replicas[0].store.Request(ctx, id); got.State != approvals.StateSucceeded {
		t.Fatalf("request %s (%s); want succeeded", got.State, got.Error)
	}
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Fatalf("migrate ran %d times on the agent; want exactly 1", n)
	}
	entries, err := replicas[0].store.TailAudit(ctx, 1000)
	if err != nil {
		t.Fatal(err)
	}
	started := 0
	for _, e := range entries {
		if e.RequestID == id && e.Action == approvals.ActionRequestStarted {
			started++
		}
	}
	if started != 1 {
		t.Errorf("%d request.started entries; want 1", started)
	}
}
