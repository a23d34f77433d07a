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
func commandText(argv []string) string {
	q := make([]string, len(argv))
	for i, a := range argv {
		q[i] = gitlab.ShellQuote(a)
	}
	return "`" + strings.Join(q, " ") + "`"
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
	db := "not named: the plain finalize task, for an install with one database"
	if a.Database != "" {
		db = "`" + a.Database + "` (task finalize:" + a.Database + ")"
	}
	return []bot.Field{
		{Label: "Database", Value: db},
		{Label: "Job class", Value: "`" + a.JobClass + "`", Short: true},
		{Label: "Table", Value: "`" + a.Table + "`", Short: true},
		{Label: "Column", Value: "`" + a.Column + "`", Short: true},
		{Label: "Job arguments", Value: "```\n" + prettyJobArguments(a.JobArguments) + "\n```"},
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
	if rest, ok := strings.CutPrefix(m.Text, finalizeDoneText); ok && v.why != "" {
		m.Text = strings.TrimSpace(rest)
		if v.kind == verdictSucceeded {
			m.Text = joinLines("Verified with gitlab:background_migrations:status: "+fullStop(v.why), m.Text)
		}
	}
	return m
}
