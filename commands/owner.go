package commands

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Who owns a running request: the follower that holds its claim in
// Owners (in this process, or with several replicas in any of them): the
// one that started it (execute), or one that re-attached to its job
// (restart recovery, or the sweep, both on the leader only). A running
// request nobody holds is orphaned (its follower panicked, could not
// record the outcome, or its replica died and the claim went with its
// lease): the leader's periodic sweep adopts it through the same path as
// restart recovery, which only looks the job up and attaches to it, never
// runs anything.
//
// A running request also has a deadline: its operation's timeout plus the
// after-check's wait plus RunningMargin. Past it, the sweep asks the agent about the job; if the
// agent says it ended, or knows nothing of it, the follower is stuck
// (alive but not finishing): it is cancelled and the sweep takes over, so
// the true outcome is recorded. A job the agent says is still running, or
// an agent that cannot be reached, leaves the follower in charge: the
// outcome is not known yet.

// Owners says which follower follows each running request. The default
// (Options.Owners nil) is this process's memory, right for one process;
// several replicas share one implementation (storage/etcd's Owners), so
// that exactly one follower across all replicas follows each job.
//
// Invariants an implementation keeps:
//   - Of all the callers of Take for one request, here or on another
//     replica, at most one holds it at a time.
//   - The context Take returns is cancelled when the claim is lost: Drop,
//     or (shared claims) this replica's lease no longer renewed, before
//     another replica may take the request over.
//   - release frees only the claim it came with, never a later one.
type Owners interface {
	// Take makes the caller the follower of request id, with a context
	// derived from parent that ends when the claim is lost. ok is false,
	// and nothing is taken, when another follower holds it; err when it
	// cannot be told (nothing is taken). release must be called when the
	// caller is done (after the request's outcome is recorded, or when it
	// gives up).
	Take(parent context.Context, id string) (ctx context.Context, release func(), ok bool, err error)
	// Held reports whether any follower holds request id.
	Held(ctx context.Context, id string) (bool, error)
	// Drop cancels the follower holding request id (if any) and frees the
	// request for another.
	Drop(ctx context.Context, id string) error
}

// errSuperseded ends a stuck follower's context when the sweep takes its
// request over.
var errSuperseded = errors.New("another follower took this request over")

// followers is the in-process Owners: claims are per process and in
// memory, so after a restart nobody holds anything, and recovery claims
// every running request first.
type followers struct {
	mu sync.Mutex
	m  map[string]*claim
}

var _ Owners = (*followers)(nil)

// claim is one follower's hold on a request.
type claim struct {
	cancel context.CancelCauseFunc
}

func newFollowers() *followers { return &followers{m: map[string]*claim{}} }

// Take is Owners.Take; it never fails.
func (fs *followers) Take(parent context.Context, id string) (context.Context, func(), bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	if _, held := fs.m[id]; held {
		return nil, nil, false, nil
	}
	ctx, cancel := context.WithCancelCause(parent)
	c := &claim{cancel: cancel}
	fs.m[id] = c
	return ctx, func() {
		fs.mu.Lock()
		if fs.m[id] == c {
			delete(fs.m, id)
		}
		fs.mu.Unlock()
		cancel(nil)
	}, true, nil
}

// Held is Owners.Held.
func (fs *followers) Held(_ context.Context, id string) (bool, error) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	_, ok := fs.m[id]
	return ok, nil
}

// Drop is Owners.Drop.
func (fs *followers) Drop(_ context.Context, id string) error {
	fs.mu.Lock()
	c := fs.m[id]
	delete(fs.m, id)
	fs.mu.Unlock()
	if c != nil {
		c.cancel(errSuperseded)
	}
	return nil
}

// claimKey is the context key under which a follower's context keeps the
// claim it runs under (takenOver).
type claimKey struct{}

// claimed is what takenOver needs: the claim's context and the one it was
// derived from.
type claimed struct{ claim, parent context.Context }

// take is Owners.Take as the router uses it: a failure to tell is
// logged and counts as not taken (the follower does not start; the
// sweep tries again), and the context remembers its claim (takenOver).
func (r *Router) take(parent context.Context, id string) (context.Context, func(), bool) {
	ctx, release, ok, err := r.owners.Take(parent, id)
	if err != nil {
		r.logger(parent).Error("taking ownership of a request's job", "err", err)
		return nil, nil, false
	}
	if !ok {
		return nil, nil, false
	}
	return context.WithValue(ctx, claimKey{}, claimed{claim: ctx, parent: parent}), release, true
}

// RunningMargin is how long past its operation's timeout a request may
// stay running before the sweep checks that its follower is not stuck.
// The agent ends a job at that timeout (unless its configuration gives
// the operation more), so by then the job has normally ended.
const RunningMargin = 5 * time.Minute

// runningDeadline is when running request req is overdue: its
// operation's timeout, plus the time its after-check may take (waiting
// for restarted services), plus RunningMargin.
func (r *Router) runningDeadline(req *approvals.Request) time.Time {
	timeout := 12 * time.Hour // the longest operation in the catalogue
	if op, err := gitlab.Lookup(req.Operation); err == nil && op.Timeout > 0 {
		timeout = op.Timeout
	}
	return req.StartedAt.Add(timeout + r.opt.RestartWait + RunningMargin)
}

// agentCheckTimeout bounds the sweep's question to an agent about an
// overdue request's job.
const agentCheckTimeout = 10 * time.Second

// sweepRunning gives every running request of a connected platform an
// owner: it adopts those no follower of this process holds, and takes over
// those past their deadline whose job the agent says ended or does not
// know. Adoption runs in the background.
func (r *Router) sweepRunning(ctx context.Context) {
	running, err := r.opt.Approvals.Running(ctx)
	if err != nil {
		r.logger(ctx).Error("listing running requests", "err", err)
		return
	}
	now := r.opt.Clock()
	for _, req := range running {
		chat, ok := r.chat(req.Platform)
		if !ok {
			continue
		}
		ctx := r.withRequestLog(ctx, req.ID)
		scopeOf(ctx).setJob(req.JobID)
		held, err := r.owners.Held(ctx, req.ID)
		if err != nil {
			r.logger(ctx).Error("asking who follows a running request; the next sweep asks again", "err", err)
			continue
		}
		if !held {
			r.logger(ctx).Warn("running request has no follower in any replica; re-attaching to its job")
			r.adopt(chat, req.ID, "the bot lost track of this job")
			continue
		}
		if now.Before(r.runningDeadline(req)) {
			continue
		}
		if why, stuck := r.jobEnded(ctx, req); stuck {
			r.logger(ctx).Warn("running request is past its deadline and its job " + why + "; taking it over from its follower")
			if err := r.owners.Drop(ctx, req.ID); err != nil {
				r.logger(ctx).Error("taking a stuck request over from its follower; the next sweep tries again", "err", err)
				continue
			}
			r.adopt(chat, req.ID, "the job was past its deadline ("+why+") and the bot had not recorded its outcome")
		}
	}
}

// jobEnded asks req's agent whether its job is over (ended, or unknown to
// the agent). It says no when the job runs or the agent cannot be asked.
func (r *Router) jobEnded(ctx context.Context, req *approvals.Request) (string, bool) {
	host, err := r.host(req.Host)
	if err != nil {
		return "its host is not configured any more", true
	}
	ctx, cancel := context.WithTimeout(ctx, agentCheckTimeout)
	defer cancel()
	var rec agent.JobRecord
	if req.JobID != "" {
		rec, err = host.Agent.Job(ctx, req.JobID)
	} else {
		rec, err = host.Agent.JobForRequest(ctx, req.ID)
	}
	switch {
	case errors.Is(err, agent.ErrJobNotFound), errors.Is(err, agent.ErrNoJobForRequest):
		return "is unknown to the agent", true
	case err != nil:
		return "", false
	case rec.Finished():
		return rec.State + " on the agent", true
	}
	return "", false
}

// adopt follows running request id in the background, as restart
// recovery does, if no follower holds it by then and it is still running.
func (r *Router) adopt(chat bot.Chat, id, why string) {
	r.background("adopt "+id, func(base context.Context) {
		ctx, release, ok := r.take(base, id)
		if !ok {
			return
		}
		defer release()
		// Read it again under the claim: a follower that just finished it
		// released its claim after recording the outcome.
		req, err := r.opt.Approvals.Request(ctx, id)
		if err != nil || req.State != approvals.StateRunning {
			return
		}
		r.reattach(ctx, chat, req, why)
	})
}

// takenOver reports whether ctx's claim was lost while the router goes
// on: the sweep took the request over (Owners.Drop), or this replica lost
// its lease. Its follower then records nothing: the one that takes over
// does.
func takenOver(ctx context.Context) bool {
	c, ok := ctx.Value(claimKey{}).(claimed)
	return ok && c.claim.Err() != nil && c.parent.Err() == nil
}

// reattachNote is the thread's line when a follower re-attaches.
func reattachNote(why string, rec agent.JobRecord) string {
	if rec.Finished() {
		return fmt.Sprintf("%s; the job %s meanwhile.", titleCase(why), rec.State)
	}
	return titleCase(why) + "; following the job again."
}
