package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// busyAgent is an agent with one read-only slot (plus the one reserved for
// approval checks) whose GitLab takes a moment to answer, so that
// concurrent commands really compete for it.
func busyAgent(cfg *agent.Config) {
	cfg.MaxReadOnlyJobs = 1
	simtest.SimSpeed(cfg, "0.25")
}

// readOnlyTexts are the read-only commands of the load tests: three
// different agent runs, so they have to queue for the one slot.
var readOnlyTexts = []string{"status", "services", "bbm"}

// statusRoots returns the root posts of read-only commands.
func statusRoots(rec *recorder) []string {
	var out []string
	for _, id := range rec.roots() {
		if strings.Contains(rec.message(id).Text.String(), ", asked by ") {
			out = append(out, id)
		}
	}
	return out
}

// checkReadOnlyAnswers fails unless every read-only thread ends with a
// usable answer that says when it was taken.
func checkReadOnlyAnswers(t *testing.T, rec *recorder, want int) (busyLines int) {
	t.Helper()
	roots := statusRoots(rec)
	if len(roots) != want {
		t.Fatalf("%d read-only threads, want %d", len(roots), want)
	}
	for _, root := range roots {
		th := rec.thread(root)
		all := strings.Join(th, "\n")
		last := th[len(th)-1]
		switch {
		case strings.Contains(all, "too many read-only jobs"), strings.Contains(all, "Could not run"):
			t.Errorf("thread %s failed because others asked at the same time:\n%s", root, all)
		case !strings.Contains(last, "taken at "):
			t.Errorf("thread %s: the answer does not say when it was taken:\n%s", root, all)
		}
		if strings.Contains(all, "is busy with other read-only jobs; retrying") {
			busyLines++
		}
	}
	return busyLines
}

// all runs every call that plan schedules (at(n, fn): fn(0) … fn(n-1)) at
// the same moment, each on its own goroutine, and waits for them and for
// the router's background work.
func all(t *testing.T, s *simtest.Stack, plan func(at func(n int, fn func(i int)))) {
	t.Helper()
	var (
		wg    sync.WaitGroup
		start = make(chan struct{})
	)
	plan(func(n int, fn func(i int)) {
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				fn(i)
			}()
		}
	})
	close(start)
	wg.Wait()
	s.Router.Wait()
}

// readOnlyCommand sends the i-th read-only command of a load test as u.
func readOnlyCommand(t *testing.T, s *simtest.Stack, rec *recorder, u bot.User, i int) {
	if err := handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: readOnlyTexts[i%len(readOnlyTexts)]}); err != nil {
		t.Errorf("read-only command refused: %v", err)
	}
}

// TestApprovalStormWhileStatusRuns: 50 approvals of one migrate request
// from 10 users, pasted at once while 20 read-only commands compete for the
// agent's one read-only slot. Every attempt is recorded or refused by
// policy (never "not recorded" because the host was busy), each one is in
// the audit, and migrate runs exactly once.
func TestApprovalStormWhileStatusRuns(t *testing.T) {
	s, rec := setup(t, simtest.Options{Agent: busyAgent})
	id, root := openMigrate(t, s, rec)

	users := []bot.User{alice} // the requester: refused by policy
	for i := 1; i < 10; i++ {
		users = append(users, bot.User{ID: fmt.Sprintf("U-%d", i), Name: fmt.Sprintf("user%d", i)})
	}
	all(t, s, func(at func(n int, fn func(i int))) {
		at(20, func(i int) { readOnlyCommand(t, s, rec, users[i%len(users)], i) })
		at(50, func(i int) {
			u := users[i%len(users)]
			if i%2 == 0 {
				_ = click(context.Background(), s.Router, rec, bot.Action{Platform: rec.Platform(), User: u, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id})
			} else {
				_ = handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: "approve " + id})
			}
		})
	})

	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times on the agent, want exactly 1", n)
	}
	req, err := s.DB.Request(context.Background(), id)
	if err != nil || req.State != approvals.StateSucceeded {
		t.Errorf("request state %v (%v), want succeeded", req.State, err)
	}
	for _, u := range users {
		for _, n := range rec.notesFor(u.ID) {
			if strings.Contains(n, "not recorded") || strings.Contains(n, "too many read-only jobs") {
				t.Errorf("%s was told: %s", u.Name, n)
			}
		}
	}
	// Every attempt has its audit entry: a recorded approval or a policy
	// refusal, never an approval lost because the host was busy.
	entries, err := s.DB.TailAudit(context.Background(), 10000)
	if err != nil {
		t.Fatal(err)
	}
	attempts := 0
	for _, e := range entries {
		if e.RequestID != id || e.Actor == approvals.ActorSystem {
			continue
		}
		switch e.Action {
		case approvals.ActionRequestApproved:
			attempts++
		case approvals.ActionRequestRefused:
			attempts++
			if strings.Contains(e.Detail, "not recorded") {
				t.Errorf("approval by %s not recorded: %s", e.ActorName, e.Detail)
			}
		}
	}
	if attempts != 50 {
		t.Errorf("audit has %d approval attempts for %s, want 50", attempts, id)
	}
	busy := checkReadOnlyAnswers(t, rec, 20)
	t.Logf("50 approvals + 20 read-only commands: %d migrate-status, %d services, %d bbm-status runs on the agent; %d threads waited for a slot",
		agentJobs(t, s, "migrate-status"), agentJobs(t, s, "services"), agentJobs(t, s, "bbm-status"), busy)
}

// TestManyStatusCommandsNeverFailBusy: 200 read-only commands at once
// against an agent with one read-only slot. Identical ones share a run,
// different ones queue with a "busy, retrying" line, and none fails.
func TestManyStatusCommandsNeverFailBusy(t *testing.T) {
	s, rec := setup(t, simtest.Options{Agent: busyAgent})
	all(t, s, func(at func(n int, fn func(i int))) {
		at(200, func(i int) {
			readOnlyCommand(t, s, rec, bot.User{ID: fmt.Sprintf("U-%d", i%10), Name: fmt.Sprintf("user%d", i%10)}, i)
		})
	})

	if busy := checkReadOnlyAnswers(t, rec, 200); busy == 0 {
		t.Error("no thread said the agent was busy, although three different runs competed for one slot")
	}
	runs := 0
	for _, op := range []string{"migrate-status", "services", "bbm-status"} {
		runs += agentJobs(t, s, op)
	}
	if runs >= 30 {
		t.Errorf("200 commands of 3 kinds made %d agent runs; identical ones should share", runs)
	}
	if n := count(auditActions(t, s), approvals.ActionReadOnlyRun); n != 200 {
		t.Errorf("audit has %d read-only runs, want 200 (one per command)", n)
	}
	t.Logf("200 read-only commands, %d agent runs", runs)
}
