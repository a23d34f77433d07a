package sim

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"syscall"
	"time"
)

// stateFormat is the version of the state file layout.
const stateFormat = 1

// State is everything the simulated GitLab host remembers between
// invocations. It is stored as indented JSON so that a person can read it
// and, for a custom test, edit it.
type State struct {
	Format   int       `json:"format"`
	Scenario string    `json:"scenario"`
	Created  time.Time `json:"created"`
	// Seq counts invocations that changed something; it makes generated
	// numbers (pids, lock ids) differ from run to run, deterministically.
	Seq int `json:"seq"`
	// Databases in database.yml order: main, then ci when decomposed.
	Databases []*Database `json:"databases"`
	// Migrations are the migration files of this GitLab build, by version.
	Migrations []*Migration `json:"migrations"`
	// Services are the runit services under /opt/gitlab/sv.
	Services []*Service `json:"services"`
	// RunsvdirDown simulates a stopped gitlab-runsvdir supervisor.
	RunsvdirDown bool `json:"runsvdir_down,omitempty"`
	NextPID      int  `json:"next_pid"`
	// StatusLayout is how db:migrate:status prints: "rails" (stock Rails:
	// humanized file names, NO FILE rows; the layout of the shared fixtures)
	// or "gitlab" (GitLab's own override in newer releases: Type and
	// Milestone columns, class names, migration files only).
	StatusLayout string `json:"status_layout,omitempty"`
	// Unprefixed simulates GitLab before the "main: "/"ci: " line prefixes
	// (and plain Rails 6.1): db:migrate output names no database, prints no
	// advisory-lock lines, and with several databases migrates each in
	// turn (all of main, then all of ci), as
	// migrate-fail-batched-bbm-decomposed-unprefixed.txt shows.
	Unprefixed bool `json:"unprefixed,omitempty"`
	// BBMTasks is which rake tasks list batched background migrations:
	// "" (BBMTasksStatus) gitlab:background_migrations:status, as GitLab
	// 14.5 and later; BBMTasksList only the 18.x CLI's
	// gitlab:background_migrations:list (a GitLab without :status);
	// BBMTasksNone neither (GitLab before 14.5).
	BBMTasks string `json:"bbm_tasks,omitempty"`
}

// Which tasks list batched background migrations (State.BBMTasks).
const (
	BBMTasksStatus = ""
	BBMTasksList   = "list"
	BBMTasksNone   = "none"
)

// Status layouts.
const (
	LayoutRails  = "rails"
	LayoutGitLab = "gitlab"
)

// Database is one database GitLab runs database tasks on.
type Database struct {
	// Name is the database.yml configuration name: main, ci.
	Name string `json:"name"`
	// PGName is the PostgreSQL database name printed by db:migrate:status.
	PGName string `json:"pg_name"`
	// Applied are the versions in schema_migrations, sorted. Versions with
	// no migration file print as NO FILE.
	Applied []string `json:"applied"`
	// BBMs are the rows of batched_background_migrations, by id.
	BBMs []*BBM `json:"batched_background_migrations"`
	// The advisory-lock connection the next migrate run reports.
	LockObjectID   int `json:"lock_object_id"`
	LockBackendPID int `json:"lock_backend_pid"`
}

// Migration is one migration file.
type Migration struct {
	Version string `json:"version"`
	// Name is the file name without version and extension
	// (add_index_on_ci_runner_machines_organization_id); status prints it
	// humanized, migrate prints it camelized.
	Name       string `json:"name"`
	PostDeploy bool   `json:"post_deploy,omitempty"`
	// Milestone is the GitLab release the migration was written for
	// (shown by the "gitlab" status layout); derived from the version when
	// empty.
	Milestone string `json:"milestone,omitempty"`
	// Schema restricts a data migration to one gitlab_schema
	// (gitlab_main or gitlab_ci); on a decomposed install the other
	// database skips it. Empty for schema (DDL) migrations, which run on
	// every database.
	Schema     string      `json:"schema,omitempty"`
	Statements []Statement `json:"statements,omitempty"`
	// Secs is the time printed on the "migrated" line; SkipSecs when the
	// migration is skipped on a database.
	Secs     float64 `json:"secs"`
	SkipSecs float64 `json:"skip_secs,omitempty"`
	// Ensure makes the migration call
	// ensure_batched_background_migration_is_finished.
	Ensure *Ensure `json:"ensure,omitempty"`
	// Queues makes the migration queue a batched background migration.
	Queues *BBMKey `json:"queues,omitempty"`
}

// Statement is one "-- call" line with its "   -> N.NNNNs" timing.
type Statement struct {
	Call string  `json:"call"`
	Secs float64 `json:"secs"`
}

// Ensure is a call of ensure_batched_background_migration_is_finished.
type Ensure struct {
	BBMKey
	// InlineFinalize: the helper runs an unfinished migration to completion
	// itself (finalize: true, GitLab's default) instead of failing. The
	// failure scenarios turn it off so the classic error appears.
	InlineFinalize bool `json:"inline_finalize,omitempty"`
}

// BBMKey identifies a batched background migration.
type BBMKey struct {
	JobClass string `json:"job_class_name"`
	Table    string `json:"table_name"`
	Column   string `json:"column_name"`
	// JobArguments is compact JSON, as job_arguments.to_json prints it.
	JobArguments string `json:"job_arguments"`
}

// BBM is one row of batched_background_migrations.
type BBM struct {
	ID int `json:"id"`
	BBMKey
	// Status is one of paused, active, finished, failed, finalizing,
	// finalized.
	Status string `json:"status"`
	// Stuck: the background worker makes no progress on it, so it stays
	// unfinished until finalized by hand (and an ensure_... helper with
	// inline finalization cannot finish it either). A stuck migration in
	// status "failed" cannot be finalized at all: finalize raises
	// FailedToFinalize.
	Stuck bool `json:"stuck,omitempty"`
	// FinishAt: when an active, not stuck migration completes on its own.
	FinishAt *time.Time `json:"finish_at,omitempty"`
}

// Done reports whether the migration no longer blocks an upgrade.
func (b *BBM) Done() bool { return b.Status == "finished" || b.Status == "finalized" }

// Service is one runit service.
type Service struct {
	Name string `json:"name"`
	// Disabled services are not linked into /opt/gitlab/service:
	// gitlab-ctl skips them silently.
	Disabled bool `json:"disabled,omitempty"`
	Up       bool `json:"up"`
	// WantUp on a down service: runit keeps trying to start it (a crash
	// loop).
	WantUp bool      `json:"want_up,omitempty"`
	PID    int       `json:"pid,omitempty"`
	Since  time.Time `json:"since"`
	LogPID int       `json:"log_pid"`
	// LogSince: when the service's log process started.
	LogSince time.Time `json:"log_since"`
	// StartSecs: the uptime sv reports right after starting it.
	StartSecs int `json:"start_secs,omitempty"`
}

// db returns the database with the configuration name, or nil.
func (s *State) db(name string) *Database {
	for _, d := range s.Databases {
		if d.Name == name {
			return d
		}
	}
	return nil
}

func (s *State) decomposed() bool { return len(s.Databases) > 1 }

func (s *State) service(name string) *Service {
	for _, svc := range s.Services {
		if svc.Name == name {
			return svc
		}
	}
	return nil
}

func (d *Database) applied(version string) bool {
	i := sort.SearchStrings(d.Applied, version)
	return i < len(d.Applied) && d.Applied[i] == version
}

func (d *Database) markApplied(version string) {
	if d.applied(version) {
		return
	}
	d.Applied = append(d.Applied, version)
	sort.Strings(d.Applied)
}

// findBBM finds a batched background migration the way
// BatchedMigration.for_configuration does: equal class, table and column,
// and job_arguments equal as jsonb.
func (d *Database) findBBM(k BBMKey) *BBM {
	for _, b := range d.BBMs {
		if b.JobClass == k.JobClass && b.Table == k.Table && b.Column == k.Column && jsonEqual(b.JobArguments, k.JobArguments) {
			return b
		}
	}
	return nil
}

// tick lets simulated time pass: background migrations that are due
// complete.
func (s *State) tick(now time.Time) bool {
	changed := false
	for _, d := range s.Databases {
		for _, b := range d.BBMs {
			if b.Status == "active" && !b.Stuck && b.FinishAt != nil && !now.Before(*b.FinishAt) {
				b.Status = "finished"
				b.FinishAt = nil
				changed = true
			}
		}
	}
	return changed
}

// newPID hands out the next process id, in irregular steps like a busy
// host's.
func (s *State) newPID() int {
	s.Seq++
	s.NextPID += 9 + (s.Seq*37)%53
	return s.NextPID
}

// bumpLocks gives each database a new advisory-lock connection, as a new
// rake process would have.
func (s *State) bumpLocks() {
	s.Seq++
	for i, d := range s.Databases {
		d.LockObjectID += 220 + (s.Seq*131+i*17)%900
		d.LockBackendPID += 150 + (s.Seq*977+i*29)%1700
	}
}

func (s *State) validate() error {
	if s.Format != stateFormat {
		return fmt.Errorf("state format %d is not supported (want %d)", s.Format, stateFormat)
	}
	if s.StatusLayout != "" && s.StatusLayout != LayoutRails && s.StatusLayout != LayoutGitLab {
		return fmt.Errorf("status_layout %q is neither %q nor %q", s.StatusLayout, LayoutRails, LayoutGitLab)
	}
	if len(s.Databases) == 0 {
		return errors.New("state has no databases")
	}
	for _, d := range s.Databases {
		if d == nil || d.Name == "" {
			return errors.New("state has a database without a name")
		}
		if !slices.IsSorted(d.Applied) {
			sort.Strings(d.Applied)
		}
		for _, b := range d.BBMs {
			if b == nil {
				return fmt.Errorf("database %s has an empty batched background migration", d.Name)
			}
		}
	}
	for _, m := range s.Migrations {
		if m == nil || m.Version == "" {
			return errors.New("state has a migration without a version")
		}
	}
	sort.SliceStable(s.Migrations, func(i, j int) bool { return versionLess(s.Migrations[i].Version, s.Migrations[j].Version) })
	for _, svc := range s.Services {
		if svc == nil || svc.Name == "" {
			return errors.New("state has a service without a name")
		}
	}
	sort.SliceStable(s.Services, func(i, j int) bool { return s.Services[i].Name < s.Services[j].Name })
	return nil
}

// versionLess orders migration versions numerically (Rails 7.1+), which
// for the usual 14-digit versions equals string order.
func versionLess(a, b string) bool {
	if len(a) != len(b) {
		return len(a) < len(b)
	}
	return a < b
}

// ---------------------------------------------------------------------------
// Storage: one JSON file, written atomically, guarded by a lock file.

// store is the state file and its lock.
type store struct {
	path string
}

func (st store) lockPath() string { return st.path + ".lock" }

// migrateLockPath is the simulated PostgreSQL advisory lock that one
// migration run holds.
func (st store) migrateLockPath() string { return st.path + ".migrate.lock" }

// flock opens path and locks it. With nonBlocking it fails at once with
// errLocked when another process holds it.
func flock(path string, nonBlocking bool) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_EX
	if nonBlocking {
		how |= syscall.LOCK_NB
	}
	for {
		err = syscall.Flock(int(f.Fd()), how)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, errLocked
		}
		return nil, fmt.Errorf("locking %s: %w", path, err)
	}
	return f, nil
}

var errLocked = errors.New("locked by another process")

func unlock(f *os.File) {
	if f == nil {
		return
	}
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	_ = f.Close()
}

// errNoState says the state file does not exist yet.
type errNoState struct{ path string }

func (e errNoState) Error() string {
	return fmt.Sprintf("state file %s does not exist: create it first with `gitlab-sim --state %s init --scenario default` (scenarios: %s)",
		e.path, e.path, scenarioNames())
}

// update locks the state, loads it, lets fn change it and saves it when fn
// reports a change. fn runs while the lock is held: keep it short (no
// sleeping, no waiting).
func (st store) update(now time.Time, fn func(*State) (changed bool, err error)) error {
	lk, err := flock(st.lockPath(), false)
	if err != nil {
		return err
	}
	defer unlock(lk)
	s, err := st.load()
	if err != nil {
		return err
	}
	ticked := s.tick(now)
	changed, err := fn(s)
	if ticked || changed {
		if serr := st.save(s); serr != nil && err == nil {
			err = serr
		}
	}
	return err
}

func (st store) load() (*State, error) {
	data, err := os.ReadFile(st.path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, errNoState{st.path}
	}
	if err != nil {
		return nil, fmt.Errorf("reading state file: %w", err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("state file %s is not valid JSON (%v): re-create it with `gitlab-sim --state %s init`", st.path, err, st.path)
	}
	if err := s.validate(); err != nil {
		return nil, fmt.Errorf("state file %s: %v: re-create it with `gitlab-sim --state %s init`", st.path, err, st.path)
	}
	return &s, nil
}

// save writes the state atomically: a temporary file in the same
// directory, synced, then renamed over the old one.
func (st store) save(s *State) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding state: %w", err)
	}
	data = append(data, '\n')
	dir := filepath.Dir(st.path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(st.path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing state: %w", err)
	}
	name := tmp.Name()
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Chmod(name, 0o644)
	}
	if werr == nil {
		werr = os.Rename(name, st.path)
	}
	if werr != nil {
		_ = os.Remove(name)
		return fmt.Errorf("writing state file %s: %w", st.path, werr)
	}
	return nil
}

// replace writes a fresh state under the lock.
func (st store) replace(s *State) error {
	if dir := filepath.Dir(st.path); dir != "" {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return fmt.Errorf("cannot create state file %s: directory %s does not exist", st.path, dir)
		}
	}
	lk, err := flock(st.lockPath(), false)
	if err != nil {
		return err
	}
	defer unlock(lk)
	return st.save(s)
}
