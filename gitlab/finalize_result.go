package gitlab

import "strings"

// FinalizeResult is what `gitlab-rake
// gitlab:background_migrations:finalize[...]` (or finalize:main, :ci)
// printed.
//
// Done is NOT proof that the migration finished: the task prints "Done." as
// well when no migration matched the four arguments or when it was already
// finished (the runner only logs a warning to application.log). Callers must
// confirm with gitlab:background_migrations:status (or SQL) afterwards.
type FinalizeResult struct {
	// Done: the task printed "Done." (green on a TTY: "\e[32mDone.\e[0m").
	Done bool `json:"done"`
	// Failure is nil when no failure text was recognised.
	Failure *FinalizeFailure `json:"failure,omitempty"`
}

// OK reports whether the task printed Done. and no failure. See the caveat
// on FinalizeResult.
func (r FinalizeResult) OK() bool { return r.Done && r.Failure == nil }

// FinalizeFailureKind classifies a failed finalize.
type FinalizeFailureKind string

const (
	// FinalizeSpecifyDatabase: plain finalize on a decomposed install
	// ("Please specify the database"); use finalize:main or finalize:ci.
	FinalizeSpecifyDatabase FinalizeFailureKind = "specify-database"
	// FinalizeMissingArgument: "Must specify <name> as an argument".
	FinalizeMissingArgument FinalizeFailureKind = "missing-argument"
	// FinalizeFailedToFinalize: the runner could not finish the migration
	// ("...::FailedToFinalize: Batched migration <Job> could not be
	// completed ...").
	FinalizeFailedToFinalize FinalizeFailureKind = "failed-to-finalize"
	// FinalizeJSONParse: job_arguments were not valid JSON
	// (JSON::ParserError), typically an unescaped comma truncated them.
	FinalizeJSONParse FinalizeFailureKind = "json-parse"
	// FinalizeUnknownTask: "Don't know how to build task ...", e.g.
	// finalize:ci on an install that is not decomposed.
	FinalizeUnknownTask FinalizeFailureKind = "unknown-task"
	// FinalizeGeneric: any other "rake aborted!".
	FinalizeGeneric FinalizeFailureKind = "generic"
)

// FinalizeFailure describes why finalize failed.
type FinalizeFailure struct {
	Kind FinalizeFailureKind `json:"kind"`
	// Message is the line that identified the failure (for rake errors the
	// first line after "rake aborted!"), without colour codes.
	Message string `json:"message"`
	// Argument is the missing argument's name for FinalizeMissingArgument
	// (job_class_name, table_name, column_name or job_arguments).
	Argument string `json:"argument,omitempty"`
	// JobClass is the migration's job class for FinalizeFailedToFinalize.
	JobClass string `json:"job_class,omitempty"`
}

// ParseFinalize parses finalize output, stdout and stderr merged in any
// order. It never fails: unrecognised lines are ignored. ANSI colour codes
// (Rainbow colours "Done." green and the refusals red on a TTY) are removed
// before matching.
func ParseFinalize(out []byte) FinalizeResult {
	s := stripANSI(strings.ReplaceAll(string(out), rakeAbortedMarker, "\n"+rakeAbortedMarker))
	var res FinalizeResult
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		switch {
		case line == "Done.":
			res.Done = true
		case res.Failure != nil:
		case line == "Please specify the database":
			res.Failure = &FinalizeFailure{Kind: FinalizeSpecifyDatabase, Message: line}
		case strings.HasPrefix(line, "Must specify ") && strings.HasSuffix(line, " as an argument"):
			arg := strings.TrimSuffix(strings.TrimPrefix(line, "Must specify "), " as an argument")
			res.Failure = &FinalizeFailure{Kind: FinalizeMissingArgument, Message: line, Argument: arg}
		}
	}
	if res.Failure != nil {
		return res
	}
	abort := strings.Index(s, rakeAbortedMarker)
	if abort < 0 {
		return res
	}
	f := &FinalizeFailure{Kind: FinalizeGeneric, Message: rakeAbortMessage(s[abort:])}
	class, _, _ := strings.Cut(f.Message, ": ")
	switch {
	case failedToFinalizeJob(f.Message) != "":
		f.Kind, f.JobClass = FinalizeFailedToFinalize, failedToFinalizeJob(f.Message)
	case strings.HasSuffix(class, "ParserError") || strings.HasSuffix(class, "ParseError"):
		f.Kind = FinalizeJSONParse
	case strings.HasPrefix(f.Message, NoSuchTaskText):
		f.Kind = FinalizeUnknownTask
	}
	res.Failure = f
	return res
}

// stripANSI removes ANSI escape sequences (ESC [ parameters final-byte),
// which is all Rainbow emits.
func stripANSI(s string) string {
	if strings.IndexByte(s, 0x1b) < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != 0x1b {
			b.WriteByte(s[i])
			continue
		}
		if i+1 < len(s) && s[i+1] == '[' {
			// Skip parameter and intermediate bytes up to the final byte
			// (0x40-0x7e).
			j := i + 2
			for j < len(s) && (s[j] < 0x40 || s[j] > 0x7e) {
				j++
			}
			i = j
		}
		// A lone ESC is dropped.
	}
	return b.String()
}
