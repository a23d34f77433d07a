package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// followUp checks what an approved operation really did and returns the
// verdict, so a thread and its card end with the state of the host and not
// merely with an exit code:
//   - migrate: status again ("all up" or what is still down), plus the
//     finalize GitLab asked for when a batched migration blocked it;
//   - finalize: the background-migration status, because finalize prints
//     Done. even when nothing matched;
//   - restart: every service, until the restarted ones run or RestartWait
//     passes.
//
// res is what resultMessage parsed (nil when the output was unreadable);
// jobOK says the job exited 0.
func (r *Router) followUp(ctx context.Context, chat bot.Chat, req *approvals.Request, host Host, res any, jobOK bool) verdict {
	root := bot.Ref{Channel: req.Channel, ID: req.Thread}
	reply := func(msg bot.Message) {
		if _, err := chat.Reply(ctx, root, msg); err != nil {
			r.log.Error("replying in thread", "err", err)
		}
	}
	switch req.Operation {
	case gitlab.OpMigrate:
		m, _ := res.(gitlab.MigrateResult)
		return r.migrateCheck(ctx, req, host, m, jobOK, reply)
	case gitlab.OpFinalize:
		msg, v := r.finalizeCheck(ctx, host, argsOf(req.Params, ""), jobOK)
		reply(msg)
		if fr, ok := res.(gitlab.FinalizeResult); ok && fr.Failure != nil && v.kind == verdictFailed {
			v.why = "finalize failed: " + finalizeFailureReason(fr.Failure)
		}
		return v
	case gitlab.OpRestart:
		cr, ok := res.(gitlab.CtlRestart)
		if !ok {
			return verdict{verdictFailed, "gitlab-ctl restart printed something I could not read; check /gitlab-migrations services"}
		}
		msg, v := r.restartCheck(ctx, host, cr, jobOK)
		if msg.Title != "" { // the result message already said nothing restarted
			reply(msg)
		}
		return v
	}
	if jobOK {
		return verdict{verdictSucceeded, "exit 0"}
	}
	return verdict{verdictFailed, "the job failed"}
}

// migrateCheck offers the finalize a blocked migrate needs and confirms
// the run with db:migrate:status.
func (r *Router) migrateCheck(ctx context.Context, req *approvals.Request, host Host, m gitlab.MigrateResult, jobOK bool, reply func(bot.Message)) verdict {
	before := downBeforeOf(req.Params)
	if f := m.Failure; f != nil && f.Kind == gitlab.FailureUnfinishedBBM && f.Finalize != nil {
		evidence := before
		if len(evidence.Databases) == 0 {
			evidence = r.databasesNow(ctx, host)
		}
		a, known := suggestedFinalize(f, evidence)
		r.storeSuggestion(ctx, req, a)
		reply(finalizeOfferMessage(req, f, a, known))
	}
	migrated := 0
	for _, am := range m.Migrated {
		if !am.Reverted {
			migrated++
		}
	}
	stopped := ""
	if f := m.Failure; f != nil {
		stopped = "it stopped" + failureAt(f, before) + ": " + failureReason(f)
	}
	s, err := r.migrateStatus(ctx, host)
	if err != nil {
		r.log.Error("status after migrate", "host", host.Name, "err", err)
		reply(bot.Message{Title: "Could not check the status after migrate", Text: problem(host.Name, err) + " Check with /gitlab-migrations status.", Tone: bot.ToneDanger})
		switch {
		case jobOK:
			return verdict{verdictUnverified, fmt.Sprintf("db:migrate exited 0 (%d migrated), but I could not check the status after it; check with /gitlab-migrations status", migrated)}
		case migrated > 0:
			return verdict{verdictPartly, fmt.Sprintf("%d migrated, then %s", migrated, stopped)}
		}
		return verdict{verdictFailed, "nothing migrated; " + stopped}
	}
	msg := statusMessage(host.Name, s)
	if s.AllUp() {
		msg.Title = "All up on " + host.Name
	} else {
		msg.Title = "Still down on " + host.Name
	}
	reply(msg)
	down := s.Down()
	switch {
	case jobOK && s.AllUp():
		return verdict{verdictSucceeded, fmt.Sprintf("%d migrated; every migration is up", migrated)}
	case jobOK && migrated == 0:
		return verdict{verdictNoEffect, fmt.Sprintf("db:migrate exited 0 but migrated nothing; %d still down", down)}
	case jobOK:
		return verdict{verdictPartly, fmt.Sprintf("%d migrated, but %d still down", migrated, down)}
	case migrated > 0:
		return verdict{verdictPartly, fmt.Sprintf("%d migrated, then %s; %d still down", migrated, stopped, down)}
	case stopped == "":
		return verdict{verdictFailed, fmt.Sprintf("db:migrate failed without an error GitLab's output explains; %d still down", down)}
	}
	return verdict{verdictFailed, "nothing migrated; " + stopped}
}

// finalizeOfferMessage offers the finalize GitLab asked for as a new,
// approval-gated request. a is the stored suggestion (suggestedFinalize):
// its Database is the task variant, and dbKnown says whether the evidence
// named the failed migration's database at all.
func finalizeOfferMessage(req *approvals.Request, f *gitlab.MigrateFailure, a gitlab.Args, dbKnown bool) bot.Message {
	db := a.Database
	switch {
	case !dbKnown:
		db = "not named by GitLab"
	case db == "" && f.Database != "":
		db = f.Database
	case db == "":
		db = "the only database"
	}
	task := "gitlab:background_migrations:finalize"
	if a.Database != "" {
		task += ":" + a.Database
	}
	m := bot.Message{
		Title: "GitLab needs a batched background migration finalized first",
		Fields: []bot.Field{
			{Label: "Job class", Value: f.Finalize.JobClass, Short: true},
			{Label: "Table.column", Value: f.Finalize.Table + "." + f.Finalize.Column, Short: true},
			{Label: "Job arguments", Value: "`" + f.Finalize.JobArguments + "`"},
			{Label: "Database", Value: db + " (status " + f.Status + ")", Short: true},
		},
		Text: fmt.Sprintf("To request it (it needs its own approval; it runs `%s`):\n`/gitlab-migrations finalize --from %s -- finish %s`", task, req.ID, f.Finalize.JobClass),
		Tone: bot.ToneWarning,
	}
	if !dbKnown {
		m.Text = fmt.Sprintf("GitLab's output does not say which database migration %s ran on, and it was pending on more than one, so I will not guess. "+
			"Check `/gitlab-migrations bbm`, then request it for the database that has this batched migration (it needs its own approval):\n"+
			"`/gitlab-migrations finalize --from %s --db main -- finish %s` or `--db ci`", f.Version, req.ID, f.Finalize.JobClass)
	}
	return m
}

// suggestedFinalize is the finalize GitLab asked for, with the task
// variant only the evidence supports. GitLab's suggested command never has
// the :main/:ci suffix that a decomposed install needs; the failed
// migration's database (GitLab's prefix, or Attribute from the status
// before the run) says which. dbKnown is false when the install has
// several databases and neither names it: then the finalize needs --db.
func suggestedFinalize(f *gitlab.MigrateFailure, before gitlab.DownBefore) (a gitlab.Args, dbKnown bool) {
	a = gitlab.Args{BatchedMigration: *f.Finalize}
	if !before.Decomposed() {
		// One database: the plain task (finalize:main exists only when
		// there are several).
		return a, true
	}
	if f.Database == "" {
		return a, false
	}
	a.Database = f.Database
	return a, true
}

// databasesNow is the fallback evidence for a migrate request opened
// without it (by an older bot): which databases the install has. Only the
// list is used, never the down versions, which the run has changed.
func (r *Router) databasesNow(ctx context.Context, host Host) gitlab.DownBefore {
	s, err := r.migrateStatus(ctx, host)
	if err != nil {
		r.log.Warn("checking the databases for a finalize suggestion", "host", host.Name, "err", err)
		return gitlab.DownBefore{}
	}
	d := gitlab.DownBeforeOf(s)
	d.Down = nil
	return d
}

// storeSuggestion keeps the finalize GitLab suggested on the failed
// migrate request, for `finalize --from`.
func (r *Router) storeSuggestion(ctx context.Context, req *approvals.Request, a gitlab.Args) {
	detail := fmt.Sprintf("GitLab asked to finalize %s on %s.%s first; offered as `finalize --from %s`", a.JobClass, a.Table, a.Column, req.ID)
	if _, err := r.opt.Approvals.AddParams(ctx, req.ID, suggestionParams(nil, a), detail); err != nil {
		r.log.Error("storing finalize suggestion", "request", req.ID, "err", err)
	}
}

// finalizeCheck confirms a finalize with the background-migration status
// and says what it really did.
func (r *Router) finalizeCheck(ctx context.Context, host Host, a gitlab.Args, jobOK bool) (bot.Message, verdict) {
	failed := verdict{verdictFailed, "finalize failed; nothing was finalized"}
	s, err := r.bbmStatus(ctx, host, a.Database)
	if err != nil {
		r.log.Error("background migrations after finalize", "host", host.Name, "err", err)
		msg := bot.Message{Title: "Could not check background migrations after finalize", Text: problem(host.Name, err) + " Check with /gitlab-migrations bbm.", Tone: bot.ToneDanger}
		if jobOK {
			return msg, verdict{verdictUnverified, "finalize printed Done., but I could not check the background migrations after it; check with /gitlab-migrations bbm"}
		}
		return msg, failed
	}
	if row, db, ok := findBBM(s, a.BatchedMigration); ok {
		where := fmt.Sprintf("%s on %s.%s", a.JobClass, a.Table, a.Column)
		if db != "" {
			where += " (" + db + ")"
		}
		if row.Done() {
			return bot.Message{Title: "Finalized", Text: fmt.Sprintf("%s is now *%s*. You can run migrate again.", where, row.Status), Tone: bot.ToneSuccess},
				verdict{verdictSucceeded, where + " is " + row.Status}
		}
		if jobOK {
			return bot.Message{Title: "Not finalized", Text: fmt.Sprintf("finalize printed Done., but %s is still *%s*.", where, row.Status), Tone: bot.ToneDanger},
				verdict{verdictFailed, fmt.Sprintf("finalize printed Done., but %s is still %s", where, row.Status)}
		}
		return bot.Message{Title: "Not finalized", Text: fmt.Sprintf("%s is still *%s*.", where, row.Status), Tone: bot.ToneDanger},
			verdict{verdictFailed, fmt.Sprintf("finalize failed; %s is still %s", where, row.Status)}
	}
	msg := bot.Message{Title: "No such background migration", Tone: bot.ToneDanger,
		Text: fmt.Sprintf("No batched background migration matches %s %s.%s %s, so nothing was finalized. Check the arguments against /gitlab-migrations bbm.", a.JobClass, a.Table, a.Column, a.JobArguments)}
	if jobOK {
		msg.Text = "finalize printed Done., but " + strings.ToLower(msg.Text[:1]) + msg.Text[1:]
		return msg, verdict{verdictNoEffect, "finalize printed Done., but it matched no batched background migration, so nothing was finalized"}
	}
	return msg, failed
}

// findBBM finds the batched migration with these four arguments.
func findBBM(s gitlab.BBMStatus, want gitlab.BatchedMigration) (gitlab.BBMRow, string, bool) {
	for _, d := range s.Databases {
		for _, row := range d.Migrations {
			if row.JobClass == want.JobClass && row.Table == want.Table && row.Column == want.Column && sameJSON(row.JobArguments, want.JobArguments) {
				return row, d.Name, true
			}
		}
	}
	return gitlab.BBMRow{}, "", false
}

// restartCheck polls every service after a restart until the restarted
// ones run or RestartWait passes, and reports all of them: a restart that
// leaves another service down is not a success.
func (r *Router) restartCheck(ctx context.Context, host Host, cr gitlab.CtlRestart, jobOK bool) (bot.Message, verdict) {
	var restarted, notRestarted []string
	for _, l := range cr.Services {
		if l.Outcome == "ok" {
			restarted = append(restarted, l.Name)
		} else {
			notRestarted = append(notRestarted, fmt.Sprintf("%s (%s)", l.Name, l.Outcome))
		}
	}
	if len(cr.Services) == 0 {
		// Nothing to wait for: gitlab-ctl prints nothing for a name it does
		// not know, so polling for it would never end.
		return bot.Message{}, verdict{verdictNoEffect, "gitlab-ctl restarted no service (unknown or disabled service name); /gitlab-migrations services lists them"}
	}
	deadline := r.opt.Clock().Add(r.opt.RestartWait)
	for {
		s, err := r.ctlStatus(ctx, host)
		if err == nil && allUp(s, restarted) || r.opt.Clock().After(deadline) || ctx.Err() != nil {
			if err != nil {
				r.log.Error("services after restart", "host", host.Name, "err", err)
				return bot.Message{Title: "Could not check the services after the restart", Text: problem(host.Name, err) + " Check with /gitlab-migrations services.", Tone: bot.ToneDanger},
					verdict{verdictUnverified, "gitlab-ctl restart ended, but I could not check the services after it; check with /gitlab-migrations services"}
			}
			msg := servicesMessage(host.Name, s)
			msg.Title = "Services on " + host.Name + " after the restart"
			return msg, restartVerdict(s, restarted, notRestarted, r.opt.RestartWait)
		}
		select {
		case <-ctx.Done():
		case <-time.After(r.opt.RestartPoll):
		}
	}
}

// allUp reports whether every named service is listed and running.
func allUp(s gitlab.CtlStatus, names []string) bool {
	for _, n := range names {
		if svc, ok := s.Lookup(n); !ok || !svc.Up() {
			return false
		}
	}
	return true
}

// restartVerdict judges a restart from every service's state after it.
func restartVerdict(s gitlab.CtlStatus, restarted, notRestarted []string, waited time.Duration) verdict {
	var upAgain, stillDown, othersDown []string
	for _, n := range restarted {
		if svc, ok := s.Lookup(n); ok && svc.Up() {
			upAgain = append(upAgain, n)
		} else {
			stillDown = append(stillDown, n)
		}
	}
	for _, svc := range s.Down() {
		if !slices.Contains(restarted, svc.Name) {
			othersDown = append(othersDown, describeDown(svc))
		}
	}
	var why []string
	if len(upAgain) > 0 {
		why = append(why, fmt.Sprintf("%s restarted and running", listShort(upAgain, 5)))
	}
	if len(notRestarted) > 0 {
		why = append(why, "did not restart: "+listShort(notRestarted, 6))
	}
	if len(stillDown) > 0 {
		why = append(why, fmt.Sprintf("not running %s after the restart: %s", waited, strings.Join(stillDown, ", ")))
	}
	if len(othersDown) > 0 {
		why = append(why, "also not running: "+listShort(othersDown, 6))
	}
	text := strings.Join(why, "; ")
	switch {
	case len(stillDown) == 0 && len(notRestarted) == 0 && len(othersDown) == 0:
		return verdict{verdictSucceeded, fmt.Sprintf("%s; all %d services running", text, len(s.Services))}
	case len(upAgain) == 0:
		return verdict{verdictFailed, text}
	}
	return verdict{verdictPartly, text}
}

// describeDown names a service that is not running, in a few words.
func describeDown(s gitlab.Service) string {
	switch {
	case s.State == "down" && s.WantUp:
		return s.Name + " (down, crash loop?)"
	case s.State == "fail" || s.State == "warning":
		return fmt.Sprintf("%s (%s: %s)", s.Name, s.State, s.Message)
	}
	return fmt.Sprintf("%s (%s)", s.Name, s.State)
}

func sameJSON(a, b string) bool {
	ca, errA := gitlab.CompactJobArguments(a)
	cb, errB := gitlab.CompactJobArguments(b)
	return errA == nil && errB == nil && ca == cb
}
