package gitlab

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
)

// MigrateResult is what a `gitlab-rake db:migrate` run printed: the
// migrations it completed and, if it did not succeed, why.
type MigrateResult struct {
	// Migrated lists every "== <version> <Class>: migrated (<s>s)" line in
	// output order; on a decomposed install a version appears once per
	// database.
	Migrated []AppliedMigration `json:"migrated"`
	// Failure is nil when the run succeeded.
	Failure *MigrateFailure `json:"failure,omitempty"`
}

// AppliedMigration is one completed migration.
type AppliedMigration struct {
	// Database is the database.yml name from the "main: " / "ci: " prefix
	// GitLab adds; "" when absent (GitLab 14.x).
	Database string `json:"database,omitempty"`
	Version  string `json:"version"`
	// Class is the migration class name (db:migrate:status prints the
	// humanized file name instead: match the two by Version).
	Class   string  `json:"class"`
	Seconds float64 `json:"seconds"`
	// Skipped: the migration only touches schemas this database does not
	// have, so it was recorded without running ("-- The migration is
	// skipped since it modifies the schemas: [...]").
	Skipped bool `json:"skipped,omitempty"`
	// Reverted: a "reverted" line (db:rollback), not "migrated".
	Reverted bool `json:"reverted,omitempty"`
}

// OK reports whether the run succeeded: no failure was recognised. Pair it
// with the exit code, and confirm with db:migrate:status.
func (r MigrateResult) OK() bool { return r.Failure == nil }

// SkippedMigrations returns the migrations recorded without running.
func (r MigrateResult) SkippedMigrations() []AppliedMigration {
	var s []AppliedMigration
	for _, m := range r.Migrated {
		if m.Skipped {
			s = append(s, m)
		}
	}
	return s
}

// FailureKind classifies a failed db:migrate.
type FailureKind string

const (
	// FailureUnfinishedBBM: a post-deployment migration requires a batched
	// background migration that is not finished ("Expected batched
	// background migration for the given configuration to be marked as
	// 'finished', but it is '<status>'"). Finalize holds the arguments of
	// the finalize task GitLab suggests.
	FailureUnfinishedBBM FailureKind = "unfinished-bbm"
	// FailureFailedToFinalize: GitLab tried to run the migration to the end
	// inline and could not ("Batched migration <Job> could not be completed
	// and a manual action is required."). No command is suggested.
	FailureFailedToFinalize FailureKind = "failed-to-finalize"
	// FailureConcurrentMigration: another db:migrate holds the advisory
	// lock ("Cannot run migrations because another migration process is
	// currently running.").
	FailureConcurrentMigration FailureKind = "concurrent-migration"
	// FailureGeneric: any other "rake aborted!"; Message is the original
	// error, e.g. "PG::DuplicateColumn: ERROR:  column ... already exists".
	FailureGeneric FailureKind = "generic"
	// FailureInterrupted: no error text at all, but the output ends inside a
	// migration (a "migrating" line without its "migrated"): the process was
	// killed or the capture cut. Never report such a run as a success.
	FailureInterrupted FailureKind = "interrupted"
)

// MigrateFailure describes why db:migrate failed.
type MigrateFailure struct {
	Kind FailureKind `json:"kind"`
	// Database, Version and Class name the migration that failed: the last
	// "== <version> <Class>: migrating" line without a "migrated" line for
	// the same database and version. Empty when the run failed before any
	// migration started (lock, connection).
	Database string `json:"database,omitempty"`
	Version  string `json:"version,omitempty"`
	Class    string `json:"class,omitempty"`
	// Message is the first line of the error message, trimmed.
	Message string `json:"message,omitempty"`
	// Status is the batched background migration's state for
	// FailureUnfinishedBBM ("active", "paused", "failed", ...).
	Status string `json:"status,omitempty"`
	// JobClass is the batched background migration's job class for
	// FailureUnfinishedBBM and FailureFailedToFinalize.
	JobClass string `json:"job_class,omitempty"`
	// Finalize holds the finalize arguments for FailureUnfinishedBBM, with
	// JobArguments as compact JSON (always valid when Finalize is not nil).
	// The migration runs on Database: on a decomposed install the finalize
	// task needs that suffix (finalize:ci), which GitLab's suggested command
	// never has.
	Finalize *BatchedMigration `json:"finalize,omitempty"`
}

// migrateAnnounceRE matches Rails' announce lines with GitLab's optional
// database prefix (gitlab-facts.md section 4). Lines are padded with "=" to
// 75 columns; longer ones keep a trailing space instead.
var migrateAnnounceRE = regexp.MustCompile(`^(?:(\w+): )?== (\d+) (\S+): (migrating|migrated \(([\d.]+)s\)|reverting|reverted \(([\d.]+)s\))\s*=*\s*$`)

// Texts that identify a failure.
const (
	unfinishedBBMText      = "Expected batched background migration for the given configuration to be marked as 'finished', but it is '"
	failedToFinalizeText   = "Batched migration "
	failedToFinalizeSuffix = " could not be completed"
	concurrentText         = "Cannot run migrations because another migration process is currently running."
	migrationSkippedText   = "-- The migration is skipped since it modifies the schemas:"
	finalizeTaskText       = "gitlab:background_migrations:finalize"
)

// startedMigration is a "migrating" (or "reverting") line seen so far.
type startedMigration struct {
	db, version, class string
	skipped, done      bool
}

// ParseMigrate parses db:migrate output: stdout alone, or stdout and stderr
// merged in either order or glued mid-line. It never fails; what it cannot
// recognise it ignores, and a run counts as failed only on positive evidence
// (an error text, or a migration that started and never finished).
func ParseMigrate(out []byte) MigrateResult {
	// Put every "rake aborted!" at the start of a line of its own, so a
	// glued "   -> 0.0007srake aborted!" yields both the stdout line and
	// the marker.
	s := strings.ReplaceAll(string(out), rakeAbortedMarker, "\n"+rakeAbortedMarker)

	var (
		res     MigrateResult
		started []startedMigration
		// Indexes into started, so that each line costs O(1) however long
		// the output: the last start per database (the migration running
		// there now) and per database and version.
		lastOnDB      = map[string]int{}
		lastOnVersion = map[[2]string]int{}
	)
	for line := range strings.Lines(s) {
		line = chompLine(line)
		if strings.Contains(line, "== ") {
			if m := migrateAnnounceRE.FindStringSubmatch(line); m != nil {
				db, version, class, what := m[1], m[2], m[3], m[4]
				if what == "migrating" || what == "reverting" {
					started = append(started, startedMigration{db: db, version: version, class: class})
					lastOnDB[db] = len(started) - 1
					lastOnVersion[[2]string{db, version}] = len(started) - 1
					continue
				}
				am := AppliedMigration{Database: db, Version: version, Class: class, Reverted: strings.HasPrefix(what, "reverted")}
				secs := m[5] + m[6] // one of them is empty
				am.Seconds, _ = strconv.ParseFloat(secs, 64)
				if i, ok := lastOnVersion[[2]string{db, version}]; ok && !started[i].done {
					started[i].done = true
					am.Skipped = started[i].skipped
				}
				res.Migrated = append(res.Migrated, am)
				continue
			}
		}
		if prefix, _, ok := strings.Cut(line, migrationSkippedText); ok {
			db := strings.TrimSuffix(prefix, ": ")
			if i, ok := lastOnDB[db]; ok && (prefix == "" || db != prefix) && !started[i].done {
				started[i].skipped = true
			}
		}
	}

	// The failed migration: the last one that started and did not finish.
	var failed *startedMigration
	for i := len(started) - 1; i >= 0; i-- {
		if !started[i].done {
			failed = &started[i]
			break
		}
	}
	res.Failure = migrateFailure(s, failed)
	return res
}

// migrateFailure classifies the failure in s, or returns nil for a success.
func migrateFailure(s string, failed *startedMigration) *MigrateFailure {
	var f MigrateFailure
	abort := strings.Index(s, rakeAbortedMarker)
	if abort >= 0 {
		f.Message = rakeAbortMessage(s[abort:])
	}
	switch {
	case strings.Contains(s, unfinishedBBMText):
		f.Kind = FailureUnfinishedBBM
		line := lineAt(s, strings.Index(s, unfinishedBBMText))
		if f.Message == "" {
			f.Message = line
		}
		var hash string
		_, rest, _ := strings.Cut(line, unfinishedBBMText)
		f.Status, hash, _ = strings.Cut(rest, "'")
		f.Finalize = finalizeFromCommand(s)
		if f.Finalize == nil {
			f.Finalize = finalizeFromInspect(hash)
		}
		if f.Finalize != nil {
			f.JobClass = f.Finalize.JobClass
		}
	case strings.Contains(s, failedToFinalizeSuffix) && failedToFinalizeJob(s) != "":
		f.Kind = FailureFailedToFinalize
		f.JobClass = failedToFinalizeJob(s)
		if f.Message == "" {
			f.Message = lineAt(s, strings.Index(s, failedToFinalizeSuffix))
		}
	case strings.Contains(s, concurrentText):
		f.Kind = FailureConcurrentMigration
		f.Message = concurrentText
	case abort >= 0:
		f.Kind = FailureGeneric
	case failed != nil:
		f.Kind = FailureInterrupted
		f.Message = "output ends inside migration " + failed.version + " " + failed.class + " without an error message"
	default:
		return nil
	}
	if failed != nil {
		f.Database, f.Version, f.Class = failed.db, failed.version, failed.class
	}
	return &f
}

// lineAt returns the line of s that contains offset i, trimmed.
func lineAt(s string, i int) string {
	start := strings.LastIndexByte(s[:i], '\n') + 1
	end := strings.IndexByte(s[i:], '\n')
	if end < 0 {
		end = len(s) - i
	}
	return strings.TrimSpace(s[start : i+end])
}

// failedToFinalizeJob extracts <Job> from the first "Batched migration <Job>
// could not be completed" in s.
func failedToFinalizeJob(s string) string {
	for line := range strings.Lines(s) {
		_, rest, ok := strings.Cut(line, failedToFinalizeText)
		if !ok {
			continue
		}
		job, _, ok := strings.Cut(rest, failedToFinalizeSuffix)
		if ok && job != "" && !strings.ContainsAny(job, " \t") {
			return job
		}
	}
	return ""
}

// finalizeFromCommand reads the first suggested finalize command,
//
//	<TAB>sudo gitlab-rake gitlab:background_migrations:finalize[Job,table,column,'<json with \,>']
//
// splitting its argument list as rake does (ParseRakeTask: commas not
// escaped by a backslash separate, spaces around arguments are trimmed, \x
// becomes x) and then dropping the shell's single quotes around the JSON.
// The JSON is compacted, so 14.x's "\, " separators come out as ",". Nil
// when there is no command or it does not yield four arguments and JSON.
func finalizeFromCommand(s string) *BatchedMigration {
	i := strings.Index(s, finalizeTaskText)
	if i < 0 {
		return nil
	}
	elem := lineAt(s, i)
	elem = elem[strings.Index(elem, finalizeTaskText):]
	// ParseRakeTask rescans the rest of the text for every argument, which
	// is quadratic in the number of commas; a command with anything but
	// three separators is not one to use anyway.
	if rakeArgSeparators(elem) != 3 {
		return nil
	}
	task, args := ParseRakeTask(elem)
	if !strings.HasPrefix(task, finalizeTaskText) || len(args) != 4 {
		return nil
	}
	js := args[3]
	if len(js) >= 2 && js[0] == '\'' && js[len(js)-1] == '\'' {
		js = js[1 : len(js)-1]
	}
	return newFinalize(args[0], args[1], args[2], js)
}

// rakeArgSeparators counts the commas that separate rake arguments in an
// argv element: those after the first "[" and not escaped by a backslash
// (a backslash escapes whatever follows it, as in rake's parse_task_string).
func rakeArgSeparators(elem string) int {
	i := strings.IndexByte(elem, '[')
	if i < 0 {
		return 0
	}
	n := 0
	for i++; i < len(elem); i++ {
		switch elem[i] {
		case '\\':
			i++
		case ',':
			n++
		}
	}
	return n
}

// finalizeFromInspect reads the migration's configuration from the Ruby
// Hash#inspect GitLab prints after "but it is '<status>':<TAB>", for output
// without a suggested command.
func finalizeFromInspect(afterStatus string) *BatchedMigration {
	i := strings.IndexByte(afterStatus, '{')
	if i < 0 {
		return nil
	}
	js, err := rubyInspectToJSON(afterStatus[i:])
	if err != nil {
		return nil
	}
	var cfg map[string]json.RawMessage
	if json.Unmarshal([]byte(js), &cfg) != nil {
		return nil
	}
	var job, table, column string
	for key, dst := range map[string]*string{"job_class_name": &job, "table_name": &table, "column_name": &column} {
		if json.Unmarshal(cfg[key], dst) != nil {
			return nil
		}
	}
	args, ok := cfg["job_arguments"]
	if !ok {
		return nil
	}
	return newFinalize(job, table, column, string(args))
}

// newFinalize checks and assembles finalize arguments: three non-empty names
// and job arguments that are valid JSON, stored compacted.
func newFinalize(job, table, column, args string) *BatchedMigration {
	if job == "" || table == "" || column == "" {
		return nil
	}
	var buf bytes.Buffer
	if json.Compact(&buf, []byte(args)) != nil {
		return nil
	}
	return &BatchedMigration{JobClass: job, Table: table, Column: column, JobArguments: buf.String()}
}
