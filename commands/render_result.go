package commands

import (
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// resultMessage summarises a destructive job's output (the operation
// table's result) and returns the parsed result for the follow-ups.
func (r *Router) resultMessage(req *approvals.Request, host string, rec agent.JobRecord, out *output) (bot.Message, any) {
	if row, ok := operationFor(req.Operation); ok && row.result != nil {
		return row.result(req, host, rec, out)
	}
	return bot.Message{Title: bot.Plain(req.Operation + " on " + host + " ended: " + rec.State), Code: tail(out, 15)}, nil
}

// restartResult summarises a gitlab-ctl restart.
func restartResult(req *approvals.Request, host string, rec agent.JobRecord, out *output) (bot.Message, any) {
	res, err := gitlab.ParseCtlRestart(out.parsed(req.Operation))
	if err != nil {
		u := &unreadableError{what: commandOf(rec, "gitlab-ctl restart"), rec: rec, err: err, tail: tail(out, 15)}
		return bot.Message{Title: bot.Plain("restart on " + host + ": unreadable output"), Text: bot.Sentence(strings.Replace(u.sentence(host, true), "which services run", "what it restarted", 1)), Code: u.tail, Tone: bot.ToneDanger}, nil
	}
	return restartMessage(host, rec, res), res
}

// unnamedDB labels versions whose database neither GitLab's output nor
// the status before the run can name.
const unnamedDB = "database not named by GitLab"

// migrateMessage summarises a db:migrate run. res has been attributed
// (MigrateResult.Attribute) from before, the status it was based on.
func migrateMessage(host string, rec agent.JobRecord, res gitlab.MigrateResult, before gitlab.DownBefore, out *output) bot.Message {
	applied := map[string][]string{}
	var order []string
	// GitLab before the main:/ci: prefixes prints a version migrated on
	// two databases twice, naming neither: it is listed once, as run on
	// each of them.
	unnamedRuns := map[string]int{}
	for _, m := range res.Migrated {
		if m.Database == "" {
			unnamedRuns[m.Version]++
		}
	}
	for _, m := range res.Migrated {
		db := m.Database
		if db == "" {
			n := unnamedRuns[m.Version]
			if n == 0 {
				continue // listed already
			}
			unnamedRuns[m.Version] = 0
			db = "on a database GitLab did not name"
			if n > 1 {
				db = fmt.Sprintf("on %d databases (GitLab did not name them)", n)
				if n == 2 && len(before.Databases) == 2 {
					db = "on both databases (GitLab did not name them)"
				}
			}
		}
		if _, ok := applied[db]; !ok {
			order = append(order, db)
		}
		applied[db] = append(applied[db], m.Version)
	}
	var parts []string
	for _, db := range order {
		parts = append(parts, fmt.Sprintf("%s: %d (%s)", db, len(applied[db]), listShort(applied[db], 6)))
	}
	done := "No migration completed."
	if len(parts) > 0 {
		done = "Migrated " + strings.Join(parts, "; ") + "."
	}
	// The title waits for the check after the run (settled): exit 0 is
	// not success, and exit 1 after some migrations is only partly failed.
	if res.OK() && rec.State == agent.StateSucceeded {
		return bot.Message{Title: pendingTitle("db:migrate", host, rec), Text: bot.Plain(done), Tone: bot.ToneInfo,
			Context: bot.Plain(durationOf(rec) + " · exit 0")}
	}
	m := bot.Message{Title: pendingTitle("db:migrate", host, rec), Tone: bot.ToneDanger}
	f := res.Failure
	if f == nil {
		m.Text = bot.Textf("%s\nThe job %s (exit %s) without an error GitLab's output explains.", done, rec.State, exitCode(rec))
		m.Code = tail(out, 15)
		return m
	}
	at := failureAt(f, before)
	switch f.Kind {
	case gitlab.FailureConcurrentMigration:
		m.Text = bot.Plain(done + "\nAnother migration process is running on this database. Wait for it, then check status.")
	case gitlab.FailureFailedToFinalize:
		m.Text = bot.Textf("%s\nStopped%s: %s. Check Admin > Monitoring > Background migrations; GitLab suggests no command for this.", done, at, bot.Sentence(failureReason(f)))
	case gitlab.FailureInterrupted:
		m.Text = bot.Textf("%s\nStopped%s: %s. Check %s before running migrate again.", done, at, bot.Sentence(failureReason(f)), bot.Code("/gitlab-migrations status"))
	case gitlab.FailureGeneric:
		m.Text = bot.Textf("%s\nStopped%s: the migration raised an error; GitLab's message is below. Fix its cause, then request migrate again (%s shows what is still down).", done, at, bot.Code("/gitlab-migrations status"))
	default:
		m.Text = bot.Textf("%s\nStopped%s: %s.", done, at, bot.Sentence(failureReason(f)))
	}
	m.Code = f.Message
	m.Context = bot.Textf("%s · exit %s", durationOf(rec), exitCode(rec))
	return m
}

// failureAt names where a migrate stopped: " at <version> <Class> (<db>)",
// saying so when GitLab did not name the database of a decomposed install.
func failureAt(f *gitlab.MigrateFailure, before gitlab.DownBefore) string {
	if f.Version == "" {
		return ""
	}
	at := fmt.Sprintf(" at %s %s", f.Version, f.Class)
	switch {
	case f.Database != "":
		at += " (" + f.Database + ")"
	case before.Decomposed():
		at += " (" + unnamedDB + "; it was pending on more than one)"
	}
	return at
}

// failureReason says in a few words why a migrate stopped, as a sentence
// (bot.Sentence: GitLab's own line quoted as code). It is also a verdict's
// reason, stored with the request.
func failureReason(f *gitlab.MigrateFailure) string {
	switch f.Kind {
	case gitlab.FailureUnfinishedBBM:
		return fmt.Sprintf("a batched background migration is %s and must be finalized first", f.Status)
	case gitlab.FailureFailedToFinalize:
		return fmt.Sprintf("GitLab tried to finish batched migration %s inline and could not", f.JobClass)
	case gitlab.FailureConcurrentMigration:
		return "another migration process is running on this database"
	case gitlab.FailureInterrupted:
		return "the output ends inside that migration without an error (the process was killed or its output cut)"
	}
	// GitLab's own first line, quoted: it names the cause (e.g.
	// PG::DuplicateColumn) better than any paraphrase.
	first, _, _ := strings.Cut(strings.TrimSpace(f.Message), "\n")
	if first == "" {
		return "the migration raised an error"
	}
	return "the migration raised `" + strings.ReplaceAll(truncate(trimDot(first), 200), "`", "'") + "`"
}

// finalizeDoneText is a clean finalize's text until the check after it
// settles it (settled replaces it).
const finalizeDoneText = "GitLab printed Done., which it prints even when no migration matched; checking the background migrations…"

func finalizeMessage(host string, rec agent.JobRecord, res gitlab.FinalizeResult, out *output) bot.Message {
	if res.OK() && rec.State == agent.StateSucceeded {
		// GitLab prints Done. even when nothing matched; the follow-up
		// status check says whether anything was finalized.
		return bot.Message{Title: pendingTitle("finalize", host, rec), Text: bot.Plain(finalizeDoneText), Tone: bot.ToneInfo,
			Context: bot.Plain(durationOf(rec) + " · exit 0")}
	}
	m := bot.Message{Title: pendingTitle("finalize", host, rec), Tone: bot.ToneDanger, Context: bot.Textf("%s · exit %s", durationOf(rec), exitCode(rec))}
	if f := res.Failure; f != nil {
		// A sentence with the next step; GitLab's own line, where it helps
		// the administrator, as the code block.
		m.Text = bot.Sentence(strings.TrimSpace(sentenceOf(finalizeFailureReason(f)) + " " + finalizeNextStep(f)))
		if f.Kind != gitlab.FinalizeSpecifyDatabase {
			m.Code = f.Message
		}
		return m
	}
	m.Text = bot.Textf("The job %s (exit %s).", rec.State, exitCode(rec))
	m.Code = tail(out, 15)
	return m
}

// finalizeFailureReason says in a few words why a finalize failed, in our
// words (it is also the verdict's reason on the card); GitLab's own line
// goes in the result's code block.
func finalizeFailureReason(f *gitlab.FinalizeFailure) string {
	switch f.Kind {
	case gitlab.FinalizeSpecifyDatabase:
		return "this install has several databases: request the finalize again with --db main or --db ci"
	case gitlab.FinalizeUnknownTask:
		return "GitLab has no such finalize task here (is the database right for this install?)"
	case gitlab.FinalizeMissingArgument:
		return fmt.Sprintf("GitLab says the %s argument is missing", f.Argument)
	case gitlab.FinalizeFailedToFinalize:
		return fmt.Sprintf("GitLab could not complete batched migration %s and says a manual action is required", f.JobClass)
	case gitlab.FinalizeJSONParse:
		return "GitLab could not read the job arguments as JSON"
	}
	return "GitLab stopped the finalize with an error"
}

// finalizeNextStep is what to do after a failed finalize, as a sentence
// (bot.Sentence).
func finalizeNextStep(f *gitlab.FinalizeFailure) string {
	switch f.Kind {
	case gitlab.FinalizeSpecifyDatabase:
		return ""
	case gitlab.FinalizeUnknownTask:
		return "Use --db main or --db ci only on an install with separate databases (`/gitlab-migrations status` shows which it has)."
	case gitlab.FinalizeMissingArgument, gitlab.FinalizeJSONParse:
		return "Request it again with the line GitLab printed, pasted as it stands (`/gitlab-migrations help finalize` shows the forms)."
	case gitlab.FinalizeFailedToFinalize:
		return "Retry or fix its failed jobs in Admin > Monitoring > Background migrations (/admin/background_migrations), then request the finalize again."
	}
	return "GitLab's message is below; fix what it says, then request the finalize again."
}

// sentenceOf capitalises the first letter of a reason and ends it with a
// full stop, for a message that starts with it.
func sentenceOf(s string) string {
	if s == "" {
		return s
	}
	return fullStop(strings.ToUpper(s[:1]) + s[1:])
}

func restartMessage(host string, rec agent.JobRecord, res gitlab.CtlRestart) bot.Message {
	failed := res.Failed()
	if len(failed) == 0 && rec.State == agent.StateSucceeded {
		switch len(res.Services) {
		case 0:
			return bot.Message{Title: bot.Plain("restart on " + host + ": nothing restarted"), Text: bot.Plain("gitlab-ctl printed nothing: it skips names it does not know and disabled services."), Tone: bot.ToneDanger}
		case 1:
			return bot.Message{Title: pendingTitle("restart", host, rec), Text: bot.Plain(res.Services[0].Name + " restarted."), Tone: bot.ToneInfo}
		}
		return bot.Message{Title: pendingTitle("restart", host, rec), Text: bot.Textf("%d services restarted.", len(res.Services)), Tone: bot.ToneInfo}
	}
	var lines []bot.Text
	for _, l := range failed {
		lines = append(lines, bot.Textf("• %s: %s (%s)", bot.Bold(l.Name), l.Outcome, l.State))
	}
	if len(lines) == 0 {
		lines = append(lines, bot.Textf("gitlab-ctl %s (exit %s).", rec.State, exitCode(rec)))
	}
	return bot.Message{Title: bot.Plain("restart on " + host + ": not everything restarted"), Text: bot.JoinWith("\n", lines...), Tone: bot.ToneDanger}
}

// pendingTitle is a result's title until the check after the run settles
// it: what the job did, not yet what that achieved.
func pendingTitle(label, host string, rec agent.JobRecord) bot.Text {
	return bot.Textf("%s on %s exited %s; checking…", label, host, exitCode(rec))
}

// resultLabel names operation op in a result's title (the operation
// table's label); ok is false for an operation without one.
func resultLabel(op string) (string, bool) {
	row, ok := operationFor(op)
	return row.label, ok && row.label != ""
}

// settled is a result message once the check after the run has given its
// verdict: its title and tone are the verdict's, in the words of the
// request's card ("db:migrate on gitlab-1: partly done" under "Partly
// done: migrate on gitlab-1"), so the thread never says "succeeded" while
// the card says PARTLY or NO EFFECT. After a clean exit (jobOK) a
// verdict other than SUCCEEDED also says why: the text, which describes a
// clean run, cannot.
func settled(op, host string, m bot.Message, v verdict, jobOK bool) bot.Message {
	label, ok := resultLabel(op)
	if !ok {
		label = op
	}
	m.Title, m.Tone = bot.Plain(label+" on "+host+" succeeded"), verdictTone(v)
	if row, ok := operationFor(op); ok && row.settle != nil {
		m = row.settle(m, v)
	}
	if v.kind != verdictSucceeded {
		m.Title = bot.Plain(label + " on " + host + ": " + strings.ToLower(verdictTitles[v.kind]))
	}
	if jobOK && v.kind != verdictSucceeded && v.why != "" {
		m.Text = joinLines(m.Text, bot.Textf("%s: %s", bot.Bold(string(v.kind)), bot.Sentence(fullStop(v.why))))
	}
	return m
}

// joinLines puts b on a line after a, either alone when the other is
// empty.
func joinLines(a, b bot.Text) bot.Text {
	if a.IsEmpty() || b.IsEmpty() {
		return bot.Join(a, b)
	}
	return bot.Join(a, bot.Plain("\n"), b)
}

// cutPlainPrefix is strings.CutPrefix on text that starts with a plain
// span.
func cutPlainPrefix(t bot.Text, prefix string) (bot.Text, bool) {
	if len(t) == 0 || t[0].Kind != bot.SpanPlain {
		return t, false
	}
	rest, ok := strings.CutPrefix(t[0].Text, prefix)
	if !ok {
		return t, false
	}
	return bot.Join(bot.Plain(rest), t[1:]), true
}

// cutPlainPrefixOr is t without prefix, or t when it does not start with
// it.
func cutPlainPrefixOr(t bot.Text, prefix string) bot.Text {
	rest, _ := cutPlainPrefix(t, prefix)
	return rest
}

// trimLeadingSpace drops the white space that starts t.
func trimLeadingSpace(t bot.Text) bot.Text {
	for len(t) > 0 && t[0].Kind == bot.SpanPlain {
		s := strings.TrimLeft(t[0].Text, " \t\n")
		if s != "" {
			return bot.Join(bot.Plain(s), t[1:])
		}
		t = t[1:]
	}
	return t
}

func durationOf(rec agent.JobRecord) string {
	return fmt.Sprintf("took %.1fs", float64(rec.DurationMS)/1000)
}

func listShort(items []string, n int) string {
	if len(items) <= n {
		return strings.Join(items, ", ")
	}
	return strings.Join(items[:n], ", ") + fmt.Sprintf(", … %d more", len(items)-n)
}
