package gitlab

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"
)

// Kind says whether an operation changes the GitLab host.
type Kind int

const (
	// ReadOnly operations only look; they run at once and may run
	// concurrently.
	ReadOnly Kind = iota
	// Destructive operations change the database or interrupt service; they
	// need a second person's approval, and the agent runs one at a time.
	Destructive
)

func (k Kind) String() string {
	if k == Destructive {
		return "destructive"
	}
	return "read-only"
}

// Program is the GitLab program an operation runs. The agent maps it to a
// configured path (by default /opt/gitlab/bin/gitlab-rake or gitlab-ctl).
type Program string

const (
	Rake Program = "gitlab-rake"
	Ctl  Program = "gitlab-ctl"
)

// Streams says which of an operation's output streams its parser reads.
type Streams int

const (
	// StdoutAndStderr: stdout, then stderr. Rake prints its errors ("rake
	// aborted!", "Please specify the database", "Don't know how to build
	// task") on stderr, and the parsers need them to say why a run failed.
	StdoutAndStderr Streams = iota
	// StdoutOnly: the answer is on stdout and anything on stderr (a
	// warning, a banner) is not part of it. gitlab-ctl prints everything
	// on stdout; the 18.x bbm list's table parser takes every line after
	// its header for a row, so stderr must not follow it.
	StdoutOnly
)

// Field names one argument an operation may take.
type Field string

const (
	FieldDatabase Field = "database"
	FieldService  Field = "service"
	FieldJobClass Field = "job_class"
	FieldTable    Field = "table"
	FieldColumn   Field = "column"
	FieldJobArgs  Field = "job_arguments"
)

// Operation names, as the agent API and audit trail spell them.
const (
	OpMigrateStatus = "migrate-status"
	OpBBMStatus     = "bbm-status"
	OpBBMList       = "bbm-list"
	OpServices      = "services"
	OpMigrate       = "migrate"
	OpFinalize      = "finalize"
	OpRestart       = "restart"
)

// Operation is one entry of the fixed catalogue. The catalogue is the whole
// of what the agent can run: there is no way to pass a program or a free
// argument through it.
type Operation struct {
	Name    string
	Kind    Kind
	Program Program
	Summary string
	// Fields are the arguments the operation accepts; any other non-empty
	// field is refused.
	Fields []Field
	// Required are the fields that must be given.
	Required []Field
	// Timeout is a sensible default for the agent. Booting Rails alone
	// takes 30-90 s on the Linux package.
	Timeout time.Duration
	// Parse names the output streams the operation's parser reads.
	Parse Streams
	// ExitReportsDown: the exit code counts what is down (gitlab-ctl
	// status exits non-zero whenever a service is down), so a non-zero
	// exit is an answer, not a failure worth showing next to it.
	ExitReportsDown bool
	build           func(Args) ([]string, error)
}

// Mutating reports whether the agent must run the operation alone.
func (op Operation) Mutating() bool { return op.Kind == Destructive }

// Command is a built, validated command line: the program and its
// arguments, each one argv element. It is never joined into a shell string
// for execution.
type Command struct {
	Program Program  `json:"program"`
	Args    []string `json:"args"`
}

// Argv is the command as argv, program first.
func (c Command) Argv() []string {
	return append([]string{string(c.Program)}, c.Args...)
}

// String renders the command for people, e.g. in an approval message. It is
// for display only.
func (c Command) String() string {
	return strings.Join(c.Argv(), " ")
}

var catalogue = []Operation{
	{
		Name: OpMigrateStatus, Kind: ReadOnly, Program: Rake,
		Summary: "list up and down schema migrations (gitlab-rake db:migrate:status)",
		Fields:  []Field{FieldDatabase}, Timeout: 5 * time.Minute,
		build: func(a Args) ([]string, error) { return []string{withDB("db:migrate:status", a.Database)}, nil },
	},
	{
		Name: OpBBMStatus, Kind: ReadOnly, Program: Rake,
		Summary: "list batched background migrations (gitlab-rake gitlab:background_migrations:status)",
		Fields:  []Field{FieldDatabase}, Timeout: 5 * time.Minute,
		build: func(a Args) ([]string, error) {
			return []string{withDB("gitlab:background_migrations:status", a.Database)}, nil
		},
	},
	{
		// The 18.x CLI's table (no column, no job arguments): what
		// upgrade-check reads where the status task does not exist.
		Name: OpBBMList, Kind: ReadOnly, Program: Rake,
		Summary: "list batched background migrations, 18.x table (gitlab-rake gitlab:background_migrations:list)",
		Timeout: 5 * time.Minute, Parse: StdoutOnly,
		build: func(Args) ([]string, error) { return []string{BBMListTask}, nil },
	},
	{
		Name: OpServices, Kind: ReadOnly, Program: Ctl,
		Summary: "show the state of GitLab's services (gitlab-ctl status)",
		Fields:  []Field{FieldService}, Timeout: time.Minute, Parse: StdoutOnly, ExitReportsDown: true,
		build: func(a Args) ([]string, error) { return withService("status", a.Service), nil },
	},
	{
		Name: OpMigrate, Kind: Destructive, Program: Rake,
		Summary: "run pending schema migrations (gitlab-rake db:migrate)",
		Timeout: 4 * time.Hour,
		build:   func(Args) ([]string, error) { return []string{"db:migrate"}, nil },
	},
	{
		Name: OpFinalize, Kind: Destructive, Program: Rake,
		Summary:  "finish a batched background migration (gitlab-rake gitlab:background_migrations:finalize[...])",
		Fields:   []Field{FieldDatabase, FieldJobClass, FieldTable, FieldColumn, FieldJobArgs},
		Required: []Field{FieldJobClass, FieldTable, FieldColumn, FieldJobArgs},
		Timeout:  12 * time.Hour,
		build:    buildFinalize,
	},
	{
		Name: OpRestart, Kind: Destructive, Program: Ctl,
		Summary: "restart GitLab's services, or one of them (gitlab-ctl restart [service])",
		Fields:  []Field{FieldService}, Timeout: 15 * time.Minute, Parse: StdoutOnly,
		build: func(a Args) ([]string, error) { return withService("restart", a.Service), nil },
	},
}

// Catalogue returns every operation, in a stable order.
func Catalogue() []Operation { return slices.Clone(catalogue) }

// CtlOperation finds the catalogue's gitlab-ctl operation whose action
// (gitlab-ctl's first argument) is action: status and restart; the other
// actions (stop, reconfigure, …) are not offered.
func CtlOperation(action string) (Operation, bool) {
	for _, op := range catalogue {
		if op.Program != Ctl {
			continue
		}
		if args, err := op.build(Args{}); err == nil && len(args) > 0 && args[0] == action {
			return op, true
		}
	}
	return Operation{}, false
}

// Lookup finds an operation by name.
func Lookup(name string) (Operation, error) {
	for _, op := range catalogue {
		if op.Name == name {
			return op, nil
		}
	}
	names := make([]string, len(catalogue))
	for i, op := range catalogue {
		names[i] = op.Name
	}
	sort.Strings(names)
	return Operation{}, fmt.Errorf("unknown operation %q: the catalogue has %s", name, strings.Join(names, ", "))
}

// Validate checks that a carries only the fields op accepts, that the
// required ones are present and that each is a plausible identifier.
func (op Operation) Validate(a Args) error {
	given := map[Field]string{
		FieldDatabase: a.Database, FieldService: a.Service, FieldJobClass: a.JobClass,
		FieldTable: a.Table, FieldColumn: a.Column, FieldJobArgs: a.JobArguments,
	}
	for _, f := range []Field{FieldDatabase, FieldService, FieldJobClass, FieldTable, FieldColumn, FieldJobArgs} {
		v := given[f]
		if v != "" && !slices.Contains(op.Fields, f) {
			return &ArgError{string(f), v, fmt.Sprintf("is not an argument of %s", op.Name)}
		}
	}
	for _, f := range op.Required {
		if given[f] == "" {
			return &ArgError{string(f), "", fmt.Sprintf("is required by %s", op.Name)}
		}
	}
	checks := []struct {
		v     string
		check func(string) error
	}{
		{a.Database, ValidateDatabase}, {a.Service, ValidateService},
		{a.JobClass, ValidateJobClass}, {a.Table, ValidateTable},
		{a.Column, ValidateColumn}, {a.JobArguments, ValidateJobArguments},
	}
	for _, c := range checks {
		if c.v == "" {
			continue
		}
		if err := c.check(c.v); err != nil {
			return err
		}
	}
	if op.Name == OpFinalize && a.Database == NoFinalizeDatabase {
		return &ArgError{"database", a.Database, "has no finalize task (GitLab defines finalize:<db> for every database except geo)"}
	}
	return nil
}

// Command validates a and builds the command line.
func (op Operation) Command(a Args) (Command, error) {
	if op.build == nil {
		return Command{}, fmt.Errorf("operation %q is not in the catalogue", op.Name)
	}
	if err := op.Validate(a); err != nil {
		return Command{}, fmt.Errorf("%s: %w", op.Name, err)
	}
	args, err := op.build(a)
	if err != nil {
		return Command{}, fmt.Errorf("%s: %w", op.Name, err)
	}
	return Command{Program: op.Program, Args: args}, nil
}

func withDB(task, db string) string {
	if db == "" {
		return task
	}
	return task + ":" + db
}

func withService(verb, svc string) []string {
	if svc == "" {
		return []string{verb}
	}
	return []string{verb, svc}
}

// buildFinalize builds the single argv element of
// gitlab:background_migrations:finalize[job,table,column,json] as
// gitlab-facts.md §2 describes: no shell quotes, backslashes then commas
// escaped. The first three are identifiers (validated to contain none of
// , [ ] \), so only the JSON needs escaping.
func buildFinalize(a Args) ([]string, error) {
	js, err := CompactJobArguments(a.JobArguments)
	if err != nil {
		return nil, err
	}
	task := withDB("gitlab:background_migrations:finalize", a.Database)
	return []string{task + "[" + a.JobClass + "," + a.Table + "," + a.Column + "," + EscapeRakeArg(js) + "]"}, nil
}
