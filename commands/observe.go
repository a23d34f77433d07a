package commands

import (
	"context"
	"errors"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Observer is told what the router did, for metrics; the router never
// waits on it, so an implementation must be quick. internal/metrics'
// *Bot implements it; Options.Observer nil observes nothing.
type Observer interface {
	// Command: a command (typed, or a button clicked) was handled; its
	// subcommand is "unknown" when the text names none, and outcome is
	// accepted, refused (a refusal for the user) or error.
	Command(subcommand, outcome string)
	// AgentJob: a job the router followed ended in state after d.
	AgentJob(host, operation, state string, d time.Duration)
	// MigrationStatus: a db:migrate:status run on host succeeded and
	// parsed; database (the database.yml name, e.g. main, ci) had down
	// migrations down at at.
	MigrationStatus(host, database string, down int, at time.Time)
}

// Outcomes of Observer.Command.
const (
	OutcomeAccepted = "accepted"
	OutcomeRefused  = "refused"
	OutcomeError    = "error"
)

type noObserver struct{}

func (noObserver) Command(string, string)                         {}
func (noObserver) AgentJob(string, string, string, time.Duration) {}
func (noObserver) MigrationStatus(string, string, int, time.Time) {}

// observer is Options.Observer, or one that observes nothing (also for a
// Router that tests build without New).
func (r *Router) observer() Observer {
	if r.opt.Observer == nil {
		return noObserver{}
	}
	return r.opt.Observer
}

// HandleCommand implements bot.Handler: handleCommand on the chat
// registered for cmd's platform, counted, its error made a Reply.
func (r *Router) HandleCommand(ctx context.Context, cmd bot.Command) bot.Reply {
	sub := "unknown"
	if inv, _ := Parse(cmd.Text); inv.Sub != "" {
		if _, ok := subcommands[inv.Sub]; ok {
			sub = inv.Sub
		}
	}
	chat, err := r.chatFor(cmd.Platform)
	reply := bot.NoReply
	if err == nil {
		reply, err = r.handleCommand(ctx, chat, cmd)
	}
	r.observer().Command(sub, commandOutcome(err))
	return r.reply(ctx, reply, err)
}

// HandleAction implements bot.Handler for the Approve and Deny buttons:
// handleAction, counted as the subcommand the button stands for.
func (r *Router) HandleAction(ctx context.Context, act bot.Action) bot.Reply {
	sub := "unknown"
	switch act.ActionID {
	case bot.ActionApprove:
		sub = "approve"
	case bot.ActionDeny:
		sub = "deny"
	}
	chat, err := r.chatFor(act.Platform)
	reply := bot.NoReply
	if err == nil {
		reply, err = r.handleAction(ctx, chat, act)
	}
	r.observer().Command(sub, commandOutcome(err))
	return r.reply(ctx, reply, err)
}

// reply is what the user is shown: reply, or err as a Reply (a refusal's
// sentence, with who may approve; the bot's own failure as
// bot.FailedText, logged here with its cause).
func (r *Router) reply(ctx context.Context, reply bot.Reply, err error) bot.Reply {
	if err == nil {
		return reply
	}
	rp := bot.ReplyFor(err)
	if rp.Err != nil {
		r.logger(ctx).Error("handling a command failed", "err", err)
	}
	return rp
}

func commandOutcome(err error) string {
	var refusal *Refusal
	switch {
	case err == nil:
		return OutcomeAccepted
	case errors.As(err, &refusal):
		return OutcomeRefused
	}
	return OutcomeError
}

// observeJob reports a job followed to its end record.
func (r *Router) observeJob(host Host, rec agent.JobRecord) {
	if rec.State == "" || rec.State == agent.StateRunning {
		return
	}
	r.observer().AgentJob(host.Name, rec.Operation, rec.State, time.Duration(rec.DurationMS)*time.Millisecond)
}

// observeStatus reports a db:migrate:status run that succeeded and
// parses. It parses the output again: the callers parse it where they
// render it, and this keeps every caller (status, approval checks,
// after-checks, schedules) reporting without each being changed.
func (r *Router) observeStatus(host Host, req agent.RunRequest, rec agent.JobRecord, out *output, err error) {
	if err != nil || req.Operation != gitlab.OpMigrateStatus || rec.State != agent.StateSucceeded || out == nil {
		return
	}
	s, perr := gitlab.ParseMigrateStatus(out.parsed(req.Operation))
	if perr != nil {
		return
	}
	at := rec.Ended
	if at.IsZero() {
		at = r.opt.Clock()
	}
	for _, db := range s.Databases {
		r.observer().MigrationStatus(host.Name, db.Config, db.Down, at)
	}
}
