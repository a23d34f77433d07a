package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
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
	started, err := r.opt.Approvals.Start(ctx, req.ID)
	if err != nil {
		switch {
		case errors.Is(err, approvals.ErrAlreadyStarted):
		case approvals.IsRefusal(err):
			r.log.Error("starting request", "request", req.ID, "err", err)
		default:
			// The approval is recorded but the start is not: end the
			// request now rather than leave it approved (nothing ran).
			r.log.Error("starting request", "request", req.ID, "err", err)
			r.abandon(ctx, chat, req, "the bot could not record the start ("+err.Error()+")")
		}
		return
	}
	root := bot.Ref{Channel: started.Channel, ID: started.Thread}
	r.updateRoot(ctx, chat, root, requestMessage(started, r.opt.Clock()))
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
	approvers := []string{}
	for _, d := range started.Approvals() {
		approvers = append(approvers, d.User.ID)
	}
	// The agent gets the approved argv and runs only if its own catalogue
	// builds the same; a refusal names both and ends the request failed.
	argv := slices.Clone(started.Argv)
	if r.argvSent != nil {
		argv = r.argvSent(argv)
	}
	runReq := agent.RunRequest{Operation: op.Name, Args: args, Argv: argv, RequestID: started.ID, Requester: started.Requester.ID, Approvers: approvers}
	if runReq.Approval, err = approvalFor(host, runReq); err != nil {
		r.finish(ctx, chat, started, approvals.StateFailed, err.Error())
		return
	}
	progress, err := chat.Reply(ctx, root, bot.Message{Text: fmt.Sprintf("⏳ Running `%s` on %s…", cmd.String(), host.Name), Tone: bot.ToneInfo})
	if err != nil {
		r.log.Error("posting progress message", "err", err)
	}
	onJob := func(jobID string) {
		if _, err := r.opt.Approvals.SetJob(ctx, started.ID, jobID); err != nil {
			r.log.Error("recording job", "request", started.ID, "job", jobID, "err", err)
		}
	}
	rec, out, runErr := r.runJob(ctx, host, runReq, onJob, r.progress(ctx, chat, progress, cmd.String(), host.Name))
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
		return nil, fmt.Errorf("signing the approval statement: %w; nothing ran", err)
	}
	return &st, nil
}

// stopping reports whether the bot is shutting down. A request whose job
// was being followed then stays running: the job goes on on the agent, and
// the next bot process re-attaches to it (recoverRunning). Marking it failed
// would be false.
func (r *Router) stopping(ctx context.Context, req *approvals.Request) bool {
	if ctx.Err() == nil {
		return false
	}
	r.log.Info("bot stopping: request left running for the next start to re-attach", "request", req.ID)
	return true
}

// complete turns a job's end into the request's outcome, its messages and
// the follow-ups its operation needs.
func (r *Router) complete(ctx context.Context, chat bot.Chat, req *approvals.Request, host Host, progress bot.Ref, rec agent.JobRecord, out *output, runErr error) {
	state, detail := outcomeOf(host.Name, rec, runErr)
	var summary bot.Message
	var res any
	if runErr != nil {
		r.log.Error("running approved request", "request", req.ID, "host", host.Name, "err", runErr)
		summary = agentErrorMessage(host.Name, req.Operation, runErr)
	} else {
		summary, res = r.resultMessage(req, host.Name, rec, out)
	}
	if progress.IsZero() {
		if _, err := chat.Reply(ctx, bot.Ref{Channel: req.Channel, ID: req.Thread}, summary); err != nil {
			r.log.Error("replying in thread", "err", err)
		}
	} else if err := chat.Update(ctx, progress, summary); err != nil {
		r.log.Error("updating progress message", "err", err)
	}
	if out != nil && out.lines > int64(r.opt.AttachOver) {
		f := bot.File{Name: req.Operation + "-" + req.ID + ".txt", Title: "Full output of " + req.Operation, Content: out.transcript()}
		if err := chat.Upload(ctx, bot.Ref{Channel: req.Channel, ID: req.Thread}, f, fmt.Sprintf("%d lines of output", out.lines)); err != nil {
			r.log.Error("uploading output", "err", err)
		}
	}
	if rec.ID != "" {
		r.audit(ctx, approvals.AuditEntry{Actor: approvals.ActorSystem, Action: ActionJobOutput, RequestID: req.ID, Host: host.Name,
			Operation: req.Operation, Argv: rec.Argv, Outcome: rec.State, OutputDigest: rec.Digest,
			Detail: fmt.Sprintf("agent job %s, exit %s, %d lines, %d bytes", rec.ID, exitCode(rec), rec.Lines, rec.Bytes)})
	}
	// The after-check decides the outcome of a job that ran to its end:
	// SUCCEEDED only when it confirms what was asked.
	v := r.followUp(ctx, chat, req, host, res, runErr == nil && rec.State == agent.StateSucceeded)
	if runErr == nil && (rec.State == agent.StateSucceeded || rec.State == agent.StateFailed) {
		state, detail = v.state(), v.detail()
	}
	r.finish(ctx, chat, req, state, detail)
}

// finish records the outcome and updates the root post.
func (r *Router) finish(ctx context.Context, chat bot.Chat, req *approvals.Request, state approvals.State, detail string) {
	done, err := r.opt.Approvals.Finish(ctx, req.ID, state, detail)
	if err != nil {
		r.log.Error("finishing request", "request", req.ID, "err", err)
		return
	}
	r.updateRoot(ctx, chat, bot.Ref{Channel: done.Channel, ID: done.Thread}, requestMessage(done, r.opt.Clock()))
}

// outcomeOf maps an agent job's end to the request's outcome.
func outcomeOf(host string, rec agent.JobRecord, runErr error) (approvals.State, string) {
	switch {
	case errors.As(runErr, new(*agent.StreamError)):
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

// progress returns the function that edits the progress message while a
// job runs: elapsed time and the last line, at most once per
// ProgressEvery, with the agent's heartbeats keeping the clock moving.
func (r *Router) progress(ctx context.Context, chat bot.Chat, ref bot.Ref, cmd, host string) progressFunc {
	var (
		mu    sync.Mutex
		last  time.Time
		start = r.opt.Clock()
	)
	return func(o *output, jobID string) {
		if ref.IsZero() {
			return
		}
		mu.Lock()
		now := r.opt.Clock()
		if now.Sub(last) < r.opt.ProgressEvery {
			mu.Unlock()
			return
		}
		last = now
		mu.Unlock()
		text := fmt.Sprintf("⏳ Running `%s` on %s: %s elapsed, %d lines", cmd, host, now.Sub(start).Round(time.Second), o.lines)
		if o.lastLine != "" {
			text += "\nLast line: `" + truncate(strings.TrimSpace(o.lastLine), 200) + "`"
		}
		if jobID != "" {
			text += "\n_agent job " + jobID + "_"
		}
		if err := chat.Update(ctx, ref, bot.Message{Text: text, Tone: bot.ToneInfo}); err != nil {
			r.log.Warn("updating progress", "err", err)
		}
	}
}
