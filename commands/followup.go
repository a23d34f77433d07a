package commands

import (
	"context"
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// followUp checks what an approved operation really did and returns the
// verdict (the operation table's followUp), so a thread and its card end
// with the state of the host and not merely with an exit code:
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
			r.logger(ctx).Error("replying in thread", "err", err)
		}
	}
	if row, ok := operationFor(req.Operation); ok && row.followUp != nil {
		return row.followUp(r, ctx, req, host, res, jobOK, reply)
	}
	if jobOK {
		return verdict{verdictSucceeded, "exit 0"}
	}
	return verdict{verdictFailed, "the job failed"}
}

// finalizeFollowUp confirms a finalize (finalizeCheck); a failure GitLab
// explained is the reason of a FAILED verdict.
func (r *Router) finalizeFollowUp(ctx context.Context, req *approvals.Request, host Host, res any, jobOK bool, reply func(bot.Message)) verdict {
	msg, v := r.finalizeCheck(ctx, host, argsOf(req.Params, ""), jobOK)
	reply(msg)
	if fr, ok := res.(gitlab.FinalizeResult); ok && fr.Failure != nil && v.kind == verdictFailed {
		v.why = "finalize failed: " + finalizeFailureReason(fr.Failure)
	}
	return v
}

// restartFollowUp waits for the restarted services (restartCheck).
func (r *Router) restartFollowUp(ctx context.Context, req *approvals.Request, host Host, res any, jobOK bool, reply func(bot.Message)) verdict {
	cr, ok := res.(gitlab.CtlRestart)
	if !ok {
		return verdict{verdictFailed, "gitlab-ctl restart printed something I could not read; check /gitlab-migrations services"}
	}
	msg, v := r.restartCheck(ctx, host, cr)
	if !msg.Title.IsEmpty() { // the result message already said nothing restarted
		reply(msg)
	}
	return v
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
		unfinished := ""
		if !known {
			unfinished = r.unfinishedDatabase(ctx, host, *f.Finalize)
		}
		reply(finalizeOfferMessage(req, f, a, known, unfinished))
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
		r.logger(ctx).Error("status after migrate", "host", host.Name, "err", err)
		reply(problemMessage("Could not check the status after migrate", host.Name, err, "Check with /gitlab-migrations status."))
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
		msg.Title = bot.Plain("All up on " + host.Name)
	} else {
		msg.Title = bot.Plain("Still down on " + host.Name)
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

// finalizeCheck confirms a finalize with the background-migration status
// and says what it really did.
func (r *Router) finalizeCheck(ctx context.Context, host Host, a gitlab.Args, jobOK bool) (bot.Message, verdict) {
	failed := verdict{verdictFailed, "finalize failed; nothing was finalized"}
	s, err := r.bbmStatus(ctx, host, a.Database)
	if err != nil {
		r.logger(ctx).Error("background migrations after finalize", "host", host.Name, "err", err)
		msg := problemMessage("Could not check background migrations after finalize", host.Name, err, "Check with /gitlab-migrations bbm.")
		if jobOK {
			return msg, verdict{verdictUnverified, "finalize printed Done., but I could not check the background migrations after it; check with /gitlab-migrations bbm"}
		}
		return msg, failed
	}
	if row, db, ok := findBBM(s, a.BatchedMigration, a.Database); ok {
		where := fmt.Sprintf("%s on %s.%s", a.JobClass, a.Table, a.Column)
		if db != "" {
			where += " (" + db + ")"
		}
		if row.Done() {
			return bot.Message{Title: bot.Plain("Finalized"), Text: bot.Textf("%s is now %s. You can run migrate again.", where, bot.Bold(row.Status)), Tone: bot.ToneSuccess},
				verdict{verdictSucceeded, where + " is " + row.Status}
		}
		if jobOK {
			return bot.Message{Title: bot.Plain("Not finalized"), Text: bot.Textf("finalize printed Done., but %s is still %s.", where, bot.Bold(row.Status)), Tone: bot.ToneDanger},
				verdict{verdictFailed, fmt.Sprintf("finalize printed Done., but %s is still %s", where, row.Status)}
		}
		return bot.Message{Title: bot.Plain("Not finalized"), Text: bot.Textf("%s is still %s.", where, bot.Bold(row.Status)), Tone: bot.ToneDanger},
			verdict{verdictFailed, fmt.Sprintf("finalize failed; %s is still %s", where, row.Status)}
	}
	msg := bot.Message{Title: bot.Plain("No such background migration"), Tone: bot.ToneDanger,
		Text: bot.Textf("No batched background migration matches %s %s.%s %s, so nothing was finalized. Check the arguments against %s.", a.JobClass, a.Table, a.Column, a.JobArguments, bot.Code("/gitlab-migrations bbm"))}
	if jobOK {
		msg.Text = bot.Textf("finalize printed Done., but no batched background migration matches %s %s.%s %s, so nothing was finalized. Check the arguments against %s.", a.JobClass, a.Table, a.Column, a.JobArguments, bot.Code("/gitlab-migrations bbm"))
		return msg, verdict{verdictNoEffect, "finalize printed Done., but it matched no batched background migration, so nothing was finalized"}
	}
	return msg, failed
}

// findBBM finds the batched migration with these four arguments. GitLab
// may queue the same one on several databases, so db (when not "") is
// searched first; elsewhere an unfinished copy is preferred to a done one,
// because that is the one a finalize can be for.
func findBBM(s gitlab.BBMStatus, want gitlab.BatchedMigration, db string) (gitlab.BBMRow, string, bool) {
	var done *gitlab.BBMRow
	doneDB := ""
	for _, pass := range []bool{true, false} {
		for _, d := range s.Databases {
			if db != "" && (d.Name == db) != pass {
				continue
			}
			for _, row := range d.Migrations {
				if row.JobClass != want.JobClass || row.Table != want.Table || row.Column != want.Column || !sameJSON(row.JobArguments, want.JobArguments) {
					continue
				}
				if pass && db != "" || !row.Done() {
					return row, d.Name, true
				}
				if done == nil {
					done, doneDB = &row, d.Name
				}
			}
		}
		if db == "" {
			break
		}
	}
	if done != nil {
		return *done, doneDB, true
	}
	return gitlab.BBMRow{}, "", false
}

// unfinishedOn lists the databases on which this batched migration exists
// and is not done.
func unfinishedOn(s gitlab.BBMStatus, want gitlab.BatchedMigration) []string {
	var dbs []string
	for _, d := range s.Databases {
		if row, where, ok := findBBM(gitlab.BBMStatus{Databases: []gitlab.BBMDatabase{d}}, want, ""); ok && !row.Done() {
			dbs = append(dbs, where)
		}
	}
	return dbs
}

func sameJSON(a, b string) bool {
	ca, errA := gitlab.CompactJobArguments(a)
	cb, errB := gitlab.CompactJobArguments(b)
	return errA == nil && errB == nil && ca == cb
}
