package gitlab

import (
	"errors"
	"os"
	"strings"
	"testing"
)

// runbookPath is the administrator's runbook with the six finalize lines
// GitLab printed during a bigint conversion (shared/seed).
const runbookPath = "../../shared/seed/000_e1a28c0720da2aa7.txt"

// runbookFinalizes are the six runbook commands and the values each means:
// what GitLab's batched_background_migrations rows hold.
var runbookFinalizes = []BatchedMigration{
	{"CopyColumnUsingBackgroundMigrationJob", "ci_stages", "id", `[["id"], ["id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "ci_builds_metadata", "id", `[["id"], ["id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "ci_builds_metadata", "id", `[["build_id"], ["build_id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "push_event_payloads", "event_id", `[["event_id"], ["event_id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "deployments", "id", `[["deployable_id"], ["deployable_id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "taggings", "id", `[["id", "taggable_id"], ["id_convert_to_bigint", "taggable_id_convert_to_bigint"]]`},
}

// runbookLines reads the six `sudo gitlab-rake …finalize[…]` lines from the
// runbook, exactly as an administrator would copy them.
func runbookLines(t testing.TB) []string {
	t.Helper()
	b, err := os.ReadFile(runbookPath)
	if err != nil {
		t.Fatalf("reading the runbook: %v", err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "sudo gitlab-rake gitlab:background_migrations:finalize[") {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(runbookFinalizes) {
		t.Fatalf("the runbook has %d finalize lines, want %d", len(lines), len(runbookFinalizes))
	}
	return lines
}

// typographic does to s what Slack's (and macOS's) smart quotes do while
// typing: a quote after a blank or an opening bracket opens, any other
// closes.
func typographic(s string) string {
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		opening := prev == ' ' || prev == '[' || prev == '('
		switch {
		case r == '\'' && opening:
			b.WriteRune('\u2018')
		case r == '\'':
			b.WriteRune('\u2019')
		case r == '"' && opening:
			b.WriteRune('\u201c')
		case r == '"':
			b.WriteRune('\u201d')
		default:
			b.WriteRune(r)
		}
		prev = r
	}
	return b.String()
}

// pasteForm is one way an administrator gives a runbook command.
type pasteForm struct {
	name string
	db   string
	make func(line string, m BatchedMigration) string
}

// pasteForms are every form §1 of issue 9 lists; typographic quotes are
// applied to each in the test.
var pasteForms = []pasteForm{
	{"whole line with sudo", "", func(l string, _ BatchedMigration) string { return l }},
	{"whole line without sudo", "", func(l string, _ BatchedMigration) string { return strings.TrimPrefix(l, "sudo ") }},
	{"task word", "", func(l string, _ BatchedMigration) string { return strings.TrimPrefix(l, "sudo gitlab-rake ") }},
	{"task word :main", "main", func(l string, _ BatchedMigration) string {
		return strings.Replace(strings.TrimPrefix(l, "sudo gitlab-rake "), "finalize[", "finalize:main[", 1)
	}},
	{"whole line :ci", "ci", func(l string, _ BatchedMigration) string {
		return strings.Replace(l, "finalize[", "finalize:ci[", 1)
	}},
	{"four arguments, JSON as GitLab quotes it", "", func(l string, m BatchedMigration) string {
		return m.JobClass + " " + m.Table + " " + m.Column + " " + gitlabQuoted(l)
	}},
	{"four arguments, GitLab's JSON without the quotes", "", func(l string, m BatchedMigration) string {
		return m.JobClass + " " + m.Table + " " + m.Column + " " + strings.Trim(gitlabQuoted(l), "'")
	}},
	{"four arguments, plain JSON", "", func(_ string, m BatchedMigration) string {
		return m.JobClass + " " + m.Table + " " + m.Column + " '" + m.JobArguments + "'"
	}},
	{"inline code, as chat formats a paste", "", func(l string, _ BatchedMigration) string { return "`" + l + "`" }},
}

// gitlabQuoted is the JSON part of a runbook line: '…' with GitLab's \, escapes.
func gitlabQuoted(line string) string {
	i := strings.Index(line, ",'")
	return line[i+1 : len(line)-1]
}

// TestDecodeFinalizeRunbook: each of the six runbook commands, in each form
// and with typographic quotes, means exactly the intended four values.
func TestDecodeFinalizeRunbook(t *testing.T) {
	lines := runbookLines(t)
	for i, line := range lines {
		want := runbookFinalizes[i]
		for _, f := range pasteForms {
			for _, typo := range []bool{false, true} {
				in := f.make(line, want)
				name := f.name
				if typo {
					in, name = typographic(in), name+", typographic quotes"
				}
				t.Run(want.Table+"/"+name, func(t *testing.T) {
					got, err := DecodeFinalize(in)
					if err != nil {
						t.Fatalf("DecodeFinalize(%s): %v", in, err)
					}
					if got.BatchedMigration != want || got.Database != f.db {
						t.Errorf("DecodeFinalize(%s) =\n %+v\nwant\n %+v (database %q)", in, got, want, f.db)
					}
				})
			}
		}
	}
}

// TestDecodeFinalizeForms covers the edges of each form.
func TestDecodeFinalizeForms(t *testing.T) {
	cases := []struct {
		in   string
		want Args
	}{
		{`Job t c []`, Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `[]`}}},
		{`Job t c "[\"a b\"]"`, Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `["a b"]`}}},
		{`Job t c ["a b", null]`, Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `["a b", null]`}}},
		{`Job t c '["it'\''s"]'`, Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `["it's"]`}}},
		// Valid JSON is taken as it is: \\, is an escaped backslash and a comma.
		{`Job t c '["a\\,b"]'`, Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `["a\\,b"]`}}},
		{`gitlab:background_migrations:finalize[A::B,s.t,c,[]]`, Args{BatchedMigration: BatchedMigration{"A::B", "s.t", "c", `[]`}}},
		{`gitlab:background_migrations:finalize[Job,t,c,' [null\, "up"] ']`, Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `[null, "up"]`}}},
		{`gitlab:background_migrations:finalize[Job,t,c,"[\"x\"\\, 1]"]`, Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `["x", 1]`}}},
		{`/opt/gitlab/bin/gitlab-rake gitlab:background_migrations:finalize:ci[Job,t,c,'[]']`, Args{Database: "ci", BatchedMigration: BatchedMigration{"Job", "t", "c", `[]`}}},
		{`sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[]']  # as the docs print it`, Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `[]`}}},
		{"```sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[1\\,2]']```", Args{BatchedMigration: BatchedMigration{"Job", "t", "c", `[1,2]`}}},
	}
	for _, c := range cases {
		got, err := DecodeFinalize(c.in)
		if err != nil {
			t.Errorf("DecodeFinalize(%s): %v", c.in, err)
			continue
		}
		if got != c.want {
			t.Errorf("DecodeFinalize(%s) = %+v, want %+v", c.in, got, c.want)
		}
	}
}

// TestDecodeFinalizeRefusals: near-misses are refused, the reason says what
// rake would have done, and the fix is the line to paste.
func TestDecodeFinalizeRefusals(t *testing.T) {
	const good = `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\, ["id_convert_to_bigint"]]']`
	cases := []struct {
		name, in, says, fix string
	}{
		// rake trims the blanks around each piece it splits off.
		{"unescaped comma", `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"], ["id_convert_to_bigint"]]']`,
			"comma without a backslash", `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\,["id_convert_to_bigint"]]']`},
		{"blank after ]", `sudo gitlab-rake ` + good + ` ]`, `try to run "]" as a task`, ""},
		{"blank before the final ]", `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\, ["id_convert_to_bigint"]]' ]`,
			"split", good},
		{"JSON without quotes, with a blank", `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,[["id"]\, ["id_convert_to_bigint"]]]`,
			"blank before", good},
		{"JSON without quotes", `sudo gitlab-rake gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,[["id"]\,["id_convert_to_bigint"]]]`,
			"a shell removes double quotes", `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\,["id_convert_to_bigint"]]']`},
		{"unbalanced quote", `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\, ["id_convert_to_bigint"]]]`,
			"never closed", good},
		{"unbalanced quote, four arguments", `CopyColumnUsingBackgroundMigrationJob ci_stages id '[["id"]\, ["id_convert_to_bigint"]]`,
			"never closed", good},
		{"shell expansion", `gitlab:background_migrations:finalize[Job,t,c,"[\"$HOME\"]"]`, "act on the $", ""},
		{"command substitution", "gitlab:background_migrations:finalize[Job,t,c,[`id`]]", "act on the `", ""},
		{"missing argument", `gitlab:background_migrations:finalize[Job,t,c]`, "3 of the 4 arguments: the job arguments are missing", ""},
		{"empty argument", `gitlab:background_migrations:finalize[Job,,c,[]]`, "the table is missing", ""},
		{"no brackets", `gitlab:background_migrations:finalize`, "whole as the name of a task", ""},
		{"line break", "gitlab:background_migrations:finalize[Job,t,c,'[1\\,\n2]']", "whole as the name of a task", ""},
		{"another task", `sudo gitlab-rake gitlab:background_migrations:status`, "is not the finalize task", ""},
		{"sudo without gitlab-rake", `sudo rake gitlab:background_migrations:finalize[Job,t,c,[]]`, "after sudo I expect gitlab-rake", ""},
		{"ambiguous backslash", `gitlab:background_migrations:finalize[Job,t,c,'["a\"b"]']`, "backslashes other than before commas", ""},
		{"bad database", `gitlab:background_migrations:finalize:Main[Job,t,c,[]]`, "names no database", ""},
		{"four arguments, bad JSON", `Job t c '["id"'`, "is not valid JSON", ""},
		{"three arguments", `Job t c`, "needs 4 arguments", ""},
		{"words after the JSON", `Job t c '[]' extra`, `after the quoted JSON comes "extra"`, ""},
		{"nothing", `sudo gitlab-rake`, "nothing to finalize", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a, err := DecodeFinalize(c.in)
			var pe *PasteError
			if !errors.As(err, &pe) {
				t.Fatalf("DecodeFinalize(%s) = %+v, %v; want a PasteError", c.in, a, err)
			}
			if !strings.Contains(pe.Reason, c.says) {
				t.Errorf("reason %q does not say %q", pe.Reason, c.says)
			}
			if c.fix != "" {
				if pe.Fix == nil {
					t.Fatalf("no fix for %s", c.in)
				}
				if w, _ := FinalizeTaskWord(*pe.Fix); w != c.fix {
					t.Errorf("fix %q, want %q", w, c.fix)
				}
				if !strings.Contains(err.Error(), "paste instead: "+c.fix) {
					t.Errorf("message %q does not show the fix", err.Error())
				}
				// The fix itself is accepted.
				if _, err := DecodeFinalize(c.fix); err != nil {
					t.Errorf("the fix %s is refused: %v", c.fix, err)
				}
			}
		})
	}
}

// TestFinalizeAmbiguousBackslashFix: a JSON with a backslash escape is
// refused in the task form, and the fix holds what GitLab meant.
func TestFinalizeAmbiguousBackslashFix(t *testing.T) {
	_, err := DecodeFinalize(`gitlab:background_migrations:finalize:ci[Job,t,c,'["a\"b"\, 1]']`)
	var pe *PasteError
	if !errors.As(err, &pe) || pe.Fix == nil {
		t.Fatalf("want a PasteError with a fix, got %v", err)
	}
	want := Args{Database: "ci", BatchedMigration: BatchedMigration{"Job", "t", "c", `["a\"b", 1]`}}
	if *pe.Fix != want {
		t.Errorf("fix %+v, want %+v", *pe.Fix, want)
	}
	if _, ok := FinalizeTaskWord(*pe.Fix); ok {
		t.Error("a JSON with a backslash must not be offered as a task word")
	}
}

func TestSplitShellWords(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{`a  b`, []string{"a", "b"}},
		{`'a b'c`, []string{"a bc"}},
		{`"a\"b\\c\d$"`, []string{`a"b\c\d$`}},
		{`a\ b \'`, []string{"a b", "'"}},
		{`x'\,'y`, []string{`x\,y`}},
		{"a\\\nb", []string{"ab"}},
		{`''`, []string{""}},
		{"a #comment 'x\nb c#d", []string{"a", "b", "c#d"}},
		{`'#' \#`, []string{"#", "#"}},
	}
	for _, c := range cases {
		words, err := SplitShellWords(c.in)
		if err != nil {
			t.Errorf("SplitShellWords(%s): %v", c.in, err)
			continue
		}
		var got []string
		for _, w := range words {
			got = append(got, w.Text)
			if c.in[w.Start:w.End] != w.Raw {
				t.Errorf("%s: raw %q is not the text at %d:%d", c.in, w.Raw, w.Start, w.End)
			}
		}
		if strings.Join(got, "|") != strings.Join(c.want, "|") {
			t.Errorf("SplitShellWords(%s) = %q, want %q", c.in, got, c.want)
		}
	}
	for _, in := range []string{`'a`, `"a`, `a\`} {
		if _, err := SplitShellWords(in); err == nil {
			t.Errorf("SplitShellWords(%s): want an error", in)
		}
	}
}

func TestShellQuote(t *testing.T) {
	for _, s := range []string{"", "plain", "a b", "it's", `["id", "x"]`, `\,`, "$HOME"} {
		words, err := SplitShellWords(ShellQuote(s))
		if err != nil || len(words) != 1 || words[0].Text != s {
			t.Errorf("ShellQuote(%q) = %s does not split back: %v %v", s, ShellQuote(s), words, err)
		}
	}
}
