package gitlab

import "strings"

// Upgrade readiness: what, by GitLab's rules, must hold before the next
// upgrade (docs.gitlab.com/update/, doc/update/background_migrations.md;
// shared/docs/gitlab-facts.md §2 and §5):
//   - every schema migration is up on every database: down ones are run
//     with db:migrate first;
//   - every batched background migration is finished or finalized: paused,
//     active, failed and finalizing all block;
//   - every enabled service runs: a stopped or crash-looping service, or a
//     stopped runit supervisor, is a broken install to fix before changing
//     it.
//
// This file only says which facts block; how the bot words them and which
// of its subcommands fixes each is the caller's.

// BlockerKind says which rule an UpgradeBlocker breaks.
type BlockerKind string

const (
	// BlockerMigrationsDown: schema migrations are down on a database.
	BlockerMigrationsDown BlockerKind = "migrations-down"
	// BlockerBBMUnfinished: a batched background migration is neither
	// finished nor finalized.
	BlockerBBMUnfinished BlockerKind = "bbm-unfinished"
	// BlockerServiceDown: an enabled service is not running.
	BlockerServiceDown BlockerKind = "service-down"
	// BlockerSupervisorDown: the runit supervisor (gitlab-runsvdir) is not
	// running, so no service is supervised; restarting one cannot help.
	BlockerSupervisorDown BlockerKind = "supervisor-down"
)

// UpgradeBlocker is one fact that blocks an upgrade. Which fields are set
// depends on Kind.
type UpgradeBlocker struct {
	Kind BlockerKind `json:"kind"`
	// Database is the configuration name (main, ci) of a migrations or
	// batched-migration blocker; "" when GitLab printed none (one database,
	// GitLab 14.x).
	Database string `json:"database,omitempty"`
	// Down are the down rows (BlockerMigrationsDown).
	Down []MigrationRow `json:"down,omitempty"`
	// BBM is an unfinished batched migration as the status task printed it,
	// with every finalize argument (BlockerBBMUnfinished).
	BBM *BBMRow `json:"bbm,omitempty"`
	// Decomposed: BBM is on an install with several databases, whose
	// finalize task must name the database (finalize:main, finalize:ci).
	Decomposed bool `json:"decomposed,omitempty"`
	// Listed is an unfinished batched migration as the :list task printed
	// it (BlockerBBMUnfinished, GitLab 18.x CLI): it has no column and no
	// job arguments, so no finalize line can be built from it; ListedShow
	// is the task that prints them.
	Listed *BBMListRow `json:"listed,omitempty"`
	// Services are the services not running: one for BlockerServiceDown,
	// every one for BlockerSupervisorDown.
	Services []Service `json:"services,omitempty"`
}

// MigrationBlockers returns one blocker per database with down
// migrations, in output order.
func MigrationBlockers(s MigrateStatus) []UpgradeBlocker {
	var bs []UpgradeBlocker
	for _, d := range s.Databases {
		if down := d.DownRows(); len(down) > 0 {
			bs = append(bs, UpgradeBlocker{Kind: BlockerMigrationsDown, Database: d.Config, Down: down})
		}
	}
	return bs
}

// BBMBlockers returns one blocker per batched migration the status task
// listed that is not done, in output order.
func BBMBlockers(s BBMStatus) []UpgradeBlocker {
	var bs []UpgradeBlocker
	decomposed := len(s.Databases) > 1
	for _, p := range s.Pending() {
		row := p.BBMRow
		bs = append(bs, UpgradeBlocker{Kind: BlockerBBMUnfinished, Database: p.Database, BBM: &row, Decomposed: decomposed})
	}
	return bs
}

// BBMListBlockers returns one blocker per batched migration the :list task
// listed that is not done, in output order.
func BBMListBlockers(l BBMList) []UpgradeBlocker {
	var bs []UpgradeBlocker
	for _, r := range l.Pending() {
		row := r
		bs = append(bs, UpgradeBlocker{Kind: BlockerBBMUnfinished, Database: r.Database, Listed: &row})
	}
	return bs
}

// ServiceBlockers returns one blocker per service that is not running, or
// a single BlockerSupervisorDown when runit's supervisor itself is down
// (every service says "runsv not running").
func ServiceBlockers(c CtlStatus) []UpgradeBlocker {
	down := c.Down()
	if len(down) == 0 {
		return nil
	}
	if c.SupervisorDown() {
		return []UpgradeBlocker{{Kind: BlockerSupervisorDown, Services: down}}
	}
	bs := make([]UpgradeBlocker, len(down))
	for i, s := range down {
		bs[i] = UpgradeBlocker{Kind: BlockerServiceDown, Services: []Service{s}}
	}
	return bs
}

// runsvNotRunning is sv's message for a service whose runsv is gone.
const runsvNotRunning = "runsv not running"

// SupervisorDown reports whether every listed service fails with "runsv
// not running": the gitlab-runsvdir supervisor is stopped.
func (c CtlStatus) SupervisorDown() bool {
	if len(c.Services) == 0 {
		return false
	}
	for _, s := range c.Services {
		if s.State != "fail" || s.Message != runsvNotRunning {
			return false
		}
	}
	return true
}

// OnHost is the command an administrator runs on the GitLab host for a
// blocker no catalogue operation fixes, or "" when one does (migrate,
// finalize with every argument, restart).
func (b UpgradeBlocker) OnHost() string {
	switch b.Kind {
	case BlockerSupervisorDown:
		// The Linux package's systemd unit that runs runsvdir.
		return "sudo systemctl start gitlab-runsvdir"
	case BlockerServiceDown:
		if len(b.Services) == 1 && b.Services[0].State == "warning" {
			// "unable to open supervise/ok": never started, not reconfigured.
			return "sudo gitlab-ctl reconfigure"
		}
	case BlockerBBMUnfinished:
		if b.Listed != nil {
			// Quoted: the brackets are a glob (zsh refuses them bare), and
			// the id comes from the host's output.
			return "sudo gitlab-rake " + ShellQuote(BBMShowTask+"["+b.Listed.ID+"]")
		}
	}
	return ""
}

// BBMShowTask prints one batched migration of the :list task by its id
// (main_85), with its column and job arguments (GitLab 18.x CLI).
const BBMShowTask = "gitlab:background_migrations:show"

// BBMStatusTask and BBMListTask are the two rake tasks that list batched
// background migrations: status since GitLab 14.5, list in the 18.x CLI.
const (
	BBMStatusTask = "gitlab:background_migrations:status"
	BBMListTask   = "gitlab:background_migrations:list"
)

// BBMUncheckableBy is how an administrator sees the batched background
// migrations of a GitLab that has neither rake task (before 14.5): the
// admin area, or SQL (run it against the ci database too when decomposed).
const BBMUncheckableBy = "Admin > Monitoring > Background migrations, or `sudo gitlab-psql -c \"SELECT job_class_name, table_name, column_name, job_arguments FROM batched_background_migrations WHERE status NOT IN(3, 6);\"`"

// MissingTask reports whether rake's output says it does not know task
// ("Don't know how to build task 'TASK'"): the GitLab version has no such
// task, which differs from a task that ran and failed.
func MissingTask(out []byte, task string) bool {
	return strings.Contains(string(out), NoSuchTaskText+" '"+task+"'")
}
