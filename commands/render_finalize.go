package commands

import (
	"bytes"
	"encoding/json"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// commandText shows an argv exactly: each element shell-quoted where it
// needs it, so that the line is unambiguous (where one element ends, what
// its backslashes are) and, pasted into a shell, runs the same argv.
func commandText(argv []string) bot.Text {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = gitlab.ShellQuote(a)
	}
	return bot.Code(strings.Join(q, " "))
}

// finalizeFields show an approver what a finalize request will hand the
// task, decoded: the batched migration's job class, table, column and job
// arguments (pretty JSON), and the database. A request stored without its
// arguments shows none.
func finalizeFields(params map[string]string) []bot.Field {
	a := argsOf(params, "")
	if a.JobClass == "" {
		return nil
	}
	db := bot.Plain("not named: the plain finalize task, for an install with one database")
	if a.Database != "" {
		db = bot.Textf("%s (task finalize:%s)", bot.Code(a.Database), a.Database)
	}
	return []bot.Field{
		{Label: "Database", Value: db},
		{Label: "Job class", Value: bot.Code(a.JobClass), Short: true},
		{Label: "Table", Value: bot.Code(a.Table), Short: true},
		{Label: "Column", Value: bot.Code(a.Column), Short: true},
		{Label: "Job arguments", Value: bot.Pre(prettyJobArguments(a.JobArguments))},
	}
}

// prettyJobArguments writes a JSON array one element per line, each
// element compact: GitLab's job arguments are short arrays of column
// names, which read best that way. Anything else is shown as it is.
func prettyJobArguments(js string) string {
	var elems []json.RawMessage
	if err := json.Unmarshal([]byte(js), &elems); err != nil || len(elems) == 0 {
		return js
	}
	var b strings.Builder
	b.WriteString("[\n")
	for i, e := range elems {
		var c bytes.Buffer
		if err := json.Compact(&c, e); err != nil {
			return js
		}
		b.WriteString("  " + c.String())
		if i < len(elems)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("]")
	return b.String()
}

// settleFinalize is finalize's part of settled: once checked, its result
// says what was verified, not that Done. proves nothing; any other verdict
// replaces the provisional text (settled). A warning added after it
// (incomplete output) stays.
func settleFinalize(m bot.Message, v verdict) bot.Message {
	if rest, ok := cutPlainPrefix(m.Text, finalizeDoneText); ok && v.why != "" {
		m.Text = trimLeadingSpace(rest)
		if v.kind == verdictSucceeded {
			m.Text = joinLines(bot.Join(bot.Plain("Verified with gitlab:background_migrations:status: "), bot.Sentence(fullStop(v.why))), m.Text)
		}
	}
	return m
}
