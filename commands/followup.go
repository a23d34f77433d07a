package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// followUp runs what each operation needs afterwards, so a thread ends with
// the state of the host and not merely with an exit code:
//   - migrate: status again ("all up" or what is still down), plus the
//     finalize GitLab asked for when a batched migration blocked it;
//   - finalize: the background-migration status, because finalize prints
//     Done. even when nothing matched;
//   - restart: services until all are up or RestartWait passes.
func (r *Router) followUp(ctx context.Context, chat bot.Chat, req *approvals.Request, host Host, m gitlab.MigrateResult) {
	root := bot.Ref{Channel: req.Channel, ID: req.Thread}
	reply := func(msg bot.Message) {
		if _, err := chat.Reply(ctx, root, msg); err != nil {
			r.log.Error("replying in thread", "err", err)
		}
	}
	switch req.Operation {
	case gitlab.OpMigrate:
		if f := m.Failure; f != nil && f.Kind == gitlab.FailureUnfinishedBBM && f.Finalize != nil {
			reply(finalizeOfferMessage(req, f))
		}
		s, err := r.migrateStatus(ctx, host)
		if err != nil {
			reply(bot.Message{Title: "Could not check the status after migrate", Text: err.Error(), Tone: bot.ToneDanger})
			return
		}
		msg := statusMessage(host.Name, s)
		if s.AllUp() {
			msg.Title = "All up on " + host.Name
		} else {
			msg.Title = "Still down on " + host.Name
		}
		reply(msg)
	case gitlab.OpFinalize:
		reply(r.finalizeCheck(ctx, host, argsOf(req.Params, "")))
	case gitlab.OpRestart:
		reply(r.waitServices(ctx, host, req.Params[string(gitlab.FieldService)]))
	}
}

// finalizeOfferMessage offers the finalize GitLab asked for as a new,
// approval-gated request.
func finalizeOfferMessage(req *approvals.Request, f *gitlab.MigrateFailure) bot.Message {
	db := f.Database
	if db == "" {
		db = "main"
	}
	return bot.Message{
		Title: "GitLab needs a batched background migration finalized first",
		Fields: []bot.Field{
			{Label: "Job class", Value: f.Finalize.JobClass, Short: true},
			{Label: "Table.column", Value: f.Finalize.Table + "." + f.Finalize.Column, Short: true},
			{Label: "Job arguments", Value: "`" + f.Finalize.JobArguments + "`"},
			{Label: "Database", Value: db + " (status " + f.Status + ")", Short: true},
		},
		Text: fmt.Sprintf("To request it (it needs its own approval):\n`/gitlab-migrations finalize --from %s -- finish %s`", req.ID, f.Finalize.JobClass),
		Tone: bot.ToneWarning,
	}
}

// storeSuggestion keeps the finalize GitLab suggested on the failed
// migrate request, for `finalize --from`. On a decomposed install the
// finalize task needs the database suffix, which GitLab's suggestion
// never has: the failed migration's "ci: " prefix says which.
func (r *Router) storeSuggestion(ctx context.Context, req *approvals.Request, host Host, f *gitlab.MigrateFailure) {
	a := gitlab.Args{BatchedMigration: *f.Finalize}
	switch {
	case f.Database != "" && f.Database != "main":
		a.Database = f.Database
	case f.Database == "main":
		// finalize:main exists only when there are several databases.
		if s, err := r.migrateStatus(ctx, host); err == nil && len(s.Databases) > 1 {
			a.Database = "main"
		}
	}
	if _, err := r.opt.Requests.UpdateRequest(ctx, req.ID, func(q *approvals.Request) error {
		q.Params = suggestionParams(q.Params, a)
		return nil
	}); err != nil {
		r.log.Error("storing finalize suggestion", "request", req.ID, "err", err)
	}
}

// finalizeCheck confirms a finalize with the background-migration status.
func (r *Router) finalizeCheck(ctx context.Context, host Host, a gitlab.Args) bot.Message {
	rec, out, err := r.runJob(ctx, host, agent.RunRequest{Operation: gitlab.OpBBMStatus, Args: gitlab.Args{Database: a.Database}}, nil, nil)
	if err != nil {
		return bot.Message{Title: "Could not check background migrations after finalize", Text: err.Error(), Tone: bot.ToneDanger}
	}
	s, err := gitlab.ParseBBMStatus(out.combined())
	if err != nil {
		return bot.Message{Title: "Could not read background migrations after finalize", Text: fmt.Sprintf("%v (exit %s)", err, exitCode(rec)), Tone: bot.ToneDanger}
	}
	for _, d := range s.Databases {
		for _, row := range d.Migrations {
			if row.JobClass == a.JobClass && row.Table == a.Table && row.Column == a.Column && sameJSON(row.JobArguments, a.JobArguments) {
				if row.Done() {
					return bot.Message{Title: "Finalized", Text: fmt.Sprintf("%s on %s.%s is now *%s*. You can run migrate again.", a.JobClass, a.Table, a.Column, row.Status), Tone: bot.ToneSuccess}
				}
				return bot.Message{Title: "Not finalized", Text: fmt.Sprintf("finalize printed Done., but %s on %s.%s is still *%s*.", a.JobClass, a.Table, a.Column, row.Status), Tone: bot.ToneDanger}
			}
		}
	}
	return bot.Message{Title: "No such background migration", Tone: bot.ToneDanger,
		Text: fmt.Sprintf("finalize printed Done., but no batched background migration matches %s %s.%s %s, so nothing was finalized. Check the arguments against /gitlab-migrations bbm.", a.JobClass, a.Table, a.Column, a.JobArguments)}
}

// waitServices polls gitlab-ctl status after a restart until every service
// (or the restarted one) runs, or RestartWait passes.
func (r *Router) waitServices(ctx context.Context, host Host, only string) bot.Message {
	deadline := r.opt.Clock().Add(r.opt.RestartWait)
	var last bot.Message
	for {
		rec, out, err := r.runJob(ctx, host, agent.RunRequest{Operation: gitlab.OpServices, Args: gitlab.Args{Service: only}}, nil, nil)
		if err == nil {
			s, perr := gitlab.ParseCtlStatus(out.stdoutBytes())
			if perr == nil && len(s.Services) > 0 && len(s.Down()) == 0 {
				return servicesMessage(host.Name, s)
			}
			if perr != nil {
				last = bot.Message{Title: "Could not read gitlab-ctl status", Text: fmt.Sprintf("%v (exit %s)", perr, exitCode(rec)), Tone: bot.ToneDanger}
			} else {
				last = servicesMessage(host.Name, s)
			}
		} else {
			last = agentErrorMessage(host.Name, gitlab.OpServices, err)
		}
		if !r.opt.Clock().Before(deadline) {
			last.Title = fmt.Sprintf("Not all services came back within %s", r.opt.RestartWait)
			return last
		}
		select {
		case <-ctx.Done():
			return bot.Message{Title: "Stopped waiting for services", Text: ctx.Err().Error(), Tone: bot.ToneWarning}
		case <-time.After(r.opt.RestartPoll):
		}
	}
}

func sameJSON(a, b string) bool {
	ca, errA := gitlab.CompactJobArguments(a)
	cb, errB := gitlab.CompactJobArguments(b)
	return errA == nil && errB == nil && ca == cb
}
