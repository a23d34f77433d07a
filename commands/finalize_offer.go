package commands

import (
	"context"
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// finalizeOfferMessage offers the finalize GitLab asked for as a new,
// approval-gated request. a is the stored suggestion (suggestedFinalize):
// its Database is the task variant, and dbKnown says whether the evidence
// named the failed migration's database at all. When it did not,
// unfinished is the one database on which the background-migration status
// shows this batched migration unfinished ("" when none or several).
func finalizeOfferMessage(req *approvals.Request, f *gitlab.MigrateFailure, a gitlab.Args, dbKnown bool, unfinished string) bot.Message {
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
		Title: bot.Plain("GitLab needs a batched background migration finalized first"),
		Fields: []bot.Field{
			{Label: "Job class", Value: bot.Plain(f.Finalize.JobClass), Short: true},
			{Label: "Table.column", Value: bot.Plain(f.Finalize.Table + "." + f.Finalize.Column), Short: true},
			{Label: "Job arguments", Value: bot.Code(f.Finalize.JobArguments)},
			{Label: "Database", Value: bot.Plain(db + " (status " + f.Status + ")"), Short: true},
		},
		Text: bot.Textf("To request it (it needs its own approval; it runs %s):\n%s", bot.Code(task), bot.Code(fmt.Sprintf("/gitlab-migrations finalize --from %s -- finish %s", req.ID, f.Finalize.JobClass))),
		Tone: bot.ToneWarning,
	}
	if !dbKnown && unfinished != "" {
		m.Fields[3].Value = bot.Textf("not named by GitLab; unfinished only on %s (status %s)", unfinished, f.Status)
		m.Text = bot.Textf("GitLab's output does not say which database migration %s ran on, but gitlab:background_migrations:status shows this batched migration unfinished only on %s. "+
			"To request it there (it needs its own approval; it runs %s):\n%s", f.Version, unfinished, bot.Code("gitlab:background_migrations:finalize:"+unfinished),
			bot.Code(fmt.Sprintf("/gitlab-migrations finalize --from %s --db %s -- finish %s", req.ID, unfinished, f.Finalize.JobClass)))
	} else if !dbKnown {
		m.Text = bot.Textf("GitLab's output does not say which database migration %s ran on, and it was pending on more than one, so I will not guess. "+
			"Check %s, then request it for the database that has this batched migration (it needs its own approval):\n%s or %s", f.Version,
			bot.Code("/gitlab-migrations bbm"), bot.Code(fmt.Sprintf("/gitlab-migrations finalize --from %s --db main -- finish %s", req.ID, f.Finalize.JobClass)), bot.Code("--db ci"))
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
	if !gitlab.FinalizeVariants(len(before.Databases)) {
		return a, true // one database: the plain task
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
		r.logger(ctx).Warn("checking the databases for a finalize suggestion", "host", host.Name, "err", err)
		return gitlab.DownBefore{}
	}
	d := gitlab.DownBeforeOf(s)
	d.Down = nil
	return d
}

// storeSuggestion keeps the finalize GitLab suggested on the failed
// migrate request, for `finalize --from`.
func (r *Router) storeSuggestion(ctx context.Context, req *approvals.Request, a gitlab.Args) {
	ctx = r.withRequestLog(ctx, req.ID)
	detail := fmt.Sprintf("GitLab asked to finalize %s on %s.%s first; offered as `finalize --from %s`", a.JobClass, a.Table, a.Column, req.ID)
	if _, err := r.opt.Approvals.AddParams(ctx, req.ID, suggestionParams(nil, a), detail); err != nil {
		r.logger(ctx).Error("storing finalize suggestion", "err", err)
	}
}

// unfinishedDatabase is the one database on which the background-migration
// status shows want unfinished, or "" when it shows none, several, or
// cannot be read (then the offer says it will not guess).
func (r *Router) unfinishedDatabase(ctx context.Context, host Host, want gitlab.BatchedMigration) string {
	s, err := r.bbmStatus(ctx, host, "")
	if err != nil {
		r.logger(ctx).Warn("checking which database has the batched migration", "host", host.Name, "err", err)
		return ""
	}
	if dbs := unfinishedOn(s, want); len(dbs) == 1 {
		return dbs[0]
	}
	return ""
}
