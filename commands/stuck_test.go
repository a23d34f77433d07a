package commands_test

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// failStarts injects a store failure into every write that would move a
// request to running, while on is set; everything else is written.
func failStarts(on *atomic.Bool) func(approvals.Store) approvals.Store {
	return func(s approvals.Store) approvals.Store {
		return approvalstest.Failing{Store: s, Fail: func(op string, r *approvals.Request) error {
			if on.Load() && r != nil && r.State == approvals.StateRunning {
				return errors.New("bbolt: disk I/O error")
			}
			return nil
		}}
	}
}

// TestStartFailureEndsInterrupted: the final approval is recorded but the
// start cannot be: the request does not stay approved; it ends interrupted
// with the reason, audited, the thread says nothing ran (in words, not the
// store's error), and nothing ran.
func TestStartFailureEndsInterrupted(t *testing.T) {
	var failing atomic.Bool
	failing.Store(true)
	s, rec := setup(t, simtest.Options{WrapStore: failStarts(&failing)})
	id, root := openMigrate(t, s, rec)
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	// The store's own error goes to the log, never to the channel.
	endedUnstarted(t, s, rec, id, root, "could not record the start in its store")
	if th := strings.Join(rec.thread(root), "\n"); strings.Contains(th, "bbolt") || strings.Contains(th, "disk I/O error") {
		t.Errorf("the store's error reached the thread:\n%s", th)
	}
}

// endedUnstarted checks that request id ended interrupted without ever
// starting, for the reason why: in its Error, in its thread with "Nothing
// ran", audited as its last entry with no start, and no job on the agent.
func endedUnstarted(t *testing.T, s *simtest.Stack, rec *recorder, id, root, why string) {
	t.Helper()
	req, err := s.DB.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if req.State != approvals.StateInterrupted || !req.StartedAt.IsZero() || !strings.Contains(req.Error, "nothing ran") || !strings.Contains(req.Error, why) {
		t.Fatalf("request %s started=%v %q; want interrupted, never started, saying %q", req.State, req.StartedAt, req.Error, why)
	}
	contains(t, rec.thread(root), "Nothing ran")
	contains(t, rec.thread(root), why)
	acts := auditActions(t, s)
	if count(acts, approvals.ActionRequestStarted) != 0 || acts[len(acts)-1] != approvals.ActionRequestFinished {
		t.Fatalf("audit: %v", acts)
	}
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Fatalf("migrate ran %d times", n)
	}
}

// TestSweepEndsApprovedLeftBehind: when even ending the request fails (the
// store is down), the request stays approved only until the expiry sweep,
// which runs through the same Service methods as chat once the store works
// again, and says in the thread that nothing ran.
func TestSweepEndsApprovedLeftBehind(t *testing.T) {
	clock := approvalstest.NewClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	var down atomic.Bool
	s, rec := setup(t, simtest.Options{Clock: clock.Now, WrapStore: func(st approvals.Store) approvals.Store {
		return approvalstest.Failing{Store: st, Fail: func(op string, r *approvals.Request) error {
			if down.Load() && r != nil && r.State != approvals.StatePending && r.State != approvals.StateApproved {
				return errors.New("bbolt: disk I/O error")
			}
			return nil
		}}
	}})
	id, root := openMigrate(t, s, rec)
	down.Store(true) // start and abandon both fail
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	if req, _ := s.DB.Request(context.Background(), id); req.State != approvals.StateApproved {
		t.Fatalf("with the store down the request is %s, want still approved", req.State)
	}
	down.Store(false)
	s.Router.ExpireNow(context.Background())
	if req, _ := s.DB.Request(context.Background(), id); req.State != approvals.StateApproved {
		t.Fatalf("the sweep ended the request before its deadline: %s", req.State)
	}
	clock.Advance(approvals.ApprovedDeadline)
	s.Router.ExpireNow(context.Background())
	endedUnstarted(t, s, rec, id, root, "not started within")
}

// TestRecoveryAbandonsApprovedThroughTheService: a request approved but not
// started when the bot stopped is ended at the next start by the same
// Service method a failed start uses (Abandon): interrupted, audited, never
// started, and the thread says nothing ran.
func TestRecoveryAbandonsApprovedThroughTheService(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	rec := newRecorder()
	s.Router.Register(rec)
	id, root := openMigrate(t, s, rec)
	ctx := context.Background()
	req, err := s.DB.Request(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	// Approved by a process that died before starting it.
	if _, err := s.Approvals.Approve(ctx, id, approvals.User{ID: bob.ID, Name: bob.Name}, req.Fingerprint); err != nil {
		t.Fatal(err)
	}
	s.Run(t) // the next start: recovery
	s.Router.Wait()
	endedUnstarted(t, s, rec, id, root, "restarted after the approval")
}
