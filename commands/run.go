package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// progressFunc is told about every event of a running job; the executor
// uses it to edit the progress message.
type progressFunc func(o *output, jobID string)

// runJob runs req on host and collects its output. If the stream breaks
// after the job started, it re-attaches (the job keeps running on the
// agent) a few times before giving up.
func (r *Router) runJob(ctx context.Context, host Host, req agent.RunRequest, onJob func(jobID string), progress progressFunc) (agent.JobRecord, *output, error) {
	o := &output{}
	var jobID string
	handle := func(ev agent.Event) error {
		o.lastEvent = r.opt.Clock()
		switch ev.Type {
		case agent.EventJob:
			if ev.Job != nil {
				jobID = ev.Job.ID
				if onJob != nil {
					onJob(jobID)
				}
			}
		case agent.EventLine:
			if ev.Line != nil {
				o.add(ev.Line)
			}
		}
		if progress != nil {
			progress(o, jobID)
		}
		return nil
	}
	rec, err := host.Agent.Run(ctx, req, handle)
	var se *agent.StreamError
	for attempt := 1; err != nil && errors.As(err, &se) && se.JobID != "" && attempt <= 5; attempt++ {
		r.log.Warn("job stream broke, re-attaching", "host", host.Name, "job", se.JobID, "attempt", attempt, "err", se.Err)
		select {
		case <-ctx.Done():
			return rec, o, ctx.Err()
		case <-time.After(time.Duration(attempt) * time.Second):
		}
		rec, err = host.Agent.Attach(ctx, se.JobID, o.lastSeq+1, handle)
	}
	if err != nil {
		return rec, o, fmt.Errorf("running %s on %s: %w", req.Operation, host.Name, err)
	}
	return rec, o, nil
}

// runWaiting is runJob for read-only operations, which the agent refuses
// with 429 while its read-only slots are taken: nothing started, so it
// waits (the agent's Retry-After, else a second) and tries again, for at
// most BusyWait. onBusy (may be nil) is told each time it has to wait.
// Nobody's command fails only because others asked at the same time.
func (r *Router) runWaiting(ctx context.Context, host Host, req agent.RunRequest, onBusy func()) (agent.JobRecord, *output, error) {
	// Real time, not opt.Clock: this is about waiting on a real agent.
	deadline := time.Now().Add(r.opt.BusyWait)
	for {
		rec, out, err := r.runJob(ctx, host, req, nil, nil)
		wait, busy := agent.TooBusy(err)
		if !busy {
			return rec, out, err
		}
		if wait <= 0 {
			wait = time.Second
		}
		// A little jitter, so that runs refused together do not all come
		// back in the same instant and collide again.
		wait += rand.N(wait/4 + 1)
		if time.Now().Add(wait).After(deadline) {
			return rec, out, fmt.Errorf("the agent on %s stayed busy with other read-only jobs for %s: %w", host.Name, r.opt.BusyWait, err)
		}
		if onBusy != nil {
			onBusy()
		}
		select {
		case <-ctx.Done():
			return rec, out, context.Cause(ctx)
		case <-time.After(wait):
		}
	}
}

// attachJob follows a job that is already running (restart recovery).
func (r *Router) attachJob(ctx context.Context, host Host, jobID string, progress progressFunc) (agent.JobRecord, *output, error) {
	o := &output{}
	rec, err := host.Agent.Attach(ctx, jobID, 1, func(ev agent.Event) error {
		o.lastEvent = r.opt.Clock()
		if ev.Type == agent.EventLine && ev.Line != nil {
			o.add(ev.Line)
		}
		if progress != nil {
			progress(o, jobID)
		}
		return nil
	})
	if err != nil {
		return rec, o, fmt.Errorf("re-attaching to job %s on %s: %w", jobID, host.Name, err)
	}
	return rec, o, nil
}

// exitCode renders a record's exit status for messages.
func exitCode(rec agent.JobRecord) string {
	if rec.ExitCode == nil {
		return "none (" + rec.State + ")"
	}
	return fmt.Sprint(*rec.ExitCode)
}
