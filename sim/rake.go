package sim

import (
	"errors"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Backtrace lines. Rake drops frames under Ruby's own directories, so on a
// Linux package install the GitLab and bundler-binstub frames remain. Line
// numbers are illustrative, as in the fixtures.
const (
	railsRoot = "/opt/gitlab/embedded/service/gitlab-rails/"
	bundleBT  = "/opt/gitlab/embedded/bin/bundle:25:in `load'\n/opt/gitlab/embedded/bin/bundle:25:in `<main>'"
	bbmDocURL = "https://docs.gitlab.com/ee/update/background_migrations.html#database-migrations-failing-because-of-batched-background-migration-not-finished"
	pgSocket  = "/var/opt/gitlab/postgresql/.s.PGSQL.5432"
)

// rubyErr is an exception as rake displays it.
type rubyErr struct {
	class string // empty for RuntimeError, which rake prints without its class
	msg   string
	bt    string // backtrace lines joined by "\n"
	cause *rubyErr
}

type rakeRun struct {
	*env
	st    store
	trace bool
	vars  map[string]string // NAME=value arguments
	// unprefixed: db:migrate prints no database prefix (State.Unprefixed).
	unprefixed bool
}

// getvar looks up an environment variable as the rake process sees it:
// NAME=value arguments first, then the real environment.
func (r *rakeRun) getvar(name string) string {
	if v, ok := r.vars[name]; ok {
		return v
	}
	return r.getenv(name)
}

var rakeEnvArg = regexp.MustCompile(`^(\w+)=(.*)$`)

func (r *rakeRun) run(args []string) int {
	r.vars = map[string]string{}
	var tasks []string
	for _, a := range args {
		switch {
		case a == "--trace" || a == "-t":
			r.trace = true
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(r.stderr, "gitlab-sim: the rake option %q is not simulated (only --trace is); gitlab-chatops never sends options\n", a)
			return 2
		case !strings.Contains(a, "\n") && rakeEnvArg.MatchString(a):
			m := rakeEnvArg.FindStringSubmatch(a)
			r.vars[m[1]] = m[2]
		default:
			tasks = append(tasks, a)
		}
	}
	if len(tasks) == 0 {
		tasks = []string{"default"}
	}
	// Booting Rails takes a while (30-90 s on a real Linux package install).
	r.sleep(800 * time.Millisecond)
	for _, t := range tasks {
		if code := r.invoke(t); code != 0 {
			return code
		}
	}
	return 0
}

// task is one rake task the simulator knows.
type task struct {
	name string
	db   string // database suffix, "" for the plain task
	run  func(r *rakeRun, t task, args []string) int
}

func knownTasks(s *State) []task {
	ts := []task{
		{name: "db:migrate", run: (*rakeRun).migrateTask},
		{name: "db:migrate:status", run: (*rakeRun).statusTask},
		{name: "gitlab:background_migrations:finalize", run: (*rakeRun).finalizeTask},
	}
	switch s.BBMTasks {
	case BBMTasksStatus:
		ts = append(ts, task{name: "gitlab:background_migrations:status", run: (*rakeRun).bbmStatusTask})
	case BBMTasksList:
		ts = append(ts, task{name: "gitlab:background_migrations:list", run: (*rakeRun).bbmListTask})
	}
	if s.decomposed() {
		for _, d := range s.Databases {
			ts = append(ts,
				task{name: "db:migrate:" + d.Name, db: d.Name, run: (*rakeRun).migrateTask},
				task{name: "db:migrate:status:" + d.Name, db: d.Name, run: (*rakeRun).statusTask})
			if d.Name == "geo" {
				continue
			}
			if s.BBMTasks == BBMTasksStatus {
				ts = append(ts, task{name: "gitlab:background_migrations:status:" + d.Name, db: d.Name, run: (*rakeRun).bbmStatusTask})
			}
			ts = append(ts, task{name: "gitlab:background_migrations:finalize:" + d.Name, db: d.Name, run: (*rakeRun).finalizeTask})
		}
	}
	return ts
}

// otherTaskNames are real tasks the simulator does not run; they only feed
// rake's "Did you mean?" suggestions.
var otherTaskNames = []string{
	"db:migrate:down", "db:migrate:redo", "db:migrate:reset", "db:migrate:up", "db:rollback", "db:version",
	"db:seed_fu", "gitlab:check", "gitlab:env:info", "gitlab:db:configure",
}

func (r *rakeRun) invoke(arg string) int {
	name, args := gitlab.ParseRakeTask(arg)
	var s *State
	if err := r.st.update(r.now(), func(st *State) (bool, error) { s = st; return false, nil }); err != nil {
		return r.simError(err)
	}
	tasks := knownTasks(s)
	for _, t := range tasks {
		if t.name == name {
			if !dbReachable(s) {
				return r.aborted(connectionError(), name)
			}
			return t.run(r, t, args)
		}
	}
	dict := append([]string(nil), otherTaskNames...)
	for _, t := range tasks {
		dict = append(dict, t.name)
	}
	msg := "Don't know how to build task '" + name + "' (See the list of available tasks with `rake --tasks`)" + didYouMeanMessage(didYouMean(dict, name))
	return r.aborted(&rubyErr{msg: msg, bt: bundleBT}, "")
}

// simError reports a problem of the simulator itself (no state file, …).
func (r *rakeRun) simError(err error) int {
	fmt.Fprintf(r.stderr, "gitlab-sim: %v\n", err)
	return 2
}

// aborted prints rake's error report (Rake::Application#display_error_message)
// on stderr and returns rake's exit code.
func (r *rakeRun) aborted(e *rubyErr, chain string) int {
	var b strings.Builder
	b.WriteString("rake aborted!\n")
	writeRubyErr(&b, e)
	if chain != "" {
		b.WriteString("Tasks: TOP => " + chain + "\n")
	}
	if !r.trace {
		b.WriteString("(See full trace by running task with --trace)\n")
	}
	io.WriteString(r.stderr, b.String())
	return 1
}

func traceLine(b *strings.Builder, s string) {
	b.WriteString(s)
	if !strings.HasSuffix(s, "\n") {
		b.WriteByte('\n')
	}
}

func writeRubyErr(b *strings.Builder, e *rubyErr) {
	if e.class == "" {
		traceLine(b, e.msg)
	} else {
		traceLine(b, e.class+": "+e.msg)
	}
	traceLine(b, e.bt)
	if e.cause != nil {
		traceLine(b, "\nCaused by:")
		writeRubyErr(b, e.cause)
	}
}

// dbReachable: PostgreSQL runs under runit as the postgresql service.
func dbReachable(s *State) bool {
	if s.RunsvdirDown {
		return false
	}
	pg := s.service("postgresql")
	return pg == nil || (!pg.Disabled && pg.Up)
}

func connectionError() *rubyErr {
	msg := "connection to server on socket \"" + pgSocket + "\" failed: No such file or directory\n\tIs the server running locally and accepting connections on that socket?\n"
	bt := railsRoot + "lib/gitlab/database/load_balancing/connection_proxy.rb:127:in `public_send'\n" + bundleBT
	return &rubyErr{class: "ActiveRecord::ConnectionNotEstablished", msg: msg, bt: bt,
		cause: &rubyErr{class: "PG::ConnectionBad", msg: msg, bt: bt}}
}

// ---------------------------------------------------------------------------
// db:migrate:status

// visibleMigrations are the migration files this rake process loads:
// without post-deployment ones when SKIP_POST_DEPLOYMENT_MIGRATIONS is set.
func (r *rakeRun) visibleMigrations(s *State) map[string]*Migration {
	skipPost := r.getvar("SKIP_POST_DEPLOYMENT_MIGRATIONS") != ""
	out := map[string]*Migration{}
	for _, m := range s.Migrations {
		if skipPost && m.PostDeploy {
			continue
		}
		out[m.Version] = m
	}
	return out
}

func (r *rakeRun) databases(s *State, only string) []*Database {
	if only == "" {
		return s.Databases
	}
	return []*Database{s.db(only)}
}

func (r *rakeRun) statusTask(t task, _ []string) int {
	var s *State
	if err := r.st.update(r.now(), func(st *State) (bool, error) { s = st; return false, nil }); err != nil {
		return r.simError(err)
	}
	files := r.visibleMigrations(s)
	var b strings.Builder
	for _, d := range r.databases(s, t.db) {
		seen := map[string]bool{}
		var vs []string
		for v := range files {
			seen[v] = true
			vs = append(vs, v)
		}
		for _, v := range d.Applied {
			if !seen[v] {
				seen[v] = true
				vs = append(vs, v)
			}
		}
		sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i], vs[j]) })
		fmt.Fprintf(&b, "\ndatabase: %s\n\n", d.PGName)
		if s.StatusLayout == LayoutGitLab {
			// GitLab's override of migrate_status: migration files only,
			// with type, milestone and class name.
			fmt.Fprintf(&b, "%s  %-14s  %-7s  %-11s  Name\n", rubyCenter("Status", 8), "Migration ID", "Type", "Milestone")
			b.WriteString(strings.Repeat("-", 50) + "\n")
			for _, v := range vs {
				m, ok := files[v]
				if !ok {
					continue
				}
				status := "down"
				if d.applied(v) {
					status = "up"
				}
				typ := "regular"
				if m.PostDeploy {
					typ = "post"
				}
				fmt.Fprintf(&b, "%s  %-14s  %-7s  %-11s  %s\n", rubyCenter(status, 8), v, typ, milestoneOf(m), camelize(m.Name))
			}
			b.WriteString("\n")
			continue
		}
		fmt.Fprintf(&b, "%s  %-14s  Migration Name\n", rubyCenter("Status", 8), "Migration ID")
		b.WriteString(strings.Repeat("-", 50) + "\n")
		for _, v := range vs {
			status := "down"
			if d.applied(v) {
				status = "up"
			}
			name := "********** NO FILE **********"
			if m, ok := files[v]; ok {
				name = humanize(m.Name)
			}
			fmt.Fprintf(&b, "%s  %-14s  %s\n", rubyCenter(status, 8), v, name)
		}
		b.WriteString("\n")
	}
	io.WriteString(r.stdout, b.String())
	return 0
}

// milestoneOf is a migration's milestone, or the GitLab release that was
// in development when its version (a timestamp) was written.
func milestoneOf(m *Migration) string {
	if m.Milestone != "" {
		return m.Milestone
	}
	cutoffs := []struct{ before, milestone string }{
		{"20250411", "17.11"}, {"20250509", "18.0"}, {"20250613", "18.1"}, {"20250711", "18.2"}, {"20250815", "18.3"},
	}
	for _, c := range cutoffs {
		if m.Version < c.before {
			return c.milestone
		}
	}
	return "18.4"
}

// ---------------------------------------------------------------------------
// gitlab:background_migrations:status

func (r *rakeRun) bbmStatusTask(t task, _ []string) int {
	var s *State
	if err := r.st.update(r.now(), func(st *State) (bool, error) { s = st; return false, nil }); err != nil {
		return r.simError(err)
	}
	var b strings.Builder
	for _, d := range r.databases(s, t.db) {
		fmt.Fprintf(&b, "Database: %s\n", d.Name)
		bbms := append([]*BBM(nil), d.BBMs...)
		sort.SliceStable(bbms, func(i, j int) bool { return bbms[i].ID < bbms[j].ID })
		for _, m := range bbms {
			fmt.Fprintf(&b, "%-10s | %s,%s,%s,%s\n", m.Status, m.JobClass, m.Table, m.Column, jobArgsToJSON(m.JobArguments))
		}
	}
	io.WriteString(r.stdout, b.String())
	return 0
}

// bbmListTask prints the 18.x CLI's table
// (Gitlab::Database::BackgroundMigration::RakeTask#print_table, as in
// bbm-list.txt): an empty line, the header, dashes joined by "-|-", one
// row per batched migration of every database except geo (ids
// "<database>_<id>"), every cell left-justified to its column's width,
// cells joined by " | ", an empty line.
func (r *rakeRun) bbmListTask(task, []string) int {
	var s *State
	if err := r.st.update(r.now(), func(st *State) (bool, error) { s = st; return false, nil }); err != nil {
		return r.simError(err)
	}
	rows := [][]string{{"id", "table_name", "job_class_name", "status"}}
	for _, d := range s.Databases {
		if d.Name == "geo" {
			continue
		}
		bbms := append([]*BBM(nil), d.BBMs...)
		sort.SliceStable(bbms, func(i, j int) bool { return bbms[i].ID < bbms[j].ID })
		for _, m := range bbms {
			rows = append(rows, []string{fmt.Sprintf("%s_%d", d.Name, m.ID), m.Table, m.JobClass, m.Status})
		}
	}
	width := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			width[i] = max(width[i], len(c))
		}
	}
	line := func(cells []string, pad, sep string) string {
		out := make([]string, len(cells))
		for i, c := range cells {
			out[i] = c + strings.Repeat(pad, width[i]-len(c))
		}
		return strings.Join(out, sep) + "\n"
	}
	var b strings.Builder
	b.WriteString("\n")
	b.WriteString(line(rows[0], " ", " | "))
	b.WriteString(line(make([]string, len(width)), "-", "-|-"))
	for _, row := range rows[1:] {
		b.WriteString(line(row, " ", " | "))
	}
	b.WriteString("\n")
	io.WriteString(r.stdout, b.String())
	return 0
}

// jobArgsToJSON prints stored job_arguments as GitLab's
// job_arguments.to_json does (compact, ActiveSupport escaping).
func jobArgsToJSON(s string) string {
	v, err := decodeOrdered(s)
	if err != nil {
		return s
	}
	return rubyToJSON(v)
}

// ---------------------------------------------------------------------------
// gitlab:background_migrations:finalize[job_class_name,table_name,column_name,job_arguments]

var finalizeArgNames = []string{"job_class_name", "table_name", "column_name", "job_arguments"}

func (r *rakeRun) finalizeTask(t task, args []string) int {
	var decomposed bool
	if err := r.st.update(r.now(), func(st *State) (bool, error) { decomposed = st.decomposed(); return false, nil }); err != nil {
		return r.simError(err)
	}
	if t.db == "" && decomposed {
		io.WriteString(r.stdout, "Please specify the database\n")
		return 1
	}
	for i, n := range finalizeArgNames {
		// Rake's TaskArguments leaves out empty values: "[A,b,c,]" has no
		// job_arguments.
		if i >= len(args) || args[i] == "" {
			fmt.Fprintf(r.stdout, "Must specify %s as an argument\n", n)
			return 1
		}
	}
	if msg := ojParseError(args[3]); msg != "" {
		// Oj raises EncodingError; Gitlab::Json re-raises it as
		// JSON::ParserError, so rake shows both.
		rest := railsRoot + "lib/gitlab/json.rb:35:in `parse'\n" +
			railsRoot + "lib/tasks/gitlab/background_migrations.rake:66:in `finalize_migration'\n" +
			railsRoot + "lib/tasks/gitlab/background_migrations.rake:21:in `block (3 levels) in <top (required)>'\n" + bundleBT
		return r.aborted(&rubyErr{class: "JSON::ParserError", msg: msg,
			bt: railsRoot + "lib/gitlab/json.rb:173:in `rescue in adapter_load'\n" + railsRoot + "lib/gitlab/json.rb:170:in `adapter_load'\n" + rest,
			cause: &rubyErr{class: "EncodingError", msg: msg,
				bt: railsRoot + "lib/gitlab/json.rb:171:in `load'\n" + railsRoot + "lib/gitlab/json.rb:171:in `adapter_load'\n" + rest}}, t.name)
	}
	dbName := t.db
	if dbName == "" {
		dbName = "main"
	}
	key := BBMKey{JobClass: args[0], Table: args[1], Column: args[2], JobArguments: args[3]}

	// Find the migration and mark it finalizing, as the runner does.
	var found, failing bool
	err := r.st.update(r.now(), func(s *State) (bool, error) {
		d := s.db(dbName)
		if d == nil {
			return false, fmt.Errorf("database %s is missing from the state", dbName)
		}
		b := d.findBBM(key)
		if b == nil || b.Done() {
			return false, nil // GitLab only logs a warning to application.log
		}
		found, failing = true, b.Stuck && b.Status == "failed"
		b.Status = "finalizing"
		return true, nil
	})
	if err != nil {
		return r.simError(err)
	}
	if !found {
		r.sleep(300 * time.Millisecond)
		io.WriteString(r.stdout, "Done.\n")
		return 0
	}
	// Running the remaining batches synchronously takes a while.
	r.sleep(2 * time.Second)
	err = r.st.update(r.now(), func(s *State) (bool, error) {
		if b := s.db(dbName).findBBM(key); b != nil {
			if failing {
				b.Status = "failed"
			} else {
				b.Status, b.Stuck, b.FinishAt = "finished", false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		return r.simError(err)
	}
	if failing {
		msg := "Batched migration " + args[0] + " could not be completed and a manual action is required.Check the admin panel at (`/admin/background_migrations`) for more details."
		bt := railsRoot + "lib/gitlab/database/background_migration/batched_migration_runner.rb:79:in `finalize'\n" +
			railsRoot + "lib/gitlab/database/background_migration/batched_migration_runner.rb:9:in `finalize'\n" +
			railsRoot + "lib/tasks/gitlab/background_migrations.rake:71:in `finalize_migration'\n" +
			railsRoot + "lib/tasks/gitlab/background_migrations.rake:21:in `block (3 levels) in <top (required)>'\n" + bundleBT
		return r.aborted(&rubyErr{class: "Gitlab::Database::BackgroundMigration::BatchedMigrationRunner::FailedToFinalize", msg: msg, bt: bt}, t.name)
	}
	io.WriteString(r.stdout, "Done.\n")
	return 0
}

// ---------------------------------------------------------------------------
// db:migrate

type migrateStep struct {
	db      string
	version string
	// skip: a data migration restricted to another database's schema.
	skip bool
}

// migrateFailure is why a migration stopped the run: the exception rake
// reports, or a problem of the simulator itself.
type migrateFailure struct {
	err *rubyErr
	sim error
}

func (r *rakeRun) failed(f *migrateFailure, chain string) int {
	if f.sim != nil {
		return r.simError(f.sim)
	}
	return r.aborted(f.err, chain)
}

func (r *rakeRun) migrateTask(t task, _ []string) int {
	// The PostgreSQL advisory lock that keeps two migration runs apart.
	lk, lockErr := flock(r.st.migrateLockPath(), true)
	if lockErr != nil && !errors.Is(lockErr, errLocked) {
		return r.simError(lockErr)
	}
	defer unlock(lk)

	var (
		steps  []migrateStep
		multi  bool
		locks  = map[string]string{}
		files  map[string]*Migration
		dbSeen []string
	)
	err := r.st.update(r.now(), func(s *State) (bool, error) {
		files = r.visibleMigrations(s)
		var vs []string
		for v := range files {
			vs = append(vs, v)
		}
		sort.Slice(vs, func(i, j int) bool { return versionLess(vs[i], vs[j]) })
		dbs := r.databases(s, t.db)
		// Rails >= 7.0 with several databases: each pending version on every
		// database that needs it, in database.yml order, one Migrator run
		// (and advisory lock) each. One database: one run for everything.
		multi = t.db == "" && s.decomposed() && !s.Unprefixed
		r.unprefixed = s.Unprefixed
		step := func(d *Database, v string) migrateStep {
			m := files[v]
			return migrateStep{d.Name, v, s.decomposed() && m.Schema != "" && m.Schema != schemaOf(d.Name)}
		}
		if multi {
			for _, v := range vs {
				for _, d := range dbs {
					if !d.applied(v) {
						steps = append(steps, step(d, v))
					}
				}
			}
		} else {
			for _, d := range dbs {
				for _, v := range vs {
					if !d.applied(v) {
						steps = append(steps, step(d, v))
					}
				}
			}
		}
		for _, d := range dbs {
			if !s.Unprefixed { // plain Rails prints no advisory-lock lines
				locks[d.Name] = fmt.Sprintf("%s: == [advisory_lock_connection] object_id: %d, pg_backend_pid: %d\n", d.Name, d.LockObjectID, d.LockBackendPID)
			}
			dbSeen = append(dbSeen, d.Name)
		}
		s.bumpLocks()
		return true, nil
	})
	if err != nil {
		return r.simError(err)
	}
	if multi && len(steps) == 0 {
		return 0 // no database has anything pending: no Migrator runs at all
	}
	if errors.Is(lockErr, errLocked) {
		first := dbSeen[0]
		if len(steps) > 0 {
			first = steps[0].db
		}
		io.WriteString(r.stdout, locks[first]+locks[first])
		return r.aborted(&rubyErr{class: "ActiveRecord::ConcurrentMigrationError",
			msg: "\n\nCannot run migrations because another migration process is currently running.\n\n",
			bt:  railsRoot + "lib/gitlab/database/migrations/pg_backend_pid.rb:14:in `with_advisory_lock'\n" + bundleBT}, t.name)
	}
	chain := t.name
	if !multi {
		io.WriteString(r.stdout, locks[dbSeen[0]])
		for _, st := range steps {
			if f := r.migrateOne(st, files[st.version]); f != nil {
				io.WriteString(r.stdout, locks[dbSeen[0]])
				return r.failed(f, chain)
			}
		}
		io.WriteString(r.stdout, locks[dbSeen[0]])
		return 0
	}
	for _, st := range steps {
		io.WriteString(r.stdout, locks[st.db])
		f := r.migrateOne(st, files[st.version])
		io.WriteString(r.stdout, locks[st.db])
		if f != nil {
			return r.failed(f, chain)
		}
	}
	return 0
}

// schemaOf is the gitlab_schema a database serves on a decomposed install.
func schemaOf(db string) string { return "gitlab_" + db }

var allowedSchemas = map[string]string{
	"main": "[:gitlab_main, :gitlab_main_cell, :gitlab_main_clusterwide, :gitlab_internal, :gitlab_shared]",
	"ci":   "[:gitlab_ci, :gitlab_internal, :gitlab_shared]",
}

// migrateOne runs one migration on one database, printing as Rails and
// GitLab do, and records it in the state as soon as it is done.
func (r *rakeRun) migrateOne(st migrateStep, m *Migration) *migrateFailure {
	p := st.db + ": "
	if r.unprefixed {
		p = ""
	}
	class := camelize(m.Name)
	w := func(s string) { io.WriteString(r.stdout, s) }
	total := plannedDuration(m.Version)

	w(p + announce(m.Version, class, "migrating") + "\n")
	if st.skip {
		w(p + "-- The migration is skipped since it modifies the schemas: [:" + m.Schema + "].\n")
		allowed := allowedSchemas[st.db]
		if allowed == "" {
			allowed = "[:" + schemaOf(st.db) + ", :gitlab_internal, :gitlab_shared]"
		}
		w(p + "-- This database can only apply migrations in one of the following schemas: " + allowed + ".\n")
		r.sleep(total / 4)
		if err := r.st.update(r.now(), func(s *State) (bool, error) { s.db(st.db).markApplied(m.Version); return true, nil }); err != nil {
			return &migrateFailure{sim: err}
		}
		w(p + announce(m.Version, class, "migrated ("+secs(m.SkipSecs)+"s)") + "\n\n")
		return nil
	}
	n := len(m.Statements) + 1
	for _, stmt := range m.Statements {
		w(p + "-- " + stmt.Call + "\n")
		r.sleep(total / time.Duration(n))
		w(p + "   -> " + secs(stmt.Secs) + "s\n")
	}
	r.sleep(total / time.Duration(n))

	if m.Ensure != nil {
		status, inline, err := r.ensureCheck(st.db, m.Ensure)
		if err != nil {
			return &migrateFailure{sim: err}
		}
		if inline {
			// finalize: true runs the remaining batches inline first.
			r.sleep(3 * time.Second)
			if err := r.st.update(r.now(), func(s *State) (bool, error) {
				if b := s.db(st.db).findBBM(m.Ensure.BBMKey); b != nil && !b.Done() {
					b.Status, b.FinishAt = "finished", nil
				}
				return true, nil
			}); err != nil {
				return &migrateFailure{sim: err}
			}
		} else if status != "" {
			return &migrateFailure{err: ensureError(m, status)}
		}
	}
	err := r.st.update(r.now(), func(s *State) (bool, error) {
		d := s.db(st.db)
		if q := m.Queues; q != nil && d.findBBM(*q) == nil {
			id := 1
			for _, b := range d.BBMs {
				id = max(id, b.ID+1)
			}
			// The background worker finishes it after a while.
			at := r.now().UTC().Add(time.Duration(float64(30*time.Second) * r.speed))
			d.BBMs = append(d.BBMs, &BBM{ID: id, BBMKey: *q, Status: "active", FinishAt: &at})
		}
		d.markApplied(m.Version)
		return true, nil
	})
	if err != nil {
		return &migrateFailure{sim: err}
	}
	w(p + announce(m.Version, class, "migrated ("+secs(m.Secs)+"s)") + "\n\n")
	return nil
}

// ensureCheck looks at the batched background migration an
// ensure_batched_background_migration_is_finished call names. It returns
// the blocking status ("" when not blocking) and whether the helper
// finalizes it inline instead.
func (r *rakeRun) ensureCheck(db string, e *Ensure) (status string, inline bool, err error) {
	err = r.st.update(r.now(), func(s *State) (bool, error) {
		b := s.db(db).findBBM(e.BBMKey)
		if b == nil || b.Done() {
			return false, nil // not found: GitLab logs a warning and goes on
		}
		if e.InlineFinalize && !b.Stuck {
			inline = true
			return false, nil
		}
		status = b.Status
		return false, nil
	})
	return status, inline, err
}

// ensureError is the exception ensure_batched_background_migration_is_finished
// raises, wrapped by Rails' "all later migrations canceled" StandardError
// (GitLab's helper migrations run without a DDL transaction).
func ensureError(m *Migration, status string) *rubyErr {
	k := m.Ensure.BBMKey
	v, err := decodeOrdered(k.JobArguments)
	if err != nil {
		v = k.JobArguments
	}
	config := "{:job_class_name=>" + rubyStringInspect(k.JobClass) + ", :table_name=>" + rubyStringInspect(k.Table) +
		", :column_name=>" + rubyStringInspect(k.Column) + ", :job_arguments=>" + rubyInspect(v) + "}"
	cmd := "sudo gitlab-rake gitlab:background_migrations:finalize[" + k.JobClass + "," + k.Table + "," + k.Column + ",'" +
		strings.ReplaceAll(jobArgsToJSON(k.JobArguments), ",", `\,`) + "']"
	msg := "Expected batched background migration for the given configuration to be marked as 'finished', but it is '" + status + "':\t" + config +
		"\n\nFinalize it manually by running the following command in a `bash` or `sh` shell:\n\n\t" + cmd +
		"\n\nFor more information, check the documentation\n\n\t" + bbmDocURL
	dir := "db/migrate/"
	if m.PostDeploy {
		dir = "db/post_migrate/"
	}
	bt := railsRoot + "lib/gitlab/database/migrations/batched_background_migration_helpers.rb:285:in `ensure_batched_background_migration_is_finished'\n" +
		railsRoot + dir + m.Version + "_" + m.Name + ".rb:14:in `up'\n" +
		railsRoot + "lib/gitlab/database/migrations/lock_retry_mixin.rb:36:in `ddl_transaction'\n" +
		railsRoot + "lib/gitlab/database/migrations/runner_backoff/active_record_mixin.rb:17:in `execute_migration_in_transaction'\n" +
		railsRoot + "lib/gitlab/database/migrations/pg_backend_pid.rb:14:in `with_advisory_lock'\n" + bundleBT
	return &rubyErr{class: "StandardError", msg: "An error has occurred, all later migrations canceled:\n\n" + msg, bt: bt,
		cause: &rubyErr{msg: msg, bt: bt}}
}

// plannedDuration is how long a migration pretends to take at speed 1:
// 0.2 to 1.5 s, stable per version.
func plannedDuration(version string) time.Duration {
	h := uint32(2166136261)
	for i := 0; i < len(version); i++ {
		h ^= uint32(version[i])
		h *= 16777619
	}
	return 200*time.Millisecond + time.Duration(h%1300)*time.Millisecond
}
