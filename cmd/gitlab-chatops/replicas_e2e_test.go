package main

import (
	"fmt"
	"os"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// The replica end-to-end tests (issue 13): real serve processes (the built
// binary) on one real etcd, one real agent over the simulator and a fake
// Mattermost API (replicas_test.go). Each is bounded in time by its waits.

// TestReplicasHundredApprovalsOneExecution: two replicas, one migrate
// request and 100 approvers approving it at once, half on each replica,
// half by the card's button and half by typing `approve <id>`: exactly one
// approval counts, the request starts once, the agent runs migrate once and
// its outcome is posted once; every other attempt is refused and audited;
// the audit trail, read from etcd, verifies.
func TestReplicasHundredApprovalsOneExecution(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd, an agent and two serve processes")
	}
	channel, alice := model.NewId(), model.NewId()
	approvers := make([]string, 100)
	for i := range approvers {
		approvers[i] = model.NewId()
	}
	s := startReplicas(t, replicaOptions{n: 2, speed: "0", leaseTTL: "4s", approvers: approvers})
	card, actx, id := s.openMigrate(t, s.reps[0], alice, channel)

	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, u := range approvers {
		r := s.reps[i%2]
		typed := i/2%2 == 1
		wg.Go(func() {
			<-start
			var err error
			if typed {
				_, err = r.slash(t, u, channel, "approve "+id)
			} else {
				_, err = r.click(t, u, channel, card, actx)
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	close(start)
	wg.Wait()
	done := s.waitPost(t, "Done: migrate on gitlab-sim succeeded", 90*time.Second)
	if done.Id != card.Id && done.RootId != card.Id {
		t.Errorf("the outcome was posted outside the request's thread (post %s, root %q; the card is %s)", done.Id, done.RootId, card.Id)
	}

	// Every attempt reached a decision: one approval and 99 refusals,
	// each audited once, and one start, one job and one outcome.
	var actions map[string]int
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		actions = s.auditActions(t, id)
		if actions[approvals.ActionRequestApproved]+actions[approvals.ActionRequestRefused] >= len(approvers) &&
			actions[approvals.ActionRequestFinished] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("not every approval attempt was decided and audited: %v\nlogs:\n%s", actions, s.logs())
		}
	}
	t.Logf("request %s audited: %v", id, actions)
	want := map[string]int{
		approvals.ActionRequestOpened: 1, approvals.ActionRequestApproved: 1, approvals.ActionRequestRefused: len(approvers) - 1,
		approvals.ActionRequestStarted: 1, approvals.ActionRequestJob: 1, approvals.ActionRequestFinished: 1,
	}
	for a, n := range want {
		if actions[a] != n {
			t.Errorf("%d %s entries for request %s, want %d (all: %v)", actions[a], a, id, n, actions)
		}
	}
	if n := migrateJobs(t, s.agentDir); n != 1 {
		t.Errorf("the agent ran migrate %d times, want exactly once", n)
	}
	if n := len(s.fm.postsWith("Done: migrate on gitlab-sim")); n != 1 {
		t.Errorf("the outcome was posted %d times, want once:\n%s", n, s.fm.text())
	}
	s.auditVerify(t)
}

// TestReplicasLeaderKilledMidMigrate: two replicas; the leader records the
// approval of a migrate and follows its job; it is killed (SIGKILL: no
// lease revoked, nothing flushed) while the migrate runs. The other
// replica becomes leader once the dead one's lease has expired (its
// recovery re-attaches), follows the job through the agent, says so in
// the request's thread, and posts the after-check's "All up" and the
// outcome there, in the ORIGINAL thread. The agent ran migrate once and
// the audit trail, read from etcd, verifies with one start and one
// outcome.
func TestReplicasLeaderKilledMidMigrate(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	if testing.Short() {
		t.Skip("starts etcd, an agent and two serve processes")
	}
	channel, alice, bob := model.NewId(), model.NewId(), model.NewId()
	// At speed 2 a migrate takes about 15 s: time to kill the leader
	// within it.
	s := startReplicas(t, replicaOptions{n: 2, speed: "2", leaseTTL: "4s", approvers: []string{bob}})
	f := failover(t, s, s.leader(t), alice, bob, channel)
	t.Logf("leader killed; the other replica re-attached after %s (lease TTL 4s)", f.took.Round(time.Millisecond))
	if !f.survivor.leads(t) {
		t.Errorf("%s re-attached without being the leader", f.survivor.name)
	}
	f.checkFinishedOnce(t, s)
}

// TestReplicasFollowerKilledMidMigrate: two replicas; the one that is NOT
// the leader records the approval and follows the job, and is killed
// (SIGKILL) while the migrate runs. The leader goes on leading; once the
// dead replica's lease has expired its claim on the job is gone, and the
// leader's sweep adopts the job (at its next round, every 30 s), re-attaches
// and posts "All up" and the outcome in the original thread; migrate ran
// once and the trail verifies.
func TestReplicasFollowerKilledMidMigrate(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	if testing.Short() {
		t.Skip("starts etcd, an agent and two serve processes")
	}
	channel, alice, bob := model.NewId(), model.NewId(), model.NewId()
	s := startReplicas(t, replicaOptions{n: 2, speed: "2", leaseTTL: "4s", approvers: []string{bob}})
	lead := s.leader(t)
	f := failover(t, s, s.other(lead), alice, bob, channel)
	t.Logf("follower killed; the leader adopted the job after %s", f.took.Round(time.Millisecond))
	if f.survivor != lead || !lead.leads(t) {
		t.Errorf("the leader changed (%s was, %s took over)", lead.name, f.survivor.name)
	}
	f.checkFinishedOnce(t, s)
}

// checkFinishedOnce checks what follows a failover: the re-attach note, the
// after-check's "All up" and the outcome are in the request's original
// thread; the agent ran migrate once; the trail (read from etcd) has one
// approval, start and outcome, and verifies.
func (f failedOver) checkFinishedOnce(t *testing.T, s *replicaSet) {
	t.Helper()
	if f.reattach.RootId != f.card.Id {
		t.Errorf("the re-attach note is not in the request's thread (root %q, card %s)", f.reattach.RootId, f.card.Id)
	}
	allUp := s.waitPost(t, "All up on gitlab-sim", 90*time.Second)
	if allUp.RootId != f.card.Id {
		t.Errorf("\"All up\" was posted outside the original thread (root %q, card %s):\n%s", allUp.RootId, f.card.Id, s.fm.text())
	}
	done := s.waitPost(t, "Done: migrate on gitlab-sim succeeded", 90*time.Second)
	if done.Id != f.card.Id && done.RootId != f.card.Id {
		t.Errorf("the outcome was posted outside the original thread (post %s, root %q, card %s)", done.Id, done.RootId, f.card.Id)
	}
	if n := migrateJobs(t, s.agentDir); n != 1 {
		t.Errorf("the agent ran migrate %d times, want exactly once", n)
	}
	var actions map[string]int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if actions = s.auditActions(t, f.id); actions[approvals.ActionRequestFinished] > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the outcome was never audited: %v", actions)
		}
	}
	for _, a := range []string{approvals.ActionRequestApproved, approvals.ActionRequestStarted, approvals.ActionRequestFinished} {
		if actions[a] != 1 {
			t.Errorf("%d %s entries, want 1 (all: %v)", actions[a], a, actions)
		}
	}
	s.auditVerify(t)
}

// failedOver is what failover observed.
type failedOver struct {
	card     *model.Post // the request's card: its thread is the original one
	id       string      // the request
	survivor *replica    // the replica that took over
	reattach *model.Post // its re-attach note ("🔁 …"), as created
	took     time.Duration
}

// failover has alice open a migrate on victim and bob approve it there
// (so victim follows the job), kills victim (SIGKILL) once the agent runs
// the migrate, and waits for another replica's re-attach note ("🔁 …;
// following the job again", or "… meanwhile" if the job ended first).
// took is from the kill to that note: the failover time. On bbolt (one
// replica) the killed process is started again at once instead.
func failover(t testing.TB, s *replicaSet, victim *replica, alice, bob, channel string) failedOver {
	t.Helper()
	card, actx, id := s.openMigrate(t, victim, alice, channel)
	if _, err := victim.click(t, bob, channel, card, actx); err != nil {
		t.Fatal(err)
	}
	victim.logs.wait(t, regexp.MustCompile(`"msg":"agent job started"`))
	killed := time.Now()
	victim.stop(os.Kill)
	if len(s.fm.postsWith("Done: migrate")) > 0 {
		t.Fatal("the migrate finished before its follower was killed; the test proves nothing (slow the simulator down)")
	}
	survivor := s.other(victim)
	if s.etcd == nil {
		// One bbolt file, one process: its failover is the restart
		// (systemd's Restart=always), on the same file.
		victim.start(t)
		survivor = victim
	}
	// The note becomes the progress post, then the result: as created.
	note := s.waitCreated(t, "🔁", 90*time.Second)
	return failedOver{card: card, id: id, survivor: survivor, reattach: note,
		took: time.UnixMilli(note.CreateAt).Sub(killed)}
}

// TestReplicasScheduleOncePerTick: three replicas with one schedule due
// every minute. Each tick is posted once across the replicas, also across
// a leader change: the leader is killed (SIGKILL) after the first tick,
// and the next tick is posted once, by the new leader, in the next minute
// (none missed, none doubled: a catch-up of a tick the old leader fired
// is not repeated). The audit trail has one scheduled run per post.
//
// Real time: the spec's shortest period is a minute (schedule.MinEvery),
// so this test takes up to about two and a half minutes.
func TestReplicasScheduleOncePerTick(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	if testing.Short() {
		t.Skip("starts etcd, an agent and three serve processes, and waits for two minute ticks")
	}
	channel, bob := model.NewId(), model.NewId()
	const id = "minutely-status"
	s := startReplicas(t, replicaOptions{n: 3, speed: "0", leaseTTL: "4s", approvers: []string{bob}, extra: fmt.Sprintf(`schedules:
  - id: %s
    spec: "* * * * *"
    channel: %s
    what: status
`, id, channel)})
	ticks := func() []*model.Post {
		var out []*model.Post
		for _, p := range s.fm.createdWith(id) {
			if p.RootId == "" && p.ChannelId == channel {
				out = append(out, p)
			}
		}
		return out
	}
	waitTicks := func(n int) []*model.Post {
		t.Helper()
		for deadline := time.Now().Add(90 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if got := ticks(); len(got) >= n {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d scheduled posts, want %d:\n%s\nlogs:\n%s", len(ticks()), n, s.fm.text(), s.logs())
			}
		}
	}
	first := waitTicks(1)[0]
	lead := s.leader(t)
	killed := time.Now()
	lead.stop(os.Kill)
	waitTicks(2)
	// Quiet period: a doubled tick would be posted by another replica at
	// the same minute boundary, or by the new leader's catch-up within the
	// lease TTL of the kill; 10 s covers both.
	time.Sleep(10 * time.Second)

	got := ticks()
	minutes := map[int64]int{}
	for _, p := range got {
		minutes[time.UnixMilli(p.CreateAt).Truncate(time.Minute).Unix()]++
	}
	for m, n := range minutes {
		if n != 1 {
			t.Errorf("the tick of %s was posted %d times, want once", time.Unix(m, 0).UTC().Format("15:04"), n)
		}
	}
	second := got[len(got)-1]
	if time.UnixMilli(second.CreateAt).Before(killed) {
		t.Errorf("no tick was posted after the leader was killed")
	}
	if gap := time.UnixMilli(second.CreateAt).Truncate(time.Minute).Sub(time.UnixMilli(first.CreateAt).Truncate(time.Minute)); len(minutes) == 2 && gap != time.Minute {
		t.Errorf("the ticks posted are %s apart, want the next minute's (a tick was missed across the leader change)", gap)
	}
	if len(minutes) < 2 {
		t.Errorf("%d distinct ticks posted, want 2:\n%s", len(minutes), s.fm.text())
	}
	runs := 0
	for _, e := range s.auditEntries(t) {
		if e.Action == approvals.ActionReadOnlyRun && e.Actor == approvals.ActorScheduler && strings.Contains(e.ActorName, id) {
			runs++
		}
	}
	if runs != len(got) {
		t.Errorf("%d scheduled runs audited, %d posted; want one entry per post", runs, len(got))
	}
	s.auditVerify(t)
}
