package commands

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Invocation is one parsed `/gitlab-migrations` command line:
// `<subcommand> [--host NAME] [--db NAME] [--from ID] [args] [-- reason text]`.
type Invocation struct {
	Sub  string
	Host string
	DB   string
	From string
	// Before is audit's --before SEQ: the page of entries numbered below it.
	Before string
	Args   []string
	Reason string
	// When and TZ are `schedules add`'s --when and --tz.
	When string
	TZ   string
	// Emergency is --emergency: a break-glass request (migrate, finalize,
	// restart), which needs a Reason.
	Emergency bool
	// Code is approve's and enroll's --code: an authenticator's current
	// code (policy.reauth).
	Code string
	// Reset is enroll's --reset: the user whose enrolment an admin
	// removes.
	Reset string
}

// switches are the flags that take no value.
var switches = []string{"emergency"}

// UsageError is a refusal of malformed input. Its message says what is wrong
// and carries the usage line of the subcommand.
type UsageError struct {
	Msg   string
	Usage string
}

func (e *UsageError) Error() string {
	if e.Usage == "" {
		return e.Msg
	}
	return e.Msg + "\nUsage: " + e.Usage
}

// Parse parses the text after the command word. Words are split as a POSIX
// shell would split them (gitlab.SplitShellWords; nothing is ever run),
// after typographic quotes are turned back into ASCII. Everything after an
// unquoted -- is the reason, taken as typed. A line that starts like
// GitLab's own finalize command (sudo, gitlab-rake or the task word) is a
// finalize.
func Parse(text string) (Invocation, error) {
	if len(text) > maxCommandBytes {
		return Invocation{}, &UsageError{Msg: fmt.Sprintf("the command is %d bytes long; at most %d are allowed", len(text), maxCommandBytes)}
	}
	text = gitlab.NormalizeQuotes(text)
	words, splitErr := gitlab.SplitShellWords(text)
	if err := checkVisibleText(text, words); err != nil {
		return Invocation{}, &UsageError{Msg: err.Error()}
	}
	words = gitlab.DropPrompt(words) // "$ sudo gitlab-rake …" as docs print it
	if len(words) == 0 {
		if splitErr != nil {
			return Invocation{}, &UsageError{Msg: splitErr.Error(), Usage: "/gitlab-migrations help"}
		}
		return Invocation{Sub: "help"}, nil
	}
	if err := unofferedCtl(words); err != nil {
		return Invocation{}, err
	}
	if inv, ok, err := pastedOther(text, words); err != nil {
		return inv, err
	} else if ok {
		if err := subcommands[inv.Sub].checkArgs(inv); err != nil {
			return inv, &UsageError{Msg: err.Error(), Usage: subcommands[inv.Sub].usage}
		}
		return inv, inv.checkBoundsUsage()
	}
	inv := Invocation{Sub: strings.ToLower(words[0].Text)}
	first := 1
	if pastedFinalize(words[0].Text) {
		inv.Sub, first = "finalize", 0
	}
	spec, ok := subcommands[inv.Sub]
	if !ok || (first == 1 && words[0].Quoted) {
		return inv, &UsageError{Msg: fmt.Sprintf("unknown subcommand %q", echo(words[0].Text)), Usage: "/gitlab-migrations SUBCOMMAND …, where SUBCOMMAND is one of " + strings.Join(subcommandNames(), ", ") + " (try /gitlab-migrations help)"}
	}
	usage := spec.usage
	var plain []int // indexes of the argument words
	// flagsAmongArgs: a flag between two arguments (finalize's arguments
	// must be one stretch of text).
	flagsAmongArgs, flagAfterArgs := false, false
	given := map[string]string{} // flag → its value: a flag given twice is refused, never "last wins"
	for i := first; i < len(words); i++ {
		w := words[i]
		if reasonSeparator(w) {
			inv.Reason = strings.Join(strings.Fields(text[w.End:]), " ")
			splitErr = nil // whatever follows -- is free text, quotes and all
			break
		}
		if t, ok := dashedFlag(w, spec); ok {
			w.Text = t
		}
		if w.Quoted || !strings.HasPrefix(w.Text, "--") {
			plain = append(plain, i)
			flagsAmongArgs = flagsAmongArgs || flagAfterArgs
			continue
		}
		flagAfterArgs = len(plain) > 0
		name, value, hasValue := strings.Cut(strings.TrimPrefix(w.Text, "--"), "=")
		if !spec.allows(name) {
			return inv, &UsageError{Msg: fmt.Sprintf("%s does not take --%s", inv.Sub, echo(name)), Usage: usage}
		}
		if slices.Contains(switches, name) {
			if hasValue {
				return inv, &UsageError{Msg: fmt.Sprintf("--%s takes no value; the reason goes after --", name), Usage: usage}
			}
			if _, twice := given[name]; twice {
				return inv, &UsageError{Msg: fmt.Sprintf("--%s is given twice: give it once", name), Usage: usage}
			}
			given[name] = ""
			inv.Emergency = true
			continue
		}
		if !hasValue {
			if i+1 >= len(words) || reasonSeparator(words[i+1]) {
				return inv, &UsageError{Msg: fmt.Sprintf("--%s needs a value", name), Usage: usage}
			}
			i++
			value = words[i].Text
		}
		if prev, twice := given[name]; twice {
			if name == "code" { // a code is not echoed: refusals are audited
				return inv, &UsageError{Msg: "--code is given twice: give it once", Usage: usage}
			}
			return inv, &UsageError{Msg: fmt.Sprintf("--%s is given twice (%s, then %s): give it once", name, echo(prev), echo(value)), Usage: usage}
		}
		given[name] = value
		switch name {
		case "host":
			inv.Host = value
		case "db":
			inv.DB = value
		case "from":
			inv.From = value
		case "before":
			inv.Before = value
		case "when":
			inv.When = value
		case "tz":
			inv.TZ = value
		case "code":
			inv.Code = value
		case "reset":
			inv.Reset = value
		}
	}
	switch {
	case inv.Sub == "deny" && len(plain) > 0:
		// The reason of a deny may follow the ID without --; it is free
		// text, apostrophes included.
		rest := strings.Fields(text[words[plain[0]].End:])
		if len(rest) > 0 && (rest[0] == "--" || rest[0] == "\u2014") {
			rest = rest[1:]
		}
		inv.Args, inv.Reason, splitErr = []string{words[plain[0]].Text}, strings.Join(rest, " "), nil
	case inv.Sub == "finalize" && inv.From == "" && (len(plain) > 0 || splitErr != nil):
		if err := inv.decodeFinalize(text, words, plain, first, flagsAmongArgs, splitErr); err != nil {
			return inv, err
		}
		splitErr = nil
	default:
		for _, i := range plain {
			inv.Args = append(inv.Args, words[i].Text)
		}
	}
	if splitErr != nil {
		return inv, &UsageError{Msg: splitErr.Error() + ": close the quote, or put free text after --", Usage: usage}
	}
	if err := spec.checkArgs(inv); err != nil {
		return inv, &UsageError{Msg: err.Error(), Usage: usage}
	}
	return inv, inv.checkBoundsUsage()
}

// checkBoundsUsage is checkBounds as a usage error, or nil.
func (inv Invocation) checkBoundsUsage() error {
	if err := inv.checkBounds(); err != nil {
		return &UsageError{Msg: err.Error(), Usage: subcommands[inv.Sub].usage}
	}
	return nil
}

// pastedOther reads a pasted GitLab command other than finalize (sudo
// gitlab-rake db:migrate:status, sudo gitlab-ctl restart, …) as the
// subcommand that runs it; the reason may follow after --, as anywhere.
func pastedOther(text string, words []gitlab.ShellWord) (Invocation, bool, error) {
	first := strings.Trim(words[0].Text, "`")
	if first != "sudo" && !strings.HasSuffix(first, "gitlab-rake") && !strings.HasSuffix(first, "gitlab-ctl") {
		return Invocation{}, false, nil
	}
	var inv Invocation
	var line []string
	for i := 0; i < len(words); i++ {
		w := words[i]
		if reasonSeparator(w) {
			inv.Reason = strings.Join(strings.Fields(text[w.End:]), " ")
			break
		}
		// --host may follow the pasted line, as after any subcommand.
		if !w.Quoted && (w.Text == "--host" || strings.HasPrefix(w.Text, "--host=")) {
			host := ""
			if v, ok := strings.CutPrefix(w.Text, "--host="); ok {
				host = v
			} else if i+1 < len(words) {
				i++
				host = words[i].Text
			}
			if inv.Host != "" {
				return inv, true, &UsageError{Msg: fmt.Sprintf("--host is given twice (%s, then %s): give it once", echo(inv.Host), echo(host))}
			}
			inv.Host = host
			continue
		}
		line = append(line, w.Text)
	}
	op, a, ok := gitlab.PastedOperation(line)
	if !ok {
		return Invocation{}, false, nil
	}
	if sub, ok := subcommandFor(op); ok {
		inv.Sub = sub
	}
	inv.DB = a.Database
	if a.Service != "" {
		inv.Args = []string{a.Service}
	}
	return inv, inv.Sub != "", nil
}

// unofferedCtl refuses a pasted gitlab-ctl line whose action the bot does
// not offer (stop, start, reconfigure, …), saying what it does offer: it
// would otherwise be read as a malformed finalize.
func unofferedCtl(words []gitlab.ShellWord) error {
	i := 0
	if i < len(words) && strings.Trim(words[i].Text, "`") == "sudo" {
		i++
	}
	if i >= len(words) {
		return nil
	}
	prog := strings.Trim(words[i].Text, "`")
	if prog != "gitlab-ctl" && !strings.HasSuffix(prog, "/gitlab-ctl") {
		return nil
	}
	action := ""
	if i+1 < len(words) {
		action = strings.Trim(words[i+1].Text, "`")
	}
	if _, offered := gitlab.CtlOperation(action); offered {
		return nil
	}
	what := "gitlab-ctl alone"
	if action != "" {
		what = fmt.Sprintf("gitlab-ctl %s", echo(action))
	}
	return &UsageError{Msg: what + " is not offered here: of gitlab-ctl, only status (or /gitlab-migrations services) and restart [SERVICE] (/gitlab-migrations restart, with approval) can be requested"}
}

// dashedFlag reads —db or –db (the dash a chat client's autocorrection
// makes of --) as --db, where it names a flag the subcommand takes.
func dashedFlag(w gitlab.ShellWord, spec subcommand) (string, bool) {
	if w.Quoted {
		return "", false
	}
	for _, dash := range []string{"\u2014", "\u2013"} {
		if rest, ok := strings.CutPrefix(w.Text, dash); ok {
			name, _, _ := strings.Cut(rest, "=")
			if name != "" && spec.allows(name) {
				return "--" + rest, true
			}
		}
	}
	return "", false
}

// subcommandFor is the subcommand that runs catalogue operation op.
func subcommandFor(op string) (string, bool) {
	for name, s := range subcommands {
		if s.op == op {
			return name, true
		}
	}
	return "", false
}

// subcommandOf names catalogue operation op as people type it (status,
// not migrate-status); op itself when no subcommand runs it.
func subcommandOf(op string) string {
	if sub, ok := subcommandFor(op); ok {
		return sub
	}
	return op
}

// reasonSeparator reports an unquoted -- (or the dash a chat client's
// autocorrection makes of it), after which the reason starts.
func reasonSeparator(w gitlab.ShellWord) bool {
	return !w.Quoted && (w.Text == "--" || w.Text == "\u2014")
}

// pastedFinalize reports whether a line starting with word is GitLab's own
// finalize command pasted as it stands (in a chat code span or not).
func pastedFinalize(word string) bool {
	word = strings.TrimLeft(word, "`")
	return word == "sudo" || word == "gitlab-rake" || strings.HasSuffix(word, "/gitlab-rake") ||
		strings.HasPrefix(word, gitlab.FinalizeTask)
}

// decodeFinalize reads finalize's arguments with gitlab.DecodeFinalize:
// four values or GitLab's command as it printed it. A refusal shows the
// corrected line where the intended values could be recovered.
func (inv *Invocation) decodeFinalize(text string, words []gitlab.ShellWord, plain []int, first int, flagsAmongArgs bool, splitErr error) error {
	usage := subcommands["finalize"].usage
	var argText string
	switch {
	case splitErr != nil:
		// An unbalanced quote: let the decoder say where, and guess the fix.
		start := len(text)
		if first < len(words) {
			start = words[first].Start
		} else if len(words) > 0 {
			start = words[len(words)-1].End
		}
		argText = text[start:]
	case flagsAmongArgs:
		return &UsageError{Msg: "put --host and --db before or after finalize's arguments, not among them", Usage: usage}
	default:
		argText = text[words[plain[0]].Start:words[plain[len(plain)-1]].End]
	}
	a, err := gitlab.DecodeFinalize(argText)
	if err != nil {
		return finalizeRefusal(err, inv.DB)
	}
	if strings.Contains(a.JobArguments, "`") {
		return &UsageError{Msg: "the job arguments contain a backtick, which chat cannot show inside code, so an approver could not read exactly what runs; GitLab's job arguments (column names) never hold one", Usage: usage}
	}
	if a.Database != "" {
		if inv.DB != "" && inv.DB != a.Database {
			return &UsageError{Msg: fmt.Sprintf("the task says :%s but --db says %s: give the database once", a.Database, echo(inv.DB)), Usage: usage}
		}
		inv.DB = a.Database
	}
	inv.Args = []string{a.JobClass, a.Table, a.Column, a.JobArguments}
	return nil
}

// finalizeRefusal turns a decoder refusal into a usage error that shows
// the line to paste instead, when the intended values are known.
func finalizeRefusal(err error, db string) error {
	var pe *gitlab.PasteError
	if !errors.As(err, &pe) {
		return &UsageError{Msg: err.Error(), Usage: subcommands["finalize"].usage}
	}
	msg := pe.Reason + "."
	if pe.Fix != nil {
		fix := *pe.Fix
		if fix.Database == "" {
			fix.Database = db
		}
		line := "/gitlab-migrations finalize " + finalizeLine(fix)
		if strings.Contains(line, "`") {
			msg += "\nPaste this instead:\n" + line
		} else {
			msg += "\nPaste this instead:\n`" + line + "`"
		}
	}
	return &UsageError{Msg: msg, Usage: subcommands["finalize"].usage}
}

// finalizeLine writes a's finalize arguments as a person would paste them:
// GitLab's task word where it can carry them, else the four arguments.
func finalizeLine(a gitlab.Args) string {
	if w, ok := gitlab.FinalizeTaskWord(a); ok {
		return w
	}
	s := a.JobClass + " " + a.Table + " " + a.Column + " " + gitlab.ShellQuote(a.JobArguments)
	if a.Database != "" {
		s += " --db " + a.Database
	}
	return s
}

// Audit pages: `audit [N] [--before SEQ]`.
const (
	auditDefault = 10    // entries when N is not given
	auditMax     = 10000 // the most entries one answer gives
)

// auditPage reads `audit [N] [--before SEQ]`: how many entries, and the
// sequence number they are below (0: the newest).
func auditPage(inv Invocation) (n int, before uint64, err error) {
	n = auditDefault
	if len(inv.Args) > 0 {
		n, err = strconv.Atoi(inv.Args[0])
		if err != nil || n < 1 || n > auditMax {
			return 0, 0, fmt.Errorf("N must be a number from 1 to %d, or anchor; not %q", auditMax, echo(inv.Args[0]))
		}
	}
	if inv.Before != "" {
		before, err = strconv.ParseUint(inv.Before, 10, 64)
		if err != nil || before < 2 {
			return 0, 0, fmt.Errorf("--before takes an entry's number (the first column of `audit`), at least 2; not %q", echo(inv.Before))
		}
	}
	return n, before, nil
}
