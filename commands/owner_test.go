package commands_test

import (
	"context"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// finishedEntries counts request id's request.finished audit entries and
// its refused attempts to finish.
func finishedEntries(t *testing.T, s *simtest.Stack, id string) (finished, refused int) {
	t.Helper()
	entries, err := s.DB.TailAudit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		switch {
		case e.RequestID != id:
		case e.Action == approvals.ActionRequestFinished:
			finished++
		case e.Action == approvals.ActionRequestRefused && e.Outcome == "finish":
			refused++
		}
	}
	return finished, refused
}

// TestSweepAdoptsRunningWithoutFollower: a request is running and its job
// ran on the real agent, but no follower of the bot holds it (as when the
// follower panicked). The periodic sweep finds it, re-attaches by request
// ID, and records the true outcome; the job ran once.
func TestSweepAdoptsRunningWithoutFollower(t *testing.T) {
	s, chat := startSweepStack(t, simtest.Options{})
	rec := chat.recorder
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", bot.Message{Text: bot.Plain("approval")})
	req := startedRequest(t, s, root.ID)
	if _, err := s.Client.Run(ctx, s.Approved(t, agent.RunRequest{Operation: "migrate", RequestID: req.ID}), nil); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.DB.Request(ctx, req.ID); got.State != approvals.StateRunning {
		t.Fatalf("before the sweep the request is %s; the test proves nothing", got.State)
	}
	s.Router.ExpireNow(ctx)
	s.Router.Wait()
	got, _ := s.DB.Request(ctx, req.ID)
	if got.State != approvals.StateSucceeded || got.JobID == "" {
		t.Fatalf("after the sweep: %s, job %q (%s); want succeeded with the job found by request ID", got.State, got.JobID, got.Error)
	}
	contains(t, chat.replies(), "The bot lost track of this job; the job succeeded meanwhile.")
	contains(t, rec.thread(root.ID), "All up on gitlab-sim")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want once", n)
	}
	if f, r := finishedEntries(t, s, req.ID); f != 1 || r != 0 {
		t.Errorf("%d request.finished and %d refused finishes audited, want 1 and 0", f, r)
	}
	// Swept again, a finished request is left alone.
	before := len(rec.thread(root.ID))
	s.Router.ExpireNow(ctx)
	s.Router.Wait()
	if n := len(rec.thread(root.ID)); n != before {
		t.Errorf("a second sweep posted %d more messages", n-before)
	}
}

// slowAgent makes the simulated GitLab take seconds per migrate.
func slowAgent(cfg *agent.Config) { simtest.SimSpeed(cfg, "0.5") }

// approveInBackground approves request id as bob without waiting for the
// run, and returns once the request is running with its agent job.
func approveInBackground(t *testing.T, s *simtest.Stack, rec *recorder, id string) *approvals.Request {
	t.Helper()
	if err := handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: bob, Channel: "C1", Text: "approve " + id}); err != nil {
		t.Fatal(err)
	}
	var req *approvals.Request
	eventually(t, "the request running with its job", func() bool {
		req, _ = s.DB.Request(context.Background(), id)
		return req != nil && req.State == approvals.StateRunning && req.JobID != ""
	})
	return req
}

// TestSweepLeavesLiveFollower: while a follower follows its job, sweeps,
// even past the request's deadline (the agent says the job still runs),
// neither re-attach nor record anything: one follower, one outcome, one run.
func TestSweepLeavesLiveFollower(t *testing.T) {
	clock := approvalstest.NewClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	s, chat := startSweepStack(t, simtest.Options{Clock: clock.Now, Agent: slowAgent})
	rec := chat.recorder
	id, root := openMigrate(t, s, rec)
	req := approveInBackground(t, s, rec, id)
	ctx := context.Background()
	s.Router.ExpireNow(ctx)
	clock.Advance(24 * time.Hour) // past any operation's deadline
	s.Router.ExpireNow(ctx)
	if job, err := s.Client.Job(ctx, req.JobID); err != nil || job.Finished() {
		t.Fatalf("the job ended before the sweeps (%s, %v); the test proves nothing", job.State, err)
	}
	s.Router.Wait()
	got, _ := s.DB.Request(ctx, id)
	if got.State != approvals.StateSucceeded {
		t.Fatalf("request %s (%s), want succeeded", got.State, got.Error)
	}
	th := strings.Join(append(rec.thread(root), chat.replies()...), "\n")
	for _, no := range []string{"lost track", "following the job again", "past its deadline"} {
		if strings.Contains(th, no) {
			t.Errorf("the sweep doubled the live follower (%q):\n%s", no, th)
		}
	}
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want once", n)
	}
	if f, r := finishedEntries(t, s, id); f != 1 || r != 0 {
		t.Errorf("%d request.finished and %d refused finishes audited, want 1 and 0", f, r)
	}
}

// sweepChat is the recorder, keeping every reply as first posted (the
// recorder keeps only the latest edit), and whose edits of replies hang
// (until the caller gives up) while stuck is set: a follower that reports
// its result there never gets to record it.
type sweepChat struct {
	*recorder
	stuck atomic.Bool
	hung  atomic.Int64
	// panicky makes the next edit of a reply to a result panic, once.
	panicky atomic.Bool
	mu      sync.Mutex
	said    []string
}

func newSweepChat() *sweepChat { return &sweepChat{recorder: newRecorder()} }

func (c *sweepChat) Reply(ctx context.Context, root bot.Ref, m bot.Message) (bot.Ref, error) {
	c.mu.Lock()
	c.said = append(c.said, text(m))
	c.mu.Unlock()
	return c.recorder.Reply(ctx, root, m)
}

func (c *sweepChat) Update(ctx context.Context, ref bot.Ref, m bot.Message) error {
	if c.panicky.Load() && !slices.Contains(c.roots(), ref.ID) && strings.HasSuffix(m.Title.String(), " succeeded") {
		c.panicky.Store(false)
		panic("chat adapter bug")
	}
	if c.stuck.Load() && !slices.Contains(c.roots(), ref.ID) {
		c.hung.Add(1)
		<-ctx.Done()
		return ctx.Err()
	}
	return c.recorder.Update(ctx, ref, m)
}

// replies returns every reply as it was first posted.
func (c *sweepChat) replies() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.said)
}

// startSweepStack is setup with a sweepChat.
func startSweepStack(t *testing.T, opt simtest.Options) (*simtest.Stack, *sweepChat) {
	t.Helper()
	s := simtest.Start(t, opt)
	chat := newSweepChat()
	s.Router.Register(chat)
	s.Run(t)
	return s, chat
}

// TestSweepTakesOverStuckFollower: the job ended on the agent, but its
// follower is stuck and never records the outcome. Past the request's
// deadline the sweep asks the agent, sees the job ended, takes the
// request over and records the true outcome, once; the stuck follower
// records nothing; the job ran once.
func TestSweepTakesOverStuckFollower(t *testing.T) {
	clock := approvalstest.NewClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	s, chat := startSweepStack(t, simtest.Options{Clock: clock.Now})
	id, root := openMigrate(t, s, chat.recorder)
	chat.stuck.Store(true)
	req := approveInBackground(t, s, chat.recorder, id)
	ctx := context.Background()
	eventually(t, "the job ended on the agent and its follower stuck", func() bool {
		job, err := s.Client.Job(ctx, req.JobID)
		return err == nil && job.Finished() && chat.hung.Load() > 0
	})
	s.Router.ExpireNow(ctx) // before the deadline: the follower is left alone
	if got, _ := s.DB.Request(ctx, id); got.State != approvals.StateRunning {
		t.Fatalf("before the deadline the request is %s; the test proves nothing", got.State)
	}
	clock.Advance(5 * time.Hour) // migrate's 4 h timeout, the after-check's wait, the margin
	chat.stuck.Store(false)
	s.Router.ExpireNow(ctx)
	s.Router.Wait()
	got, _ := s.DB.Request(ctx, id)
	if got.State != approvals.StateSucceeded {
		t.Fatalf("request %s (%s), want succeeded", got.State, got.Error)
	}
	contains(t, chat.replies(), "The job was past its deadline (succeeded on the agent) and the bot had not recorded its outcome; the job succeeded meanwhile.")
	contains(t, chat.thread(root), "All up on gitlab-sim")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want once", n)
	}
	if f, r := finishedEntries(t, s, id); f != 1 || r != 0 {
		t.Errorf("%d request.finished and %d refused finishes audited, want 1 and 0", f, r)
	}
}

// TestSweepAdoptsAfterFollowerPanic: the follower panics while reporting
// the result (the router recovers the panic and the bot keeps running),
// before recording the outcome. The request does not stay running until
// the next restart: the next sweep adopts it and records the true
// outcome; the job ran once.
func TestSweepAdoptsAfterFollowerPanic(t *testing.T) {
	s, chat := startSweepStack(t, simtest.Options{})
	id, root := openMigrate(t, s, chat.recorder)
	chat.panicky.Store(true)
	if err := command(t, s, chat.recorder, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if got, _ := s.DB.Request(ctx, id); got.State != approvals.StateRunning || chat.panicky.Load() {
		t.Fatalf("after the panic the request is %s (panicked: %v); the test proves nothing", got.State, !chat.panicky.Load())
	}
	s.Router.ExpireNow(ctx)
	s.Router.Wait()
	got, _ := s.DB.Request(ctx, id)
	if got.State != approvals.StateSucceeded {
		t.Fatalf("request %s (%s), want succeeded", got.State, got.Error)
	}
	contains(t, chat.replies(), "The bot lost track of this job; the job succeeded meanwhile.")
	contains(t, chat.thread(root), "All up on gitlab-sim")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Errorf("migrate ran %d times, want once", n)
	}
	if f, r := finishedEntries(t, s, id); f != 1 || r != 0 {
		t.Errorf("%d request.finished and %d refused finishes audited, want 1 and 0", f, r)
	}
}
