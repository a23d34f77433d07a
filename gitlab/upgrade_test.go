package gitlab

import (
	"fmt"
	"strings"
	"testing"
)

// describeBlockers writes blockers compactly: kind, database, what, and
// the command on the host when no catalogue operation fixes it.
func describeBlockers(bs []UpgradeBlocker) string {
	var out []string
	for _, b := range bs {
		what := ""
		switch {
		case len(b.Down) > 0:
			what = fmt.Sprintf("%d down", len(b.Down))
		case b.BBM != nil:
			what = fmt.Sprintf("%s %s %s decomposed=%v", b.BBM.Status, b.BBM.JobClass, b.BBM.Table, b.Decomposed)
		case b.Listed != nil:
			what = b.Listed.Status + " " + b.Listed.ID
		default:
			var names []string
			for _, s := range b.Services {
				names = append(names, s.Name)
			}
			what = strings.Join(names, ",")
		}
		out = append(out, fmt.Sprintf("%s[%s] %s {%s}", b.Kind, b.Database, what, b.OnHost()))
	}
	return strings.Join(out, "\n")
}

// TestUpgradeBlockers: GitLab's rules on the fixtures: down migrations per
// database, every batched migration that is not finished or finalized
// (paused, active, failed, finalizing), every service not running, and a
// stopped supervisor as one blocker a restart cannot fix.
func TestUpgradeBlockers(t *testing.T) {
	cases := []struct {
		fixture string
		blocks  func([]byte) ([]UpgradeBlocker, error)
		want    string
	}{
		{"migrate-status-single-db-all-up.txt", migrationBlockersOf, ""},
		{"migrate-status-single-db-some-down.txt", migrationBlockersOf, "migrations-down[main] 6 down {}"},
		{"bbm-status-single-db.txt", bbmBlockersOf, strings.Join([]string{
			"bbm-unfinished[main] active CopyColumnUsingBackgroundMigrationJob merge_request_metrics decomposed=false {}",
			"bbm-unfinished[main] paused BackfillPartitionedUploads uploads decomposed=false {}",
			"bbm-unfinished[main] failed CopyColumnUsingBackgroundMigrationJob ci_build_needs decomposed=false {}",
		}, "\n")},
		{"bbm-status-multi-db.txt", bbmBlockersOf, strings.Join([]string{
			"bbm-unfinished[main] active CopyColumnUsingBackgroundMigrationJob merge_request_metrics decomposed=true {}",
			"bbm-unfinished[main] paused BackfillPartitionedUploads uploads decomposed=true {}",
			"bbm-unfinished[main] failed CopyColumnUsingBackgroundMigrationJob ci_build_needs decomposed=true {}",
			"bbm-unfinished[ci] finalizing BackfillCiRunnerMachinesOrganizationId ci_runner_machines decomposed=true {}",
			"bbm-unfinished[ci] active BackfillPCiPipelineVariablesProjectId p_ci_pipeline_variables decomposed=true {}",
		}, "\n")},
		{"bbm-list.txt", bbmListBlockersOf, strings.Join([]string{
			"bbm-unfinished[main] active main_84 {sudo gitlab-rake 'gitlab:background_migrations:show[main_84]'}",
			"bbm-unfinished[main] paused main_85 {sudo gitlab-rake 'gitlab:background_migrations:show[main_85]'}",
			"bbm-unfinished[main] failed main_86 {sudo gitlab-rake 'gitlab:background_migrations:show[main_86]'}",
			"bbm-unfinished[ci] finalizing ci_13 {sudo gitlab-rake 'gitlab:background_migrations:show[ci_13]'}",
			"bbm-unfinished[ci] active ci_14 {sudo gitlab-rake 'gitlab:background_migrations:show[ci_14]'}",
		}, "\n")},
		{"ctl-status-all-up.txt", serviceBlockersOf, ""},
		{"ctl-status-some-down.txt", serviceBlockersOf, "service-down[] puma {}\nservice-down[] sidekiq {}"},
		{"ctl-status-runsvdir-down.txt", serviceBlockersOf, "supervisor-down[] " + runsvdirDownNames(t) + " {sudo systemctl start gitlab-runsvdir}"},
	}
	for _, c := range cases {
		t.Run(c.fixture, func(t *testing.T) {
			bs, err := c.blocks(readFixture(t, c.fixture))
			if err != nil {
				t.Fatal(err)
			}
			if got := describeBlockers(bs); got != c.want {
				t.Errorf("got\n%s\nwant\n%s", got, c.want)
			}
		})
	}
}

func runsvdirDownNames(t *testing.T) string {
	s, err := ParseCtlStatus(readFixture(t, "ctl-status-runsvdir-down.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, svc := range s.Services {
		names = append(names, svc.Name)
	}
	return strings.Join(names, ",")
}

func migrationBlockersOf(b []byte) ([]UpgradeBlocker, error) {
	s, err := ParseMigrateStatus(b)
	return MigrationBlockers(s), err
}

func bbmBlockersOf(b []byte) ([]UpgradeBlocker, error) {
	s, err := ParseBBMStatus(b)
	return BBMBlockers(s), err
}

func bbmListBlockersOf(b []byte) ([]UpgradeBlocker, error) {
	l, err := ParseBBMList(b)
	return BBMListBlockers(l), err
}

func serviceBlockersOf(b []byte) ([]UpgradeBlocker, error) {
	s, err := ParseCtlStatus(b)
	return ServiceBlockers(s), err
}

// TestServiceNeverStarted: a service sv cannot read the state of (never
// started, not reconfigured) is fixed by reconfigure on the host, not a
// restart; one such service is not a stopped supervisor.
// The show line is quoted: brackets are a glob (zsh refuses the line
// unquoted), and an id read from the host's output must not run as shell
// when an administrator pastes the line as root.
func TestBBMShowLineIsQuoted(t *testing.T) {
	for _, tc := range []struct{ id, want string }{
		{"main_84", `sudo gitlab-rake 'gitlab:background_migrations:show[main_84]'`},
		{"main_1$(id)';x", `sudo gitlab-rake 'gitlab:background_migrations:show[main_1$(id)'\'';x]'`},
	} {
		b := UpgradeBlocker{Kind: BlockerBBMUnfinished, Listed: &BBMListRow{ID: tc.id}}
		if got := b.OnHost(); got != tc.want {
			t.Errorf("OnHost for id %q = %s, want %s", tc.id, got, tc.want)
		}
	}
}

func TestServiceNeverStarted(t *testing.T) {
	s, err := ParseCtlStatus([]byte("run: gitaly: (pid 1048) 1209349s; run: log: (pid 1004) 1209405s\nwarning: gitlab-kas: unable to open supervise/ok: file does not exist\n"))
	if err != nil {
		t.Fatal(err)
	}
	if s.SupervisorDown() {
		t.Error("one service in warning reads as a stopped supervisor")
	}
	if got, want := describeBlockers(ServiceBlockers(s)), "service-down[] gitlab-kas {sudo gitlab-ctl reconfigure}"; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

func TestMissingTask(t *testing.T) {
	out := []byte("rake aborted!\nDon't know how to build task 'gitlab:background_migrations:status' (See the list of available tasks with `rake --tasks`)\n")
	cases := []struct {
		task string
		want bool
	}{
		{BBMStatusTask, true},
		{BBMListTask, false},
		{"gitlab:background_migrations", false}, // a prefix of the missing task is not missing
	}
	for _, c := range cases {
		if got := MissingTask(out, c.task); got != c.want {
			t.Errorf("MissingTask(%s) = %v, want %v", c.task, got, c.want)
		}
	}
	if MissingTask([]byte("rake aborted!\nPG::ConnectionBad: connection refused\n"), BBMStatusTask) {
		t.Error("a task that ran and failed reads as missing")
	}
}
