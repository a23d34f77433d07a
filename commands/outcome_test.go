package commands_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestRecoveryFindsJobByRequestID: a request left running without a job
// ID (the bot stopped between the run and recording the job) is looked up
// by request ID, re-attached and completed; nothing runs twice.
func TestRecoveryFindsJobByRequestID(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	rec := newRecorder()
	s.Router.Register(rec)
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", bot.Message{Text: bot.Plain("approval")})
	req := startedRequest(t, s, root.ID)
	if _, err := s.Client.Run(ctx, s.Approved(t, agent.RunRequest{Operation: "migrate", RequestID: req.ID}), nil); err != nil {
		t.Fatal(err)
	}
	s.Run(t)
	s.Router.Wait()
	got, _ := s.DB.Request(ctx, req.ID)
	if got.State != approvals.StateSucceeded || got.JobID == "" {
		t.Fatalf("state %s, job %q (%s); want succeeded with the job found by request ID", got.State, got.JobID, got.Error)
	}
	contains(t, rec.thread(root.ID), "All up on gitlab-sim")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want once", n)
	}
}

// TestRecoveryWithoutJobEndsNotStarted: a running request without a job
// ID that the agent has no job for never started: it ends failed, saying
// nothing ran (as a run the agent confirms it never started does at run
// time), and nothing runs now.
func TestRecoveryWithoutJobEndsNotStarted(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	rec := newRecorder()
	s.Router.Register(rec)
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", bot.Message{Text: bot.Plain("approval")})
	req := startedRequest(t, s, root.ID)
	s.Run(t)
	s.Router.Wait()
	got, _ := s.DB.Request(ctx, req.ID)
	if got.State != approvals.StateFailed || !strings.Contains(got.Error, "nothing ran") {
		t.Fatalf("state %s (%q), want failed saying nothing ran", got.State, got.Error)
	}
	contains(t, rec.thread(root.ID), "has no job for this request: nothing ran")
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Errorf("migrate ran %d times, want never", n)
	}
}

// startedRequest walks a migrate request to running, without a job.
func startedRequest(t *testing.T, s *simtest.Stack, thread string) *approvals.Request {
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
	return req
}

// pausingStore holds the first write that records a job ID until told to
// go on, so that a test can stop the bot at exactly that moment.
type pausingStore struct {
	approvals.Store
	once    sync.Once
	storing chan struct{} // closed when the job ID write is held
	resume  chan struct{} // close to let it go on
}

func (p *pausingStore) Apply(ctx context.Context, id string, fn func(*approvals.Request) ([]approvals.AuditEntry, error)) (*approvals.Request, error) {
	if cur, err := p.Store.Request(ctx, id); err == nil && cur.State == approvals.StateRunning && cur.JobID == "" {
		p.once.Do(func() {
			close(p.storing)
			<-p.resume
		})
	}
	return p.Store.Apply(ctx, id, fn)
}

// TestStopWhileStoringJobID: the bot is stopped (as SIGTERM does: its
// context ends) while it records the agent's job ID. The ID is stored all
// the same, the next start re-attaches through it, the thread ends with
// the true outcome, and migrate ran once.
func TestStopWhileStoringJobID(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	store := &pausingStore{Store: s.DB, storing: make(chan struct{}), resume: make(chan struct{})}
	svc, err := approvals.NewService(store, approvals.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	first, err := commands.New(commands.Options{Hosts: []commands.Host{s.Host}, Approvals: svc, Audit: s.DB})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	first.Register(rec)
	ctx, sigterm := context.WithCancel(context.Background())
	if err := first.Start(ctx); err != nil {
		t.Fatal(err)
	}
	cmd := func(u bot.User, text string) {
		t.Helper()
		if err := handle(context.Background(), first, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: text}); err != nil {
			t.Fatal(err)
		}
	}
	cmd(alice, "migrate -- upgrade to 17.5")
	first.Wait()
	reqs, err := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("want one pending request, got %d (%v)", len(reqs), err)
	}
	id := reqs[0].ID
	cmd(bob, "approve "+id)
	select {
	case <-store.storing:
	case <-time.After(60 * time.Second):
		t.Fatal("the job ID was never stored")
	}
	sigterm()
	time.Sleep(100 * time.Millisecond) // let the cancellation reach everything that listens
	close(store.resume)
	first.Close()

	got, _ := s.DB.Request(context.Background(), id)
	if got.State != approvals.StateRunning || got.JobID == "" {
		t.Fatalf("after the stop: state %s, job %q; want running with the job ID stored", got.State, got.JobID)
	}
	s.Router.Register(rec)
	s.Run(t) // the next process: recovery
	s.Router.Wait()
	got, _ = s.DB.Request(context.Background(), id)
	if got.State != approvals.StateSucceeded {
		t.Fatalf("after recovery: state %s (%s), want succeeded", got.State, got.Error)
	}
	contains(t, rec.thread(got.Thread), "All up on gitlab-sim")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want once", n)
	}
}

// TestRepeatedRunFollowsTheFirstJob: when the agent answers a run with
// "this request already ran here" (a repeated call), the bot follows that
// job to its true outcome instead of recording a failure; nothing runs
// twice.
func TestRepeatedRunFollowsTheFirstJob(t *testing.T) {
	s, rec := setup(t, simtest.Options{Router: commands.Options{RestartWait: 30 * time.Second, RestartPoll: 200 * time.Millisecond}})
	if err := command(t, s, rec, alice, "restart -- sidekiq stuck"); err != nil {
		t.Fatal(err)
	}
	reqs, _ := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if len(reqs) != 1 {
		t.Fatalf("%d pending requests", len(reqs))
	}
	id := reqs[0].ID
	first, err := s.Client.Run(context.Background(), s.Approved(t, agent.RunRequest{Operation: "restart", RequestID: id}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	got, _ := s.DB.Request(context.Background(), id)
	if got.State != approvals.StateSucceeded || got.JobID != first.ID {
		t.Fatalf("state %s, job %q (%s); want succeeded with the first job %s", got.State, got.JobID, got.Error, first.ID)
	}
	if n := agentJobs(t, s, "restart"); n != 1 {
		t.Errorf("restart ran %d times, want once", n)
	}
}
