package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/leader"
)

// recoverRunning finishes what a previous bot process left behind, so
// that nothing is silently lost:
//   - running requests are re-attached through the agent's job API and
//     completed as if the bot had never stopped; a job the agent no longer
//     knows ends the request as interrupted (outcome unknown), and one the
//     agent confirms it never started as failed (nothing ran), as at run
//     time (outcomeOf); either with a message in its thread;
//   - approved requests that never started are not started now (the
//     approval may be stale): they end as interrupted, nothing having run.
func (r *Router) recoverRunning(ctx context.Context) error {
	reqs, err := r.opt.Approvals.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StateRunning, approvals.StateApproved}})
	if err != nil {
		return err
	}
	whyRunning, whyApproved := r.recoveryWhy()
	for _, req := range reqs {
		ctx := r.withRequestLog(ctx, req.ID)
		chat, ok := r.chat(req.Platform)
		if !ok {
			r.logger(ctx).Warn("request left running on a platform that is not connected now; it stays running until the bot starts with that platform", "platform", req.Platform)
			continue
		}
		if req.State == approvals.StateApproved {
			// A live replica that recorded the approval holds its claim
			// (taken before the approval, decide.go): it starts it now.
			// Only an approval nobody holds was left by a dead process.
			held, err := r.owners.Held(ctx, req.ID)
			switch {
			case err != nil:
				r.logger(ctx).Error("asking who starts an approved request; the expiry sweep ends it if nobody does", "err", err)
			case held:
				r.logger(ctx).Info("approved request is being started by a live follower; recovery leaves it")
			default:
				r.abandon(ctx, chat, req, whyApproved)
			}
			continue
		}
		// Claimed now, before the sweep can run, so that nobody else
		// follows it meanwhile; a request a live replica follows is its.
		fctx, release, ok := r.take(ctx, req.ID)
		if !ok {
			continue
		}
		r.background("recover "+req.ID, func(context.Context) {
			defer release()
			r.reattach(fctx, chat, req, whyRunning)
		})
	}
	return nil
}

// recoveryWhy is why recovery re-attaches a running request and why it
// ends an approved one, for their threads. Recovery runs at the start of
// each term of leadership: for one process (leader.Always) that is a
// restart; among replicas, the process that held the request is gone and
// the new leader took it over, which an operator must not read as the
// whole bot having restarted.
func (r *Router) recoveryWhy() (running, approved string) {
	if _, single := r.opt.Leadership.(leader.Always); single {
		return "the bot restarted", "the bot restarted after the approval and before starting the job"
	}
	return "the bot replica that followed it stopped and another took over",
		"the bot replica that recorded the approval stopped before starting the job"
}

// reattach follows a running request's job to its end: after a restart,
// or when the sweep adopts a request whose follower is gone (why says
// which, for the thread). It only looks the job up and attaches to it; it
// never runs anything. A request whose job ID was never stored (the bot
// stopped between the run and recording it) is looked up by request ID,
// so it is re-attached all the same. While the agent cannot be reached,
// the request stays running and the bot keeps trying for as long as it
// runs. The caller holds the request's claim (Owners.Take).
func (r *Router) reattach(ctx context.Context, chat bot.Chat, req *approvals.Request, why string) {
	ctx = r.withJobLog(r.withRequestLog(ctx, req.ID))
	scopeOf(ctx).setJob(req.JobID)
	host, err := r.host(req.Host)
	if err != nil {
		r.interrupt(ctx, chat, req, why+" and host "+req.Host+" is no longer configured, so the job cannot be followed.")
		return
	}
	w := r.requestWatch(ctx, chat, req, host, nil)
	f, err := r.newFollower(ctx, host, w, true)
	if err != nil {
		r.logger(ctx).Error("creating the output spool to re-attach", "err", err)
		r.interrupt(ctx, chat, req, why+" and the bot could not create a temporary file for the job's output (its log has the details), so it cannot follow the job. Check with /gitlab-migrations status and services.")
		return
	}
	defer f.out.close()
	var rec agent.JobRecord
	if req.JobID == "" {
		rec, err = f.locate(ctx, req.ID, errors.New("the bot stopped before it recorded the agent's job"))
	} else {
		rec, err = f.record(ctx, req.JobID)
	}
	var ns *errNotStarted
	switch {
	case ctx.Err() != nil:
		return // shutting down (or taken over): the request stays running for the next follower
	case errors.As(err, &ns):
		// As at run time (outcomeOf): the agent confirms it never started
		// the job, so the request failed and nothing ran. Interrupted is
		// kept for an outcome that is unknown.
		r.end(ctx, chat, req, approvals.StateFailed, fmt.Sprintf("%s, and the agent on %s has no job for this request: nothing ran. Open a new request if it is still needed.", why, host.Name))
		return
	case errors.Is(err, agent.ErrJobNotFound):
		r.interrupt(ctx, chat, req, fmt.Sprintf("%s and the agent on %s no longer knows job %s, so its outcome is unknown. Check with /gitlab-migrations status and services.", why, host.Name, req.JobID))
		return
	case err != nil:
		r.logger(ctx).Error("re-attaching to a job", "err", err)
		r.interrupt(ctx, chat, req, fmt.Sprintf("%s and the bot could not learn what became of the job: %s Check the host before retrying.", why, agentProblem(host.Name, err)))
		return
	}
	f.setJob(rec.ID) // stores it if only the lookup knew it
	root := bot.Ref{Channel: req.Channel, ID: req.Thread}
	progress, err := chat.Reply(ctx, root, bot.Message{Text: bot.Join(bot.Plain("🔁 "), bot.Sentence(reattachNote(why, rec))), Tone: bot.ToneInfo})
	if err != nil {
		r.logger(ctx).Error("replying in thread", "err", err)
	}
	box := r.newProgress(ctx, chat, progress, req.Operation, host.Name)
	f.watch.progress = box
	rec, out, err := f.follow(ctx)
	box.stop()
	if r.stopping(ctx, req) {
		return
	}
	r.complete(ctx, chat, req, host, progress, rec, out, err)
}

// abandon ends an approved request that was never started as interrupted
// (approvals.Service.Abandon) and says in its thread that nothing ran. If
// even that cannot be recorded, the expiry sweep abandons it later
// (approvals.ApprovedDeadline).
func (r *Router) abandon(ctx context.Context, chat bot.Chat, req *approvals.Request, why string) {
	ctx = r.withRequestLog(ctx, req.ID)
	done, err := r.opt.Approvals.Abandon(context.WithoutCancel(ctx), req.ID, why)
	if err != nil {
		if !approvals.IsRefusal(err) {
			r.logger(ctx).Error("abandoning request", "err", err)
		}
		return
	}
	r.reportAbandoned(ctx, chat, done)
}

// reportAbandoned updates an abandoned request's root post and says in its
// thread that nothing ran.
func (r *Router) reportAbandoned(ctx context.Context, chat bot.Chat, req *approvals.Request) {
	ctx = r.withRequestLog(ctx, req.ID)
	root := bot.Ref{Channel: req.Channel, ID: req.Thread}
	r.updateRoot(ctx, chat, root, requestMessage(req, r.opt.Clock()))
	text := "Not started: " + strings.TrimPrefix(req.Error, "not started, nothing ran: ") + ". Nothing ran. Open a new request if it is still needed."
	if _, err := chat.Reply(ctx, root, bot.Message{Title: bot.Plain("Interrupted"), Text: bot.Sentence(text), Tone: bot.ToneDanger}); err != nil {
		r.logger(ctx).Error("replying in thread", "err", err)
	}
}

// interrupt ends a request as interrupted (its outcome unknown) and says
// why in its thread.
func (r *Router) interrupt(ctx context.Context, chat bot.Chat, req *approvals.Request, why string) {
	r.end(ctx, chat, req, approvals.StateInterrupted, why)
}

// end finishes a request with outcome and says why in its thread.
func (r *Router) end(ctx context.Context, chat bot.Chat, req *approvals.Request, outcome approvals.State, why string) {
	r.finish(ctx, chat, req, outcome, why)
	title := "Interrupted"
	if outcome == approvals.StateFailed {
		title = "Failed"
	}
	if _, err := chat.Reply(ctx, bot.Ref{Channel: req.Channel, ID: req.Thread}, bot.Message{Title: bot.Plain(title), Text: bot.Sentence(why), Tone: bot.ToneDanger}); err != nil {
		r.logger(ctx).Error("replying in thread", "err", err)
	}
}
