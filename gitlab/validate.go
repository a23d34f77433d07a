package gitlab

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ArgError says which argument was refused and why, in words an operator can
// act on. Validation never repairs input: a value is accepted as it is or
// refused with an ArgError.
type ArgError struct {
	Field  string // job_class, table, column, job_arguments, database, service
	Value  string
	Reason string
}

func (e *ArgError) Error() string {
	return fmt.Sprintf("%s %q %s", e.Field, Echo(e.Value), e.Reason)
}

// Identifier limits. PostgreSQL truncates identifiers at 63 bytes; GitLab's
// job classes are Ruby constants, namespaced with ::.
const (
	maxIdentifier   = 63
	maxJobClass     = 200
	maxJobArguments = 4096
)

var (
	jobClassRE = regexp.MustCompile(`^[A-Z][A-Za-z0-9_]*(::[A-Z][A-Za-z0-9_]*)*$`)
	identRE    = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)
	serviceRE  = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*$`)
)

// ValidateJobClass accepts a Ruby class name such as
// CopyColumnUsingBackgroundMigrationJob or ProjectNamespaces::BackfillProjectNamespaces.
func ValidateJobClass(s string) error {
	if s == "" {
		return &ArgError{"job_class", s, "is required (e.g. CopyColumnUsingBackgroundMigrationJob)"}
	}
	if len(s) > maxJobClass || !jobClassRE.MatchString(s) {
		return &ArgError{"job_class", s, "is not a Ruby class name: use letters, digits and _, starting with a capital, parts joined by ::"}
	}
	return nil
}

// ValidateTable accepts a lower-case PostgreSQL table name, optionally
// schema-qualified (gitlab_partitions_dynamic.ci_builds).
func ValidateTable(s string) error {
	if s == "" {
		return &ArgError{"table", s, "is required (e.g. ci_builds)"}
	}
	parts := strings.Split(s, ".")
	if len(parts) > 2 {
		return &ArgError{"table", s, "has more than one '.': use table or schema.table"}
	}
	for _, p := range parts {
		if len(p) > maxIdentifier || !identRE.MatchString(p) {
			return &ArgError{"table", s, "is not a table name: use lower-case letters, digits and _ (optionally schema.table), at most 63 characters each"}
		}
	}
	return nil
}

// ValidateColumn accepts a lower-case PostgreSQL column name.
func ValidateColumn(s string) error {
	if s == "" {
		return &ArgError{"column", s, "is required (e.g. id)"}
	}
	if len(s) > maxIdentifier || !identRE.MatchString(s) {
		return &ArgError{"column", s, "is not a column name: use lower-case letters, digits and _, at most 63 characters"}
	}
	return nil
}

// ValidateJobArguments accepts a JSON array, as GitLab stores job_arguments.
func ValidateJobArguments(s string) error {
	if strings.TrimSpace(s) == "" {
		return &ArgError{"job_arguments", s, "is required: a JSON array such as [] or [[\"id\"],[\"id_convert_to_bigint\"]]"}
	}
	if len(s) > maxJobArguments {
		return &ArgError{"job_arguments", s, fmt.Sprintf("is longer than %d bytes", maxJobArguments)}
	}
	var v any
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		return &ArgError{"job_arguments", s, "is not valid JSON" + jsonProblem(err) + "; give the array as GitLab prints it, e.g. '[[\"id\"]\\, [\"id_convert_to_bigint\"]]'"}
	}
	if _, ok := v.([]any); !ok {
		return &ArgError{"job_arguments", s, "must be a JSON array, e.g. [] or [[\"id\"],[\"id_convert_to_bigint\"]]"}
	}
	return nil
}

// CompactJobArguments returns the JSON array without insignificant white
// space. The value is unchanged (GitLab compares job_arguments as JSON), but
// the compact form has no newlines, which rake would otherwise read as part of
// a task name.
func CompactJobArguments(s string) (string, error) {
	if err := ValidateJobArguments(s); err != nil {
		return "", err
	}
	var b bytes.Buffer
	if err := json.Compact(&b, []byte(s)); err != nil {
		return "", &ArgError{"job_arguments", s, "is not valid JSON" + jsonProblem(err)}
	}
	return b.String(), nil
}

// Databases are the database.yml configuration names GitLab knows; a
// database task exists for one only where it has its own database (ci on
// a decomposed install, geo on a Geo secondary, …).
var Databases = []string{"main", "ci", "sec", "embedding", "geo"}

// ValidateDatabase accepts a database configuration name GitLab knows
// (Databases). Anything else would only make rake answer "Don't know how
// to build task".
func ValidateDatabase(s string) error {
	if !slices.Contains(Databases, s) {
		return &ArgError{"database", s, "is not one of GitLab's databases: use main or ci (sec, embedding or geo where configured)"}
	}
	return nil
}

// ValidateService accepts a gitlab-ctl service name (puma, sidekiq,
// gitlab-workhorse, …). gitlab-ctl silently ignores unknown names, so a
// plausible name is all that can be checked here.
func ValidateService(s string) error {
	if len(s) > maxIdentifier || !serviceRE.MatchString(s) {
		return &ArgError{"service", s, "is not a service name: use lower-case letters, digits, - and _ (e.g. puma, sidekiq)"}
	}
	return nil
}
