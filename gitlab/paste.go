package gitlab

import (
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// FinalizeTask is the rake task of the finalize operation; decomposed
// installs add ":main" or ":ci".
const FinalizeTask = "gitlab:background_migrations:finalize"

// PasteError refuses a pasted finalize command: Reason says what a shell
// and rake would have made of it, in words an operator can act on. Fix,
// when the intended values could be recovered, holds them, so that the
// caller can show the line to paste instead (FinalizeTaskWord).
type PasteError struct {
	Reason string
	Fix    *Args
}

func (e *PasteError) Error() string {
	if e.Fix == nil {
		return e.Reason
	}
	if w, ok := FinalizeTaskWord(*e.Fix); ok {
		return e.Reason + "; paste instead: " + w
	}
	return e.Reason
}

// typographicQuotes maps the quotes chat clients substitute when they
// "correct" typing (Slack, macOS smart quotes) back to ASCII. A paste never
// means them: GitLab prints ASCII quotes.
var typographicQuotes = strings.NewReplacer("\u2018", "'", "\u2019", "'", "\u201c", `"`, "\u201d", `"`)

// NormalizeQuotes turns typographic quotes back into ASCII ones.
func NormalizeQuotes(s string) string { return typographicQuotes.Replace(s) }

// DecodeFinalize reads the arguments of a finalize command the way an
// administrator has them in front of them, and returns the four values
// (and database) that rake must receive. It accepts:
//
//   - four arguments: JobClass table column JSON, the JSON quoted for a
//     shell or not, with or without GitLab's \, escapes;
//   - GitLab's task word gitlab:background_migrations:finalize[...] (also
//     :main / :ci, which select the database), as GitLab prints it;
//   - the whole line sudo gitlab-rake gitlab:background_migrations:finalize[...],
//     with or without sudo;
//
// all after typographic quotes are turned back into ASCII. The task word is
// decoded as sh and then rake 13 would decode it (SplitShellWords, then
// rake's parse_task_string). Nothing runs. Text that a shell and rake would
// turn into something other than what was evidently meant (an unescaped
// comma, a blank after ], missing quotes, shell syntax) is refused with a
// *PasteError carrying the corrected values where they can be recovered.
// The values returned are not yet validated as identifiers; the catalogue
// does that.
func DecodeFinalize(text string) (Args, error) {
	text = stripCodeMarks(strings.TrimSpace(NormalizeQuotes(text)))
	words, err := SplitShellWords(text)
	if err != nil {
		return Args{}, &PasteError{Reason: "a shell could not read this: " + err.Error(), Fix: recoverPaste(text)}
	}
	words, prefixed, err := dropCommandPrefix(words)
	if err != nil {
		if pe := (*PasteError)(nil); errors.As(err, &pe) && pe.Fix == nil {
			pe.Fix = recoverPaste(text)
		}
		return Args{}, err
	}
	if len(words) == 0 {
		return Args{}, &PasteError{Reason: "nothing to finalize: give the job class, table, column and JSON job arguments, or paste GitLab's gitlab-rake gitlab:background_migrations:finalize[...] command"}
	}
	if prefixed || looksLikeTask(words[0].Text) {
		a, err := decodeTaskWords(words)
		if err != nil {
			if pe := (*PasteError)(nil); errors.As(err, &pe) && pe.Fix == nil {
				pe.Fix = recoverPaste(text)
			}
			return Args{}, err
		}
		return a, nil
	}
	return decodeFourArgs(text, words)
}

// codeMarksRE matches a paste that chat formatting wrapped in `…` or
// ```…```: the backticks are Markdown, not shell command substitution.
var codeMarksRE = regexp.MustCompile("^(`{1,3})([^`]*)(`{1,3})$")

func stripCodeMarks(s string) string {
	if m := codeMarksRE.FindStringSubmatch(s); m != nil && m[1] == m[3] {
		return strings.TrimSpace(m[2])
	}
	return s
}

// dropCommandPrefix removes what comes before the task word in a pasted
// line: a shell prompt ($, as docs print it), sudo and gitlab-rake (or a
// path ending in /gitlab-rake), and RAILS_ENV=production after gitlab-rake,
// which rake reads as an environment setting and GitLab's omnibus sets
// anyway. sudo's options are refused with the line to paste instead.
func dropCommandPrefix(words []ShellWord) ([]ShellWord, bool, error) {
	prefixed := false
	words = DropPrompt(words)
	if len(words) > 0 && words[0].Text == "sudo" {
		words, prefixed = words[1:], true
		if len(words) > 0 && strings.HasPrefix(words[0].Text, "-") {
			var opts []string
			for len(words) > 0 && !isGitLabRake(words[0].Text) {
				opts = append(opts, words[0].Text)
				words = words[1:]
			}
			if len(words) > 0 {
				return nil, true, &PasteError{Reason: fmt.Sprintf("sudo's options (%s) are not needed: the agent runs gitlab-rake as GitLab's omnibus does; paste the line without them", Echo(strings.Join(opts, " ")))}
			}
			return nil, true, &PasteError{Reason: "after sudo and its options I expect gitlab-rake: paste GitLab's line as it printed it (sudo gitlab-rake gitlab:background_migrations:finalize[...])"}
		}
		if len(words) == 0 || !isGitLabRake(words[0].Text) {
			next := ""
			if len(words) > 0 {
				next = words[0].Text
			}
			return nil, true, &PasteError{Reason: fmt.Sprintf("after sudo I expect gitlab-rake, not %q: paste GitLab's line as it printed it (sudo gitlab-rake gitlab:background_migrations:finalize[...])", Echo(next))}
		}
	}
	if len(words) > 0 && isGitLabRake(words[0].Text) {
		words, prefixed = words[1:], true
	}
	if prefixed {
		words = slices.DeleteFunc(slices.Clone(words), func(w ShellWord) bool { return w.Text == railsEnv })
	}
	return words, prefixed, nil
}

// railsEnv is the environment setting GitLab's docs sometimes add to a
// gitlab-rake line; rake reads NAME=value as a setting, not a task, and
// omnibus's gitlab-rake sets it anyway.
const railsEnv = "RAILS_ENV=production"

// envSettingRE matches a word rake reads as an environment setting.
var envSettingRE = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`)

// DropPrompt removes a leading shell prompt word ($), which people copy
// from documentation along with the command.
func DropPrompt(words []ShellWord) []ShellWord {
	if len(words) > 1 && words[0].Raw == "$" {
		return words[1:]
	}
	return words
}

func isGitLabRake(s string) bool { return s == "gitlab-rake" || strings.HasSuffix(s, "/gitlab-rake") }

func looksLikeTask(s string) bool {
	return strings.HasPrefix(s, "gitlab:") || strings.ContainsRune(s, '[')
}

// decodeTaskWords decodes the task word as sh and rake would. words are
// the words after gitlab-rake; there must be exactly one.
func decodeTaskWords(words []ShellWord) (Args, error) {
	w := words[0]
	for _, x := range words {
		if x.Shelly != 0 {
			return Args{}, &PasteError{Reason: fmt.Sprintf("a shell would act on the %c in %q instead of passing it to rake: keep the JSON in single quotes, as GitLab prints it", x.Shelly, Echo(x.Raw))}
		}
	}
	if len(words) > 1 && strings.HasSuffix(w.Text, "]") {
		if alone, err := decodeTaskWords(words[:1]); err == nil {
			if envSettingRE.MatchString(words[1].Text) {
				return Args{}, &PasteError{Reason: fmt.Sprintf("rake reads %q as an environment setting, which the agent does not pass on (it runs GitLab's rake with GitLab's own environment; only %s may stay, omnibus sets it anyway)", Echo(words[1].Text), railsEnv), Fix: &alone}
			}
			return Args{}, &PasteError{Reason: fmt.Sprintf("rake would finalize and then try to run %q as a task of its own: nothing may follow the final ] (a reason goes after --)", Echo(words[1].Text)), Fix: &alone}
		}
	}
	if len(words) > 1 {
		return Args{}, &PasteError{Reason: fmt.Sprintf("a shell splits this at the blank before %q, so rake would receive the task word %q, cut short, and then try to run %q as a task of its own: keep the whole task word together, the JSON in single quotes and nothing after the final ]", Echo(words[1].Raw), Echo(w.Text), Echo(words[1].Text))}
	}
	name, _, _ := strings.Cut(w.Text, "[")
	db, err := finalizeDatabase(name)
	if err != nil {
		return Args{}, err
	}
	_, raw, bracketed := splitRakeTask(w.Text)
	if !bracketed {
		return Args{}, &PasteError{Reason: fmt.Sprintf("rake would take %q whole as the name of a task: its arguments must follow the task name in [...], with the ] last and no line break", Echo(w.Text))}
	}
	stripped := ""
	if w.Stripped {
		stripped = "a shell removes double quotes and backslashes outside single quotes, so "
	}
	missing := []string{"job class is", "table is", "column is", "job arguments are"}
	if len(raw) > 4 {
		return Args{}, &PasteError{Reason: fmt.Sprintf("%srake would split the JSON at a comma without a backslash before it: job_arguments would arrive as %q and the rest (%q) would be dropped; give the JSON in single quotes with each comma written as \\, as GitLab prints it", stripped, Echo(unescapeRake(raw[3])), Echo(strings.Join(raw[4:], ",")))}
	}
	for i, n := range missing {
		if i >= len(raw) || raw[i] == "" {
			return Args{}, &PasteError{Reason: fmt.Sprintf("rake would receive %d of the 4 arguments: the %s missing (the task takes job class, table, column and JSON job arguments, separated by commas)", countNonEmpty(raw), n)}
		}
	}
	if i := strings.IndexFunc(rakeEscapes(raw[3]), func(r rune) bool { return r != ',' }); i >= 0 {
		// GitLab's finalize_command escapes only commas, rake removes every
		// backslash: a JSON backslash escape in a pasted task word can be
		// read two ways.
		gitlabMeant := strings.ReplaceAll(raw[3], `\,`, ",")
		fix := &Args{Database: db, BatchedMigration: BatchedMigration{unescapeRake(raw[0]), unescapeRake(raw[1]), unescapeRake(raw[2]), gitlabMeant}}
		if ValidateJobArguments(gitlabMeant) != nil {
			fix.JobArguments = unescapeRake(raw[3])
		}
		return Args{}, &PasteError{Reason: fmt.Sprintf("the JSON contains backslashes other than before commas; rake removes every backslash, so it would receive %q, which may not be what GitLab printed: give the four arguments instead, the JSON in single quotes", Echo(unescapeRake(raw[3]))), Fix: fix}
	}
	a := Args{Database: db, BatchedMigration: BatchedMigration{unescapeRake(raw[0]), unescapeRake(raw[1]), unescapeRake(raw[2]), unescapeRake(raw[3])}}
	if err := ValidateJobArguments(a.JobArguments); err != nil {
		reason := err.Error()
		if ae := (*ArgError)(nil); errors.As(err, &ae) {
			reason = fmt.Sprintf("%q, which %s", Echo(a.JobArguments), ae.Reason)
		}
		return Args{}, &PasteError{Reason: stripped + "rake would receive job_arguments " + reason}
	}
	return a, nil
}

// rakeEscapes returns the characters escaped by a backslash in a raw rake
// argument, in order.
func rakeEscapes(raw string) string {
	var b strings.Builder
	for i := 0; i+1 < len(raw); i++ {
		if raw[i] == '\\' {
			b.WriteByte(raw[i+1])
			i++
		}
	}
	return b.String()
}

func countNonEmpty(ss []string) int {
	n := 0
	for _, s := range ss {
		if s != "" {
			n++
		}
	}
	return n
}

// finalizeDatabase checks the task name and returns the database its
// suffix selects ("" for the plain task).
func finalizeDatabase(task string) (string, error) {
	if task == FinalizeTask {
		return "", nil
	}
	db, ok := strings.CutPrefix(task, FinalizeTask+":")
	if !ok && strings.HasPrefix(task, britishFinalize) {
		return "", &PasteError{Reason: fmt.Sprintf("GitLab's task is spelt finalize, with a z: rake knows no %q", Echo(task))}
	}
	if !ok {
		return "", &PasteError{Reason: fmt.Sprintf("%q is not the finalize task: only %s[...] (or %s:main / :ci) can be pasted as a finalize; of GitLab's other commands, db:migrate:status, db:migrate, gitlab:background_migrations:status and gitlab-ctl status / restart can be pasted as they are", Echo(task), FinalizeTask, FinalizeTask)}
	}
	if err := ValidateDatabase(db); err != nil {
		return "", &PasteError{Reason: fmt.Sprintf("the task %q names no database I know: %v", Echo(task), err)}
	}
	return db, nil
}

// decodeFourArgs reads JobClass table column JSON. The JSON may be quoted
// for a shell (then it is one word and loses its quotes, as in sh) or typed
// bare (then it is taken as typed, blanks and double quotes included: a
// bare JSON array starts with [, never with a quote). GitLab's \, escapes
// are removed when the value is not valid JSON with them.
func decodeFourArgs(text string, words []ShellWord) (Args, error) {
	if len(words) < 4 {
		return Args{}, &PasteError{Reason: fmt.Sprintf("finalize needs 4 arguments (job class, table, column, JSON job arguments), got %d; or paste GitLab's whole gitlab-rake gitlab:background_migrations:finalize[...] line", len(words))}
	}
	last := words[len(words)-1]
	span := text[words[3].Start:last.End]
	js := span
	if span[0] == '\'' || span[0] == '"' {
		if len(words) > 4 {
			return Args{}, &PasteError{Reason: fmt.Sprintf("finalize takes 4 arguments, and after the quoted JSON comes %q: a reason goes after --", Echo(words[4].Raw))}
		}
		js = words[3].Text
	}
	js = strings.TrimSpace(js) // JSON's blanks around the array mean nothing; rake would trim them
	a := Args{BatchedMigration: BatchedMigration{words[0].Text, words[1].Text, words[2].Text, js}}
	if err := ValidateJobArguments(js); err != nil {
		g := strings.ReplaceAll(js, `\,`, ",")
		if g == js || ValidateJobArguments(g) != nil {
			return Args{}, &PasteError{Reason: err.Error()}
		}
		a.JobArguments = g
	}
	return a, nil
}

// britishFinalize is the spelling rake does not know, which recoverPaste
// corrects.
const britishFinalize = "gitlab:background_migrations:finalise"

// commandPrefixRE matches what may precede the task word in a paste: a
// prompt, sudo with its options, gitlab-rake.
var commandPrefixRE = regexp.MustCompile(`^(?:\$\s+)?(?:sudo(?:\s+-[A-Za-z]+(?:\s+[a-z_][a-z0-9_-]*)?)*\s+)?(?:\S*gitlab-rake\s+)?`)

// recoverPaste guesses what a refused paste meant, to show the corrected form:
// first the words joined where a shell would have split them (a blank
// after ] or in the JSON), then the text read literally, without any shell
// (quotes forgotten or unbalanced). It returns nil when neither decodes.
func recoverPaste(text string) *Args {
	rest := strings.TrimSpace(text[len(commandPrefixRE.FindString(text)):])
	rest = strings.Replace(rest, britishFinalize, FinalizeTask, 1)
	var candidates []string
	if words, err := SplitShellWords(rest); err == nil && len(words) > 1 {
		var b strings.Builder
		for _, w := range words {
			b.WriteString(w.Raw)
		}
		candidates = append(candidates, b.String())
	}
	// Read without a shell: quotes are GitLab's shell quoting, not data.
	literal := strings.ReplaceAll(rest, "'", "")
	if f := strings.Fields(literal); len(f) == 0 || !looksLikeTask(f[0]) {
		return recoverFourArgs(literal)
	}
	for _, c := range candidates {
		if a, err := decodeTaskWords([]ShellWord{{Text: shellText(c), Raw: c}}); err == nil {
			return &a
		}
	}
	task, raw, ok := splitRakeTask(literal)
	if !ok || len(raw) < 4 {
		return nil
	}
	db, err := finalizeDatabase(task)
	if err != nil {
		return nil
	}
	js := unescapeRake(strings.Join(raw[3:], ","))
	if ValidateJobArguments(js) != nil {
		return nil
	}
	return &Args{Database: db, BatchedMigration: BatchedMigration{unescapeRake(raw[0]), unescapeRake(raw[1]), unescapeRake(raw[2]), js}}
}

// shellText is s after a shell's quote removal when s is one shell word,
// or s unchanged.
func shellText(s string) string {
	words, err := SplitShellWords(s)
	if err != nil || len(words) != 1 {
		return s
	}
	return words[0].Text
}

// recoverFourArgs reads JobClass table column JSON literally.
func recoverFourArgs(s string) *Args {
	f := strings.Fields(s)
	if len(f) < 4 {
		return nil
	}
	i := strings.Index(s, f[3])
	js := strings.Trim(strings.TrimSpace(s[i:]), `"`)
	if ValidateJobArguments(js) != nil {
		js = strings.ReplaceAll(js, `\,`, ",")
		if ValidateJobArguments(js) != nil {
			return nil
		}
	}
	return &Args{BatchedMigration: BatchedMigration{f[0], f[1], f[2], js}}
}

// FinalizeTaskWord writes a as GitLab prints a finalize command: the task
// word with the JSON in single quotes and its commas escaped, ready for a
// shell (and for DecodeFinalize). ok is false when the JSON contains a
// backslash, an apostrophe or a line break, which that form cannot carry
// unambiguously; then give the four arguments instead.
func FinalizeTaskWord(a Args) (word string, ok bool) {
	if strings.ContainsAny(a.JobArguments, "\\'\n\r") {
		return "", false
	}
	task := FinalizeTask
	if a.Database != "" {
		task += ":" + a.Database
	}
	return task + "[" + a.JobClass + "," + a.Table + "," + a.Column + ",'" + strings.ReplaceAll(a.JobArguments, ",", `\,`) + "']", true
}

// Echo shortens user text quoted back in a message to 80 characters, on
// a character boundary, marking the cut.
func Echo(s string) string {
	const max = 80
	r := []rune(s)
	if len(r) <= max {
		return s
	}
	return string(r[:max-1]) + "…"
}

// PastedOperation recognises another GitLab command line an administrator
// may paste from a runbook or GitLab's docs (sudo gitlab-rake
// db:migrate:status, sudo gitlab-ctl restart puma, …) as the catalogue
// operation that runs it, with its arguments validated. words are the
// line's shell words; finalize lines are DecodeFinalize's, not this.
func PastedOperation(words []string) (op string, a Args, ok bool) {
	if len(words) > 0 && strings.Trim(words[0], "`") == "sudo" {
		words = words[1:]
	}
	if len(words) > 0 && isGitLabRake(strings.Trim(words[0], "`")) {
		// rake reads NAME=value as an environment setting; omnibus sets
		// this one anyway.
		words = slices.DeleteFunc(slices.Clone(words), func(w string) bool { return strings.Trim(w, "`") == railsEnv })
	}
	if len(words) < 2 || len(words) > 3 {
		return "", Args{}, false
	}
	prog, rest := strings.Trim(words[0], "`"), slices.Clone(words[1:])
	rest[len(rest)-1] = strings.TrimRight(rest[len(rest)-1], "`")
	switch {
	case isGitLabRake(prog) && len(rest) == 1:
		task := rest[0]
		for name, prefix := range map[string]string{OpMigrateStatus: "db:migrate:status", OpBBMStatus: "gitlab:background_migrations:status"} {
			if task == prefix {
				return name, Args{}, true
			}
			if db, found := strings.CutPrefix(task, prefix+":"); found && ValidateDatabase(db) == nil {
				return name, Args{Database: db}, true
			}
		}
		if task == "db:migrate" {
			return OpMigrate, Args{}, true
		}
	case prog == "gitlab-ctl" || strings.HasSuffix(prog, "/gitlab-ctl"):
		op, known := CtlOperation(rest[0])
		if !known {
			return "", Args{}, false
		}
		name := op.Name
		if len(rest) == 2 {
			if ValidateService(rest[1]) != nil {
				return "", Args{}, false
			}
			a.Service = rest[1]
		}
		return name, a, true
	}
	return "", Args{}, false
}
