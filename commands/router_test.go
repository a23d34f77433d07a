package commands_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

func TestMain(m *testing.M) {
	simtest.RunSimIfAsked()
	os.Exit(m.Run())
}

var (
	alice = bot.User{ID: "U-alice", Name: "alice"}
	bob   = bot.User{ID: "U-bob", Name: "bob"}
	carol = bot.User{ID: "U-carol", Name: "carol"}
)

func setup(t *testing.T, opt simtest.Options) (*simtest.Stack, *recorder) {
	t.Helper()
	s := simtest.Start(t, opt)
	rec := newRecorder()
	s.Router.Register(rec)
	s.Run(t)
	return s, rec
}

func command(t *testing.T, s *simtest.Stack, rec *recorder, u bot.User, text string) error {
	t.Helper()
	err := handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: text})
	s.Router.Wait()
	return err
}

func contains(t *testing.T, texts []string, want string) {
	t.Helper()
	if !strings.Contains(strings.Join(texts, "\n---\n"), want) {
		t.Errorf("no %q in:\n%s", want, strings.Join(texts, "\n---\n"))
	}
}

// openMigrate opens a migrate request as alice and returns its ID and root.
func openMigrate(t *testing.T, s *simtest.Stack, rec *recorder) (string, string) {
	t.Helper()
	if err := command(t, s, rec, alice, "migrate -- upgrade to 17.5"); err != nil {
		t.Fatal(err)
	}
	reqs, err := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("want one pending request, got %d (%v)", len(reqs), err)
	}
	return reqs[0].ID, reqs[0].Thread
}

// agentJobs counts the agent's job records for op: what really ran.
func agentJobs(t *testing.T, s *simtest.Stack, op string) int {
	t.Helper()
	return len(jobSpans(t, s, op))
}

// jobSpans returns the agent's job records for op.
func jobSpans(t testing.TB, s *simtest.Stack, op string) []agent.JobRecord {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(s.Dir, "agent", "jobs", "*", "record.json"))
	var out []agent.JobRecord
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec agent.JobRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Operation == op {
			out = append(out, rec)
		}
	}
	return out
}

func auditActions(t *testing.T, s *simtest.Stack) []string {
	t.Helper()
	entries, err := s.DB.TailAudit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		out = append(out, e.Action)
	}
	return out
}

func count(list []string, s string) int {
	n := 0
	for _, x := range list {
		if x == s {
			n++
		}
	}
	return n
}

func TestStatusRepliesInThread(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	if err := command(t, s, rec, alice, "status"); err != nil {
		t.Fatal(err)
	}
	roots := rec.roots()
	if len(roots) != 1 {
		t.Fatalf("want one root post, got %d", len(roots))
	}
	th := rec.thread(roots[0])
	contains(t, th, "status* on *gitlab-sim*, asked by alice")
	contains(t, th, "*main (gitlabhq_production)*: 48 up, 6 down")
	contains(t, th, "`20250508093412` Add index on ci runner machines organization")
	if got := count(auditActions(t, s), approvals.ActionReadOnlyRun); got != 1 {
		t.Errorf("audit has %d read-only runs, want 1", got)
	}
}

func TestBadInputIsRefusedToTheUserAndAudited(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	cases := []struct{ text, says string }{
		{"stauts", `unknown subcommand "stauts"`},
		{"finalize Job;ls t c []", "job_class"},
		{`finalize Job t c '["id"]\,["x"]'`, "job_arguments"},
		{"restart --all", "restart does not take --all"},
		{"status --host nowhere", `unknown host "nowhere"`},
		{"status --db 'ci;reboot'", "database"},
		{"approve not-an-id!", "approve"},
	}
	for _, c := range cases {
		err := command(t, s, rec, alice, c.text)
		var ref replyError
		if !errors.As(err, &ref) || !ref.Refused {
			t.Errorf("%q: want a refusal, got %v", c.text, err)
			continue
		}
		if !strings.Contains(ref.Message.Text.String(), c.says) {
			t.Errorf("%q: refusal %q does not mention %q", c.text, ref.Message.Text, c.says)
		}
	}
	if n := len(rec.roots()); n != 0 {
		t.Errorf("refused commands posted %d messages in the channel", n)
	}
	if got := count(auditActions(t, s), approvals.ActionCommandRefused); got < 6 {
		t.Errorf("audit has %d refusals, want one per bad command", got)
	}
	if n := agentJobs(t, s, "finalize") + agentJobs(t, s, "restart") + agentJobs(t, s, "migrate-status"); n != 0 {
		t.Errorf("refused commands ran %d jobs", n)
	}
}

func TestSelfApprovalRefusedThenSecondPersonRuns(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	id, root := openMigrate(t, s, rec)
	m := rec.message(root)
	if len(m.Buttons) != 2 || m.Buttons[0].Value != id || m.Buttons[1].Value != id {
		t.Fatalf("approval message buttons %+v do not carry just the request ID %s", m.Buttons, id)
	}
	contains(t, []string{text(m)}, "gitlab-rake db:migrate")
	contains(t, []string{text(m)}, "upgrade to 17.5")

	err := click(context.Background(), s.Router, rec, bot.Action{Platform: rec.Platform(), User: alice, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id})
	if err == nil || !strings.Contains(err.Error(), "a different person must approve it.") || strings.Contains(err.Error(), "self-approval is not allowed") {
		t.Fatalf("self-approval: want a refusal, got %v", err)
	}
	s.Router.Wait()
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Fatalf("self-approval ran migrate %d times", n)
	}
	if err := click(context.Background(), s.Router, rec, bot.Action{Platform: rec.Platform(), User: bob, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id}); err != nil {
		t.Fatal(err)
	}
	s.Router.Wait()
	th := rec.thread(root)
	contains(t, th, "Done: migrate on gitlab-sim succeeded")
	contains(t, th, "All up on gitlab-sim")
	if len(rec.message(root).Buttons) != 0 {
		t.Error("buttons still on the message after the decision")
	}
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want 1", n)
	}
}

func TestButtonOfAnotherMessageIsRefused(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	id, _ := openMigrate(t, s, rec)
	err := click(context.Background(), s.Router, rec, bot.Action{Platform: rec.Platform(), User: bob, Message: bot.Ref{Channel: "C1", ID: "m999"}, ActionID: bot.ActionApprove, Value: id})
	if err == nil {
		t.Fatal("a button replayed onto another message was accepted")
	}
	s.Router.Wait()
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Errorf("migrate ran %d times", n)
	}
}

// TestR3ConcurrentApprovalsRunOnce (issue 15, R3: one run per request;
// across replicas: TestConcurrentApprovalsAcrossReplicasRunOnce): 100
// goroutines approve one request, half by button and half by typed
// command, as different users and as the same user; exactly one migrate
// reaches the agent, one start is audited and the request succeeds.
func TestR3ConcurrentApprovalsRunOnce(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	id, root := openMigrate(t, s, rec)
	var wg sync.WaitGroup
	for i := range 100 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			u := bot.User{ID: fmt.Sprintf("U-%d", i%10), Name: fmt.Sprintf("user%d", i%10)}
			if i%2 == 0 {
				_ = click(context.Background(), s.Router, rec, bot.Action{Platform: rec.Platform(), User: u, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id})
			} else {
				_ = handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: "approve " + id})
			}
		}()
	}
	wg.Wait()
	s.Router.Wait()
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Fatalf("migrate ran %d times on the agent, want exactly 1", n)
	}
	if n := count(auditActions(t, s), approvals.ActionRequestStarted); n != 1 {
		t.Errorf("audit records %d starts, want 1", n)
	}
	req, err := s.DB.Request(context.Background(), id)
	if err != nil || req.State != approvals.StateSucceeded {
		t.Errorf("request state %v (%v), want succeeded", req.State, err)
	}
}

// TestApprovalRefusedWhenDownMigrationsChanged: what was approved must be
// what runs; if the set of down migrations changed since the request, the
// approval is refused and nothing runs.
func TestApprovalRefusedWhenDownMigrationsChanged(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	id, root := openMigrate(t, s, rec)
	// Someone migrates behind the bot's back.
	if _, err := s.Client.Run(context.Background(), s.Approved(t, agent.RunRequest{Operation: "migrate", RequestID: "behind-the-bots-back"}), nil); err != nil {
		t.Fatal(err)
	}
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(root), "Approval refused: the state changed")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want only the one behind the bot's back", n)
	}
	req, _ := s.DB.Request(context.Background(), id)
	if req.State.Started() {
		t.Errorf("request %s is %s", id, req.State)
	}
}

func TestDenyIsAVetoAndCancelIsTheRequesters(t *testing.T) {
	s, rec := setup(t, simtest.Options{Policy: approvals.Policy{ApprovalsRequired: 2}})
	id, root := openMigrate(t, s, rec)
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(root), "bob approved (1 of 2)")
	if err := command(t, s, rec, alice, "deny "+id+" my own"); err == nil {
		t.Error("the requester denied their own request; they should cancel it")
	}
	if err := command(t, s, rec, carol, "deny "+id+" not during business hours"); err != nil {
		t.Fatal(err)
	}
	th := rec.thread(root)
	contains(t, th, "Denied by carol")
	contains(t, th, "not during business hours")
	if err := command(t, s, rec, carol, "approve "+id); err == nil {
		t.Error("approval after a deny was accepted")
	}
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Errorf("denied migrate ran %d times", n)
	}

	id2, _ := openMigrate(t, s, rec)
	if err := command(t, s, rec, bob, "cancel "+id2); err == nil {
		t.Error("bob cancelled alice's request")
	}
	if err := command(t, s, rec, alice, "cancel "+id2); err != nil {
		t.Fatal(err)
	}
	req, _ := s.DB.Request(context.Background(), id2)
	if req.State != approvals.StateCancelled {
		t.Errorf("state %s, want cancelled", req.State)
	}
}

func TestExpiredRequestLosesItsButtons(t *testing.T) {
	clock := approvalstest.NewClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	s, rec := setup(t, simtest.Options{Clock: clock.Now})
	id, root := openMigrate(t, s, rec)
	clock.Advance(16 * time.Minute)
	s.Router.ExpireNow(context.Background())
	m := rec.message(root)
	if len(m.Buttons) != 0 || !strings.Contains(m.Title.String(), "Expired") {
		t.Errorf("expired request message: %q with %d buttons", m.Title, len(m.Buttons))
	}
	if err := command(t, s, rec, bob, "approve "+id); err == nil {
		t.Error("approval of an expired request was accepted")
	}
}

func TestMigrateNothingPendingOpensNoRequest(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "up-to-date"})
	if err := command(t, s, rec, alice, "migrate"); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(rec.roots()[0]), "No request was opened")
	reqs, _ := s.DB.Requests(context.Background(), approvals.RequestFilter{})
	if len(reqs) != 0 {
		t.Errorf("%d requests opened with nothing to migrate", len(reqs))
	}
}

func TestRestartWaitsForServices(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "services-down", Router: commands.Options{RestartWait: 30 * time.Second, RestartPoll: 200 * time.Millisecond}})
	if err := command(t, s, rec, alice, "services"); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(rec.roots()[0]), "2 of 15 services are not running")
	if err := command(t, s, rec, alice, "restart -- sidekiq stopped"); err != nil {
		t.Fatal(err)
	}
	reqs, _ := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if len(reqs) != 1 {
		t.Fatalf("%d pending requests", len(reqs))
	}
	if err := command(t, s, rec, bob, "approve "+reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(reqs[0].Thread), "All 15 services are running.")
}

// TestRecoveryMarksForgottenJobInterrupted: a request left running whose
// job the agent no longer knows ends interrupted, with a message in its
// thread, when the router starts.
func TestRecoveryMarksForgottenJobInterrupted(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	rec := newRecorder()
	s.Router.Register(rec)
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", bot.Message{Text: bot.Plain("approval")})
	req := runningRequest(t, s, root.ID, "20260101T000000Z-deadbeef")
	s.Run(t)
	s.Router.Wait()
	got, _ := s.DB.Request(ctx, req.ID)
	if got.State != approvals.StateInterrupted {
		t.Fatalf("state %s, want interrupted", got.State)
	}
	contains(t, rec.thread(root.ID), "no longer knows job 20260101T000000Z-deadbeef")
}

// TestRecoveryReattachesToFinishedJob: a request whose job finished while
// the bot was away is completed from the agent's record, follow-up
// included.
func TestRecoveryReattachesToFinishedJob(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	rec := newRecorder()
	s.Router.Register(rec)
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", bot.Message{Text: bot.Plain("approval")})
	job, err := s.Client.Run(ctx, s.Approved(t, agent.RunRequest{Operation: "migrate", RequestID: "before-the-crash"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	req := runningRequest(t, s, root.ID, job.ID)
	s.Run(t)
	s.Router.Wait()
	got, _ := s.DB.Request(ctx, req.ID)
	if got.State != approvals.StateSucceeded {
		t.Fatalf("state %s (%s), want succeeded", got.State, got.Error)
	}
	th := rec.thread(root.ID)
	contains(t, th, "db:migrate on gitlab-sim succeeded")
	contains(t, th, "All up on gitlab-sim")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times; recovery must not run it again", n)
	}
}

// runningRequest walks a migrate request to running with jobID, as a bot
// that crashed mid-run would have left it.
func runningRequest(t *testing.T, s *simtest.Stack, thread, jobID string) *approvals.Request {
	t.Helper()
	ctx := context.Background()
	req, err := s.Approvals.Open(ctx, approvals.NewRequest{Platform: "test", Channel: "C1", Thread: thread, Host: "gitlab-sim",
		Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"}, Requester: approvals.User{ID: "U-alice", Name: "alice"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approvals.Approve(ctx, req.ID, approvals.User{ID: "U-bob", Name: "bob"}, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approvals.Start(ctx, req.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Approvals.SetJob(ctx, req.ID, jobID); err != nil {
		t.Fatal(err)
	}
	return req
}

// TestDecomposedFinalizeUsesDatabaseTask: on a decomposed install the
// batched migration blocks migrate on ci; the offered finalize uses
// finalize:ci (GitLab's own suggestion never has the suffix), runs after
// approval, and the re-run migrate succeeds on both databases.
func TestDecomposedFinalizeUsesDatabaseTask(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "decomposed-bbm-unfinished"})
	id, root := openMigrate(t, s, rec)
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	th := rec.thread(root)
	// The thread's result agrees with the card: some migrated, so partly.
	contains(t, th, "db:migrate on gitlab-sim: partly done")
	contains(t, th, "Database: ci (status active)")
	if err := command(t, s, rec, alice, "finalize --from "+id+" -- as GitLab asked"); err != nil {
		t.Fatal(err)
	}
	reqs, _ := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if len(reqs) != 1 || reqs[0].Operation != "finalize" {
		t.Fatalf("want one pending finalize, got %+v", reqs)
	}
	fin := reqs[0]
	if len(fin.Argv) != 2 || !strings.HasPrefix(fin.Argv[1], "gitlab:background_migrations:finalize:ci[") {
		t.Fatalf("finalize argv %q does not use the ci task", fin.Argv)
	}
	if fin.FromRequest != id {
		t.Errorf("finalize is not linked to the failed migrate %s: %q", id, fin.FromRequest)
	}
	if err := command(t, s, rec, bob, "approve "+fin.ID); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(fin.Thread), "Finalized")
	if err := command(t, s, rec, alice, "migrate -- second try"); err != nil {
		t.Fatal(err)
	}
	reqs, _ = s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if len(reqs) != 1 {
		t.Fatalf("%d pending requests", len(reqs))
	}
	if err := command(t, s, rec, bob, "approve "+reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	th = rec.thread(reqs[0].Thread)
	contains(t, th, "All up on gitlab-sim")
	contains(t, th, "*ci (gitlabhq_production_ci)*: all")
}

// TestStatusAfterMigrateIsNotTheOneBefore: a status answered just before a
// migrate is not reused for a status (or upgrade-check) asked right after
// the migrate succeeded, even within the reuse window.
func TestStatusAfterMigrateIsNotTheOneBefore(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	if err := command(t, s, rec, alice, "status"); err != nil {
		t.Fatal(err)
	}
	s.Router.Wait()
	id, root := openMigrate(t, s, rec)
	if err := click(context.Background(), s.Router, rec, bot.Action{Platform: rec.Platform(), User: bob, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id}); err != nil {
		t.Fatal(err)
	}
	s.Router.Wait()
	contains(t, rec.thread(root), "Done: migrate on gitlab-sim succeeded")
	if err := command(t, s, rec, alice, "status"); err != nil {
		t.Fatal(err)
	}
	s.Router.Wait()
	roots := rec.roots()
	th := rec.thread(roots[len(roots)-1])
	for _, line := range th {
		if strings.Contains(line, "6 down") {
			t.Fatalf("the status after the migrate reused the one from before it:\n%s", strings.Join(th, "\n"))
		}
	}
	contains(t, th, "all 54 up")
}
