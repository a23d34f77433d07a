package schedule

import (
	"context"
	"fmt"
)

// runOnce runs sc, decides whether to post, posts, and stores the result.
// extra carries CatchUp or Manual. The caller holds sc's claim. It returns
// the outcome (for Observe, which the caller calls once it has released
// the claim) and the Runner's error, or an error posting or storing; a
// run the Runner reports as Failed is not an error here. A run stopped
// with ctx has no outcome ("").
func (s *Scheduler) runOnce(ctx context.Context, sc Schedule, extra Post) (string, error) {
	log := s.log.With("schedule", sc.ID)
	r, post, runErr := s.runner.Run(ctx, sc)
	if ctx.Err() != nil {
		// Leadership was lost or the bot is stopping: the run did not
		// complete, so there is nothing to compare, post or keep.
		log.Info("schedule: run stopped before it finished")
		return "", fmt.Errorf("schedule %s: run stopped: %w", sc.ID, ctx.Err())
	}
	if runErr != nil {
		// The Runner could not even try (unknown host, …): that is a
		// failed run, stored and posted (if the Runner can) as one.
		log.Warn("schedule: the run could not start", "error", runErr)
		r = Result{Failed: true, Reason: runErr.Error()}
	}
	r.At = s.clock.Now()
	r.Posted = false

	fin, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	_, posted, ok, err := s.store.LastResult(fin, sc.ID)
	if err != nil {
		// Without the last posted result, post: a repeated post is better
		// than a silent problem.
		log.Error("schedule: cannot read the last result; deciding as if it never ran", "error", err)
		ok = false
	}
	do, p := Decide(sc.When, posted, ok && posted.Posted, r)
	p.CatchUp, p.Manual = extra.CatchUp, extra.Manual
	if p.Manual {
		do = true // somebody asked for it
	}

	outcome := OutcomeSilent
	var postErr error
	switch {
	case !do:
	case post == nil && runErr != nil:
		postErr = fmt.Errorf("schedule %s: the run gave nothing to post with: %w", sc.ID, runErr)
	case post == nil:
		postErr = fmt.Errorf("schedule %s: the run gave nothing to post with and no reason why", sc.ID)
	default:
		postErr = post(fin, p)
	}
	switch {
	case postErr != nil:
		log.Error("schedule: cannot post the result", "error", postErr)
		outcome = OutcomeError
	case do:
		r.Posted = true
		outcome = OutcomePosted
	}
	if err := s.store.PutResult(fin, sc.ID, r); isNotFound(err) {
		// Removed while it ran: its results went with it.
		log.Info("schedule: removed while it ran; its result is not kept")
	} else if err != nil {
		log.Error("schedule: cannot store the result", "error", err)
		outcome = OutcomeError
		if postErr == nil {
			postErr = fmt.Errorf("schedule %s: store the result: %w", sc.ID, err)
		}
	}
	if r.Failed && outcome != OutcomeError {
		outcome = OutcomeFailed
	}
	log.Info("schedule: ran", "what", sc.What, "host", sc.Host, "outcome", outcome,
		"catch_up", p.CatchUp, "manual", p.Manual, "failed", r.Failed, "problem", IsProblem(r))
	if runErr != nil {
		return outcome, fmt.Errorf("schedule %s: %w", sc.ID, runErr)
	}
	return outcome, postErr
}
