package commands

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// Following a job. The reader of the agent's stream never waits for chat:
// it hands lines to the output (a bounded spool) and the latest view to a
// progressBox, and goes on reading. Whatever happens to the connection,
// the outcome is never guessed:
//   - a mutating run whose answer was lost before the job event (reset,
//     TLS error, timeout) is looked up by request ID: the agent either has
//     the job, which is then followed, or has none, and nothing ran;
//   - a stream that breaks is re-attached from the last line received;
//   - while the agent cannot be reached, the bot keeps trying with backoff
//     for as long as it runs, and says so in the thread; the request stays
//     running.

// jobWatch is what the caller of runJob wants to hear besides the output.
// Every field may be nil.
type jobWatch struct {
	// onJob is called once the agent's job ID is known (from the job
	// event, or from a lookup by request ID).
	onJob func(jobID string)
	// progress receives the latest view; it must not block.
	progress *progressBox
	// maxFailures bounds the consecutive failed calls to the agent while
	// following a job; 0 means no bound but ctx. A mutating job is
	// followed until its outcome is known; a read-only one is not worth
	// keeping a person waiting for.
	maxFailures int
	// lost is called when the agent could not be reached twice in a row
	// (err is the last failure); found when contact is back after that.
	lost  func(since time.Time, err error)
	found func(jobID string)
}

// errNotStarted means the agent confirmed it has no job for the request
// after the run failed, and closed the request: nothing ran, nor can.
type errNotStarted struct{ cause error }

func (e *errNotStarted) Error() string {
	return "the agent never started the job (it has no job for this request), so nothing ran; the run failed with: " + e.cause.Error()
}

func (e *errNotStarted) Unwrap() error { return e.cause }

// errOutcomeUnknown means the job may have started (or did) and the bot
// could not learn how it ended: the agent lost it (restarted and pruned
// it, or never answered the lookup). jobID is empty when no job was seen.
type errOutcomeUnknown struct {
	jobID string
	err   error
}

func (e *errOutcomeUnknown) Error() string {
	if e.jobID == "" {
		return "could not learn whether the job started: " + e.err.Error()
	}
	return "lost job " + e.jobID + ": " + e.err.Error()
}

func (e *errOutcomeUnknown) Unwrap() error { return e.err }

// readOnlyMaxFailures is how often a read-only job's stream is re-attached
// before the bot gives up on it.
const readOnlyMaxFailures = 5

// follower follows one job.
type follower struct {
	r     *Router
	host  Host
	watch jobWatch
	out   *output
	jobID string
	// failures counts consecutive failed calls to the agent; lostAt is
	// when the bot reported the agent unreachable (zero: not reported).
	failures int
	lostAt   time.Time
	// scope names the job in the log lines of its follower and caller.
	scope *logScope
}

// newFollower prepares to follow a job on host. spool says whether the
// output goes to a spool on disk (a mutating job: the attachment may be
// large and is read once, by the one caller) or stays in memory, bounded
// (a read-only job: its result may be shared by several callers for a
// while, see flights, and is small).
func (r *Router) newFollower(ctx context.Context, host Host, w jobWatch, spool bool) (*follower, error) {
	out := memoryOutput()
	if spool {
		var err error
		if out, err = newOutput(); err != nil {
			return nil, err
		}
	}
	return &follower{r: r, host: host, watch: w, out: out, scope: scopeOf(ctx)}, nil
}

// handle is the stream callback: it never blocks on chat.
func (f *follower) handle(ev agent.Event) error {
	switch ev.Type {
	case agent.EventJob:
		if ev.Job != nil {
			f.setJob(ev.Job.ID)
		}
	case agent.EventLine:
		if ev.Line != nil {
			f.out.add(ev.Line)
		}
	}
	f.watch.progress.put(progressView{lines: f.out.lines, lastLine: f.out.lastLine, jobID: f.jobID})
	return nil
}

func (f *follower) setJob(id string) {
	if f.jobID == id {
		return
	}
	f.jobID = id
	f.scope.setJob(id)
	if f.watch.onJob != nil {
		f.watch.onJob(id)
	}
}

// runJob runs req on host and follows it to its end record. The output
// is returned even on error (it holds what arrived); the caller closes it.
func (r *Router) runJob(ctx context.Context, host Host, req agent.RunRequest, w jobWatch) (agent.JobRecord, *output, error) {
	if req.RequestID == "" && w.maxFailures == 0 {
		w.maxFailures = readOnlyMaxFailures
	}
	ctx = r.withJobLog(ctx)
	if req.RequestID != "" {
		// A mutating job changes what read-only runs on this host say:
		// answers from before it (or during it) are never shared after.
		r.flights.changed(host.Name)
		defer r.flights.changed(host.Name)
	}
	f, err := r.newFollower(ctx, host, w, req.RequestID != "")
	if err != nil {
		return agent.JobRecord{}, memoryOutput(), err
	}
	rec, err := host.Agent.Run(ctx, req, f.handle)
	if err == nil {
		r.observeJob(host, rec)
		return rec, f.out, f.out.verify(rec)
	}
	var se *agent.StreamError
	switch {
	case ctx.Err() != nil:
		return rec, f.out, fmt.Errorf("running %s on %s: %w", req.Operation, host.Name, err)
	case errors.As(err, &se) && se.JobID != "":
		f.setJob(se.JobID)
	case alreadyRan(err, req):
		// The agent says this request already ran there (a repeated call),
		// or that it was declared not started by an earlier lookup: the
		// job is found by request ID below, like a lost answer. A lookup
		// that finds no job is definitive (the agent answers 410, not 404,
		// when a statement was used but its job record is gone), so it
		// means nothing ran.
		found, lerr := f.locate(ctx, req.RequestID, err)
		if ns := new(errNotStarted); errors.As(lerr, &ns) {
			return agent.JobRecord{}, f.out, fmt.Errorf("running %s on %s: %w", req.Operation, host.Name, lerr)
		}
		if lerr != nil {
			return agent.JobRecord{}, f.out, fmt.Errorf("running %s on %s: %w", req.Operation, host.Name, &errOutcomeUnknown{err: lerr})
		}
		f.setJob(found.ID)
	case refused(err), req.RequestID == "":
		// A refusal is definite: nothing started. A read-only run has no
		// request ID to look up and nothing to lose by failing.
		return rec, f.out, fmt.Errorf("running %s on %s: %w", req.Operation, host.Name, err)
	default:
		r.logger(ctx).Warn("lost the agent's answer before the job event; asking the agent whether the job started", "host", host.Name, "err", err)
		found, err := f.locate(ctx, req.RequestID, err)
		var ns *errNotStarted
		if err != nil && !errors.As(err, &ns) && ctx.Err() == nil {
			err = &errOutcomeUnknown{err: err}
		}
		if err != nil {
			return agent.JobRecord{}, f.out, fmt.Errorf("running %s on %s: %w", req.Operation, host.Name, err)
		}
		f.setJob(found.ID)
	}
	return f.follow(ctx)
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
		rec, out, err := r.runJob(ctx, host, req, jobWatch{})
		wait, busy := agent.TooBusy(err)
		if !busy {
			r.observeStatus(host, req, rec, out, err)
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
		if sleepCtx(ctx, wait) != nil {
			return rec, out, context.Cause(ctx)
		}
	}
}

// attachJob follows a job that is already running (restart recovery).
func (r *Router) attachJob(ctx context.Context, host Host, jobID string, w jobWatch) (agent.JobRecord, *output, error) {
	ctx = r.withJobLog(ctx)
	defer r.flights.changed(host.Name) // see runJob
	f, err := r.newFollower(ctx, host, w, true)
	if err != nil {
		return agent.JobRecord{}, memoryOutput(), err
	}
	f.jobID = jobID
	f.scope.setJob(jobID)
	return f.follow(ctx)
}

// alreadyRan reports whether err is the agent's 409 for a request ID it
// already ran: not busy (that names the running job), but "this request
// has a job here".
func alreadyRan(err error, req agent.RunRequest) bool {
	var ae *agent.APIError
	return req.RequestID != "" && errors.As(err, &ae) && ae.Status == http.StatusConflict
}

// refused reports whether err is the agent's definite refusal of a run
// (busy, bad request, shutting down): the job did not start.
func refused(err error) bool {
	var busy *agent.BusyError
	var ae *agent.APIError
	return errors.As(err, &busy) || errors.As(err, &ae)
}

// follow attaches to f.jobID from the line after the last one received
// until the end record, for as long as ctx lasts.
func (f *follower) follow(ctx context.Context) (agent.JobRecord, *output, error) {
	for {
		before := f.out.lastSeq
		rec, err := f.host.Agent.Attach(ctx, f.jobID, f.out.lastSeq+1, f.handle)
		if err == nil {
			f.reached()
			f.r.observeJob(f.host, rec)
			return rec, f.out, f.out.verify(rec)
		}
		if ctx.Err() != nil || errors.Is(err, agent.ErrDigestMismatch) {
			return rec, f.out, fmt.Errorf("following job %s on %s: %w", f.jobID, f.host.Name, err)
		}
		if errors.Is(err, agent.ErrJobNotFound) || (refused(err) && !transient(err)) {
			return rec, f.out, fmt.Errorf("following job %s on %s: %w", f.jobID, f.host.Name, &errOutcomeUnknown{jobID: f.jobID, err: err})
		}
		if f.out.lastSeq > before {
			f.failures = 0 // it was making progress: start the backoff over
		}
		f.r.logger(ctx).Warn("job stream broke, re-attaching", "host", f.host.Name, "from", f.out.lastSeq+1, "err", err)
		if ferr := f.failed(ctx, err); ferr != nil {
			if ctx.Err() == nil {
				ferr = &errOutcomeUnknown{jobID: f.jobID, err: ferr}
			}
			return agent.JobRecord{}, f.out, fmt.Errorf("following job %s on %s: %w", f.jobID, f.host.Name, ferr)
		}
	}
}

// locate asks the agent for the job of requestID until it answers. One
// "no job" is definitive: the agent closes the request before it says so
// (agent.Server's lookup), so a run for it that arrives later is refused
// and nothing can start after the bot ended the request "nothing ran".
func (f *follower) locate(ctx context.Context, requestID string, runErr error) (agent.JobRecord, error) {
	f.failures = 1 // the run itself failed
	for {
		rec, err := f.host.Agent.JobForRequest(ctx, requestID)
		switch {
		case err == nil:
			f.reached()
			return rec, nil
		case errors.Is(err, agent.ErrNoJobForRequest):
			f.reached()
			return agent.JobRecord{}, &errNotStarted{cause: runErr}
		case ctx.Err() != nil:
			return agent.JobRecord{}, ctx.Err()
		case refused(err) && !transient(err):
			return agent.JobRecord{}, fmt.Errorf("the run failed (%v) and the agent cannot say whether the job started: %w", runErr, err)
		}
		if err := f.failed(ctx, err); err != nil {
			return agent.JobRecord{}, err
		}
	}
}

// record asks the agent for job id until it answers.
func (f *follower) record(ctx context.Context, id string) (agent.JobRecord, error) {
	for {
		rec, err := f.host.Agent.Job(ctx, id)
		switch {
		case err == nil:
			f.reached()
			return rec, nil
		case ctx.Err() != nil, errors.Is(err, agent.ErrJobNotFound), refused(err) && !transient(err):
			return rec, err
		}
		if err := f.failed(ctx, err); err != nil {
			return agent.JobRecord{}, err
		}
	}
}

// transient reports whether an agent refusal is worth retrying.
func transient(err error) bool {
	var ae *agent.APIError
	return errors.As(err, &ae) && (ae.Status == 429 || ae.Status == 408 || ae.Status >= 500)
}

// failed counts a failed call, reports the agent unreachable from the
// second in a row, and waits the backoff. It returns ctx's error if the
// bot stops meanwhile.
func (f *follower) failed(ctx context.Context, err error) error {
	f.failures++
	if m := f.watch.maxFailures; m > 0 && f.failures > m {
		return fmt.Errorf("gave up after %d failed attempts: %w", m, err)
	}
	if f.failures >= 2 && f.lostAt.IsZero() {
		f.lostAt = f.r.opt.Clock()
		f.watch.progress.update(func(v *progressView) {
			v.problem = "outcome unknown: agent unreachable since " + f.lostAt.UTC().Format("15:04:05 UTC") + "; retrying"
		})
		if f.watch.lost != nil {
			f.watch.lost(f.lostAt, err)
		}
	}
	return sleepCtx(ctx, backoff(f.failures, f.r.opt.RetryMax))
}

// reached notes that the agent answered.
func (f *follower) reached() {
	f.failures = 0
	if f.lostAt.IsZero() {
		return
	}
	f.lostAt = time.Time{}
	f.watch.progress.update(func(v *progressView) { v.problem = "" })
	if f.watch.found != nil {
		f.watch.found(f.jobID)
	}
}

// backoff is 1 s, 2 s, 4 s … up to limit.
func backoff(failures int, limit time.Duration) time.Duration {
	d := time.Second
	for i := 1; i < failures && d < limit; i++ {
		d *= 2
	}
	return min(d, limit)
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// exitCode renders a record's exit status for messages.
func exitCode(rec agent.JobRecord) string {
	if rec.ExitCode == nil {
		return "none (" + rec.State + ")"
	}
	return fmt.Sprint(*rec.ExitCode)
}
