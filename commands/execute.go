package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// ActionJobOutput is the audit action that records a finished job's output
// digest, as the agent computed it.
const ActionJobOutput = "job.output"

// execute runs an approved request. Start is the exactly-once gate: of all
// the goroutines and processes that get here for one request, only the one
// that Start lets through runs it.
func (r *Router) execute(ctx context.Context, chat bot.Chat, req *approvals.Request) {
	// The claim is taken before the start, so the sweep never sees this
	// request running without its follower (see owner.go).
	ctx = r.withRequestLog(ctx, req.ID)
	ctx, release, ok := r.takeApproved(ctx, req.ID)
	if !ok {
		return // another follower has it, or etcd cannot say (the deadline sweep ends it)
	}
	defer release()
	r.start(ctx, chat, req)
}

// takeApproved takes approved request id's claim for its start. Another
// follower may hold it for a moment: the one that approved it at the same
// time on another replica, before its own approval was refused (decide.go
// approve); so a held claim is asked for again for up to claimWait.
func (r *Router) takeApproved(ctx context.Context, id string) (context.Context, func(), bool) {
	deadline := time.Now().Add(claimWait)
	for {
		cctx, release, ok := r.take(ctx, id)
		if ok || time.Now().After(deadline) {
			return cctx, release, ok
		}
		select {
		case <-ctx.Done():
			return nil, nil, false
		case <-time.After(claimWait / 20):
		}
	}
}

// claimWait is how long takeApproved asks again for a held claim.
const claimWait = 2 * time.Second

// start starts approved request req and follows its job; the caller
// holds its claim (Owners.Take).
func (r *Router) start(ctx context.Context, chat bot.Chat, req *approvals.Request) {
	started, err := r.opt.Approvals.Start(ctx, req.ID)
	if err != nil {
		switch {
		case errors.Is(err, approvals.ErrAlreadyStarted):
		case approvals.IsRefusal(err):
			r.logger(ctx).Error("starting request", "err", err)
		default:
			// The approval is recorded but the start is not: end the
			// request now rather than leave it approved (nothing ran).
			r.logger(ctx).Error("starting request", "err", err)
			r.abandon(ctx, chat, req, "the bot could not record the start in its store (its log has the details)")
		}
		return
	}
	r.logger(ctx).Info("request started", "operation", started.Operation, "host", started.Host)
	root := bot.Ref{Channel: started.Channel, ID: started.Thread}
	r.updateRoot(ctx, chat, root, requestMessage(started, r.opt.Clock()))
	if started.Emergency {
		r.emergencyNotice(ctx, chat, started, "running")
	}
	host, err := r.host(started.Host)
	if err != nil {
		r.finish(ctx, chat, started, approvals.StateFailed, err.Error())
		return
	}
	op, err := gitlab.Lookup(started.Operation)
	args := argsOf(started.Params, "")
	var cmd gitlab.Command
	if err == nil {
		cmd, err = op.Command(args)
	}
	// What was approved is what runs: if this build of the catalogue would
	// run anything else, refuse rather than run something nobody approved.
	if err == nil && !slices.Equal(cmd.Argv(), started.Argv) {
		err = fmt.Errorf("the approved command %q is not what this version builds (%q); nothing ran, open a new request", started.Argv, cmd.Argv())
	}
	if err != nil {
		r.finish(ctx, chat, started, approvals.StateFailed, err.Error())
		return
	}
	// The statement names people by qualified ID (a request stored before
	// IDs were qualified reads as its platform's), so that the agent's own
	// requester-is-not-an-approver check compares like with like.
	approvers := []string{}
	for _, d := range started.Approvals() {
		approvers = append(approvers, started.Canonical(d.User.ID))
	}
	// The agent gets the approved argv and runs only if its own catalogue
	// builds the same; a refusal names both and ends the request failed.
	argv := slices.Clone(started.Argv)
	if r.argvSent != nil {
		argv = r.argvSent(argv)
	}
	runReq := agent.RunRequest{Operation: op.Name, Args: args, Argv: argv, RequestID: started.ID, Requester: started.Canonical(started.Requester.ID), Approvers: approvers}
	if runReq.Approval, err = approvalFor(host, runReq); err != nil {
		r.logger(ctx).Error("approval statement", "host", host.Name, "err", err)
		r.finish(ctx, chat, started, approvals.StateFailed, peopleText(err))
		return
	}
	progress, err := chat.Reply(ctx, root, bot.Message{Text: bot.Textf("⏳ Running %s on %s…", bot.Code(cmd.String()), host.Name), Tone: bot.ToneInfo})
	if err != nil {
		r.logger(ctx).Error("posting progress message", "err", err)
	}
	// From here on the job's lines, and this function's, carry its ID.
	ctx = r.withJobLog(ctx)
	box := r.newProgress(ctx, chat, progress, cmd.String(), host.Name)
	w := r.requestWatch(ctx, chat, started, host, box)
	rec, out, runErr := r.runJob(ctx, host, runReq, w)
	defer out.close()
	box.stop()
	if r.stopping(ctx, started) {
		return
	}
	r.complete(ctx, chat, started, host, progress, rec, out, runErr)
}

// approvalFor signs the statement the agent needs to run req: the bot's
// word that exactly this run on this host was approved.
func approvalFor(host Host, req agent.RunRequest) (*agent.ApprovalStatement, error) {
	if host.Signer == nil {
		return nil, fmt.Errorf("host %s has no approval key (approval_key), so the agent would refuse the run; nothing ran", host.Name)
	}
	st, err := host.Signer.Sign(agent.ApprovalStatement{RequestID: req.RequestID, Host: host.Name, Operation: req.Operation,
		Argv: req.Argv, Requester: req.Requester, Approvers: req.Approvers})
	if err != nil {
		return nil, &bot.UserError{Text: fmt.Sprintf("the bot could not sign the approval statement for %s with its approval key, so nothing ran; check approval_key in its configuration (its log has the details)", host.Name), Err: err}
	}
	return &st, nil
}

// storeJobTimeout bounds recording a job ID once the bot is stopping.
const storeJobTimeout = 10 * time.Second

// requestWatch is how a request's job is followed: its job ID is stored
// as soon as it is known, and the thread hears when the agent cannot be
// reached and when it can again.
func (r *Router) requestWatch(ctx context.Context, chat bot.Chat, req *approvals.Request, host Host, box *progressBox) jobWatch {
	root := bot.Ref{Channel: req.Channel, ID: req.Thread}
	return jobWatch{
		progress: box,
		onJob: func(jobID string) {
			r.logger(ctx).Info("agent job started", "host", host.Name)
			// The job ID must survive a SIGTERM that arrives now: without it
			// the next start would have to look the job up (it can, but the
			// record should say what ran).
			sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeJobTimeout)
			defer cancel()
			if _, err := r.opt.Approvals.SetJob(sctx, req.ID, jobID); err != nil {
				r.logger(ctx).Error("recording job", "err", err)
			}
		},
		lost: func(since time.Time, err error) {
			r.logger(ctx).Warn("agent unreachable; the request stays running and the bot keeps retrying", "host", host.Name, "err", err)
			if _, rerr := chat.Reply(ctx, root, unreachableMessage(host.Name, since, err)); rerr != nil {
				r.logger(ctx).Error("replying in thread", "err", rerr)
			}
			r.note(ctx, chat, req.ID, unreachableNote(since))
		},
		found: func(jobID string) {
			r.note(ctx, chat, req.ID, "")
			text := "🔁 The agent on " + host.Name + " answers again"
			if jobID != "" {
				text += "; following job " + jobID
			}
			if _, err := chat.Reply(ctx, root, bot.Message{Text: bot.Plain(text + "."), Tone: bot.ToneInfo}); err != nil {
				r.logger(ctx).Error("replying in thread", "err", err)
			}
		},
	}
}

// unreachableNote is a running request's note (approvals.Service.Note)
// while its agent cannot be reached: `pending` and the request's card show
// it for as long as it lasts.
func unreachableNote(since time.Time) string {
	return "outcome unknown: agent unreachable since " + since.UTC().Format("15:04 UTC")
}

// note sets (or, empty, clears) request id's note and shows it on the
// request's card. It is written even while the bot stops: it is what the
// store says about a request that stays running.
func (r *Router) note(ctx context.Context, chat bot.Chat, id, note string) {
	ctx = r.withRequestLog(ctx, id)
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), storeJobTimeout)
	defer cancel()
	noted, err := r.opt.Approvals.Note(sctx, id, note)
	if err != nil {
		if !approvals.IsRefusal(err) {
			r.logger(ctx).Error("noting request", "err", err)
		}
		return
	}
	r.updateRoot(ctx, chat, bot.Ref{Channel: noted.Channel, ID: noted.Thread}, requestMessage(noted, r.opt.Clock()))
}

// unreachableMessage tells an operator that the outcome is not known yet
// and what to check; err is said in words (agentProblem), and logged by
// the caller.
func unreachableMessage(host string, since time.Time, err error) bot.Message {
	// The cause only: the checks below are the next steps, said once.
	cause, _, _ := strings.Cut(trimDot(agentProblem(host, err)), "; ")
	return bot.Message{
		Title: bot.Plain("Outcome unknown: agent unreachable"),
		Text: bot.Textf("The bot cannot reach the agent on %s since %s (%s). The job may be running or finished there; "+
			"the request stays %s and the bot keeps retrying, then reports the true outcome here.\n"+
			"Check: is %s running on %s (%s, %s)? "+
			"Can the bot reach its address and port (firewall, DNS)? Are the certificates still valid? "+
			"Do not run the operation again by hand before the outcome is known.",
			host, bot.Time(since, bot.Clock), bot.Sentence(cause), bot.Bold("running"), bot.Code("gitlab-chatops-agent"), host,
			bot.Code("systemctl status gitlab-chatops-agent"), bot.Code("journalctl -u gitlab-chatops-agent")),
		Tone: bot.ToneWarning,
	}
}

// stopping reports whether the bot is shutting down. A request whose job
// was being followed then stays running: the job goes on on the agent, and
// the next bot process re-attaches to it (recoverRunning). Marking it failed
// would be false.
func (r *Router) stopping(ctx context.Context, req *approvals.Request) bool {
	if ctx.Err() == nil {
		return false
	}
	if takenOver(ctx) {
		r.logger(ctx).Warn("this follower lost its claim (the sweep took the request over, or this replica lost its etcd lease); another follows the job")
		return true
	}
	r.logger(ctx).Info("bot stopping: request left running for the next start to re-attach")
	return true
}

// complete turns a job's end into the request's outcome, its messages and
// the follow-ups its operation needs.
func (r *Router) complete(ctx context.Context, chat bot.Chat, req *approvals.Request, host Host, progress bot.Ref, rec agent.JobRecord, out *output, runErr error) {
	// Output that arrived incomplete does not change how the job ended (its
	// record says that); it is said on the result and in the outcome, and
	// no digest is claimed for it.
	var inc *incompleteError
	if errors.As(runErr, &inc) {
		r.logger(ctx).Warn("job output incomplete", "host", host.Name, "err", runErr)
		runErr = nil
	}
	state, detail := outcomeOf(host.Name, rec, runErr)
	var summary bot.Message
	var res any
	if runErr != nil {
		r.logger(ctx).Error("running approved request", "host", host.Name, "err", runErr)
		summary = agentErrorMessage(host.Name, req.Operation, runErr)
	} else {
		summary, res = r.resultMessage(req, host.Name, rec, out)
	}
	if inc != nil {
		summary = withIncomplete(summary, inc)
	}
	result := progress
	if progress.IsZero() {
		var err error
		if result, err = chat.Reply(ctx, bot.Ref{Channel: req.Channel, ID: req.Thread}, summary); err != nil {
			r.logger(ctx).Error("replying in thread", "err", err)
		}
	} else if err := chat.Update(ctx, progress, summary); err != nil {
		r.logger(ctx).Error("updating progress message", "err", err)
	}
	if takenOver(ctx) {
		r.logger(ctx).Warn("this follower lost its claim (the sweep took the request over, or this replica lost its etcd lease); it records nothing")
		return
	}
	r.attachOutput(ctx, chat, bot.Ref{Channel: req.Channel, ID: req.Thread}, req.Operation+"-"+req.ID+".txt", "Full output of "+req.Operation, out)
	if rec.ID != "" {
		jobDetail := fmt.Sprintf("agent job %s, exit %s, %d lines, %d bytes", rec.ID, exitCode(rec), rec.Lines, rec.Bytes)
		if inc != nil {
			jobDetail += "; " + inc.Error()
		}
		r.audit(ctx, approvals.AuditEntry{Actor: approvals.ActorSystem, Action: ActionJobOutput, RequestID: req.ID, Host: host.Name,
			Operation: req.Operation, Argv: rec.Argv, Outcome: rec.State, OutputDigest: rec.Digest, Detail: jobDetail})
	}
	// The after-check decides the outcome of a job that ran to its end:
	// SUCCEEDED only when it confirms what was asked.
	v := r.followUp(ctx, chat, req, host, res, runErr == nil && rec.State == agent.StateSucceeded)
	if runErr == nil && (rec.State == agent.StateSucceeded || rec.State == agent.StateFailed) {
		state, detail = v.state(), v.detail()
		// The result in the thread says what the check found, as the card does.
		if _, known := resultLabel(req.Operation); known && !result.IsZero() {
			m := settled(req.Operation, host.Name, summary, v, rec.State == agent.StateSucceeded)
			if inc != nil && m.Tone == bot.ToneSuccess {
				m.Tone = bot.ToneWarning // the output it was read from is incomplete
			}
			if err := chat.Update(ctx, result, m); err != nil {
				r.logger(ctx).Error("settling the result message", "err", err)
			}
		}
	}
	if inc != nil {
		detail = fullStop(detail) + " " + inc.sentence()
	}
	r.finish(ctx, chat, req, state, detail)
}

// withIncomplete adds to a job's result that its output arrived
// incomplete: what was read from it may be missing something.
func withIncomplete(m bot.Message, inc *incompleteError) bot.Message {
	m.Text = joinLines(m.Text, bot.Join(bot.Plain("⚠️ "), bot.Sentence(inc.sentence())))
	if m.Tone == bot.ToneSuccess {
		m.Tone = bot.ToneWarning
	}
	return m
}

// finish records the outcome and updates the root post.
//
// A follower the sweep took the request from (takenOver) records nothing:
// the one that took over records the outcome.
func (r *Router) finish(ctx context.Context, chat bot.Chat, req *approvals.Request, state approvals.State, detail string) {
	if takenOver(ctx) {
		return
	}
	done, err := r.opt.Approvals.Finish(ctx, req.ID, state, detail)
	if err != nil {
		r.logger(ctx).Error("finishing request", "err", err)
		return
	}
	r.logger(ctx).Info("request finished", "state", done.State)
	r.updateRoot(ctx, chat, bot.Ref{Channel: done.Channel, ID: done.Thread}, requestMessage(done, r.opt.Clock()))
	if done.ReviewOpen() {
		r.askForReview(ctx, chat, done)
	}
}

// outcomeOf maps an agent job's end to the request's outcome.
func outcomeOf(host string, rec agent.JobRecord, runErr error) (approvals.State, string) {
	var notStarted *errNotStarted
	switch {
	case errors.As(runErr, &notStarted):
		// The card shows this: the cause as a sentence, not its Go text
		// (the caller logs runErr).
		return approvals.StateFailed, "the agent never started the job (it has no job for this request), so nothing ran: " + agentProblem(host, notStarted.cause)
	case errors.As(runErr, new(*errOutcomeUnknown)), errors.As(runErr, new(*agent.StreamError)):
		// The job may well still be running: say so rather than "failed".
		return approvals.StateInterrupted, "lost the agent's stream and could not re-attach, so the outcome is unknown; check with /gitlab-migrations status and services."
	case runErr != nil:
		return approvals.StateFailed, agentProblem(host, runErr)
	case rec.State == agent.StateSucceeded:
		return approvals.StateSucceeded, fmt.Sprintf("exit 0 in %s", time.Duration(rec.DurationMS)*time.Millisecond)
	case rec.State == agent.StateInterrupted:
		return approvals.StateInterrupted, "the agent stopped while the job ran: " + rec.Error
	}
	return approvals.StateFailed, fmt.Sprintf("the job %s (exit %s)", rec.State, exitCode(rec))
}
