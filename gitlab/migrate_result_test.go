package gitlab

import (
	"encoding/json"
	"strings"
	"testing"
)

// The finalize arguments every current-wording fixture must yield.
var mergeRequestMetricsBBM = BatchedMigration{
	JobClass:     "CopyColumnUsingBackgroundMigrationJob",
	Table:        "merge_request_metrics",
	Column:       "id",
	JobArguments: `[["id"],["id_convert_to_bigint"]]`,
}

func TestParseMigrateSuccess(t *testing.T) {
	t.Run("single db", func(t *testing.T) {
		r := ParseMigrate(readFixture(t, "migrate-success.txt"))
		if !r.OK() {
			t.Fatalf("failure %+v", r.Failure)
		}
		// Exactly the six down rows of migrate-status-single-db-some-down.txt.
		want := []string{"20250508093412", "20250610142207", "20250611093054", "20250612101733", "20250613150102", "20250614083021"}
		if len(r.Migrated) != len(want) {
			t.Fatalf("migrated %d, want %d", len(r.Migrated), len(want))
		}
		for i, m := range r.Migrated {
			if m.Version != want[i] || m.Database != "main" || m.Skipped {
				t.Errorf("migrated[%d] = %+v, want version %s on main", i, m, want[i])
			}
		}
		if m := r.Migrated[0]; m.Class != "AddIndexOnCiRunnerMachinesOrganizationId" || m.Seconds != 2.5236 {
			t.Errorf("first = %+v", m)
		}
	})
	t.Run("nothing pending", func(t *testing.T) {
		r := ParseMigrate(readFixture(t, "migrate-nothing-pending.txt"))
		if !r.OK() || len(r.Migrated) != 0 {
			t.Errorf("got %+v", r)
		}
	})
	t.Run("multi db", func(t *testing.T) {
		r := ParseMigrate(readFixture(t, "migrate-success-multi-db.txt"))
		if !r.OK() || len(r.Migrated) != 8 {
			t.Fatalf("OK=%v migrated=%d, want true 8", r.OK(), len(r.Migrated))
		}
		for i, m := range r.Migrated {
			if wantDB := []string{"main", "ci"}[i%2]; m.Database != wantDB {
				t.Errorf("migrated[%d] on %q, want %q", i, m.Database, wantDB)
			}
		}
		skipped := r.SkippedMigrations()
		if len(skipped) != 2 ||
			skipped[0].Database != "ci" || skipped[0].Version != "20250613150102" ||
			skipped[1].Database != "main" || skipped[1].Version != "20250614083021" {
			t.Errorf("skipped = %+v", skipped)
		}
	})
}

func TestParseMigrateUnfinishedBBM(t *testing.T) {
	tests := []struct {
		fixture string
		db      string
		version string
		class   string
		want    BatchedMigration
	}{
		{"migrate-fail-batched-bbm.txt", "main", "20250514124512", "EnsureMergeRequestMetricsIdBigintBackfillIsFinishedForSelfHosts", mergeRequestMetricsBBM},
		{"migrate-fail-batched-bbm-detailed-message.txt", "main", "20250514124512", "EnsureMergeRequestMetricsIdBigintBackfillIsFinishedForSelfHosts", mergeRequestMetricsBBM},
		{"migrate-fail-batched-bbm-stderr-first.txt", "main", "20250514124512", "EnsureMergeRequestMetricsIdBigintBackfillIsFinishedForSelfHosts", mergeRequestMetricsBBM},
		{"migrate-fail-batched-bbm-14x.txt", "", "20210811122206", "FinalizeCiJobArtifactsIdConversion", BatchedMigration{
			JobClass:     "CopyColumnUsingBackgroundMigrationJob",
			Table:        "ci_job_artifacts",
			Column:       "id",
			JobArguments: `[["id","job_id"],["id_convert_to_bigint","job_id_convert_to_bigint"]]`,
		}},
	}
	for _, tt := range tests {
		t.Run(tt.fixture, func(t *testing.T) {
			r := ParseMigrate(readFixture(t, tt.fixture))
			f := r.Failure
			if f == nil {
				t.Fatal("no failure")
			}
			if f.Kind != FailureUnfinishedBBM || f.Status != "active" || f.Database != tt.db || f.Version != tt.version || f.Class != tt.class {
				t.Errorf("failure = %+v", f)
			}
			if f.Finalize == nil || *f.Finalize != tt.want {
				t.Errorf("finalize = %+v, want %+v", f.Finalize, tt.want)
			}
			if f.JobClass != tt.want.JobClass {
				t.Errorf("JobClass = %q", f.JobClass)
			}
			if !strings.HasPrefix(f.Message, "Expected batched background migration for the given configuration to be marked as 'finished', but it is 'active':\t{") {
				t.Errorf("message = %q", f.Message)
			}
			if r.OK() {
				t.Error("OK() on a failure")
			}
		})
	}
}

func TestParseMigrateOtherFailures(t *testing.T) {
	t.Run("failed to finalize", func(t *testing.T) {
		f := ParseMigrate(readFixture(t, "migrate-fail-bbm-failed-to-finalize.txt")).Failure
		if f == nil || f.Kind != FailureFailedToFinalize || f.JobClass != "BackfillCiRunnerMachinesOrganizationId" ||
			f.Version != "20250614083021" || f.Database != "main" || f.Finalize != nil {
			t.Fatalf("failure = %+v", f)
		}
		if !strings.HasPrefix(f.Message, "Batched migration BackfillCiRunnerMachinesOrganizationId could not be completed") {
			t.Errorf("message = %q", f.Message)
		}
	})
	t.Run("generic", func(t *testing.T) {
		r := ParseMigrate(readFixture(t, "migrate-fail-generic.txt"))
		f := r.Failure
		if f == nil || f.Kind != FailureGeneric || f.Version != "20250610142207" || f.Class != "AddCreationStateToCiRunners" || f.Database != "main" {
			t.Fatalf("failure = %+v", f)
		}
		if want := `PG::DuplicateColumn: ERROR:  column "creation_state" of relation "ci_runners" already exists`; f.Message != want {
			t.Errorf("message = %q, want %q", f.Message, want)
		}
		if len(r.Migrated) != 1 || r.Migrated[0].Version != "20250508093412" {
			t.Errorf("migrated = %+v", r.Migrated)
		}
	})
	t.Run("glued rake aborted (gitlab issue 360556)", func(t *testing.T) {
		out := "main: == 20220505174658 UpdateIsRemovedInUserAgentDetails: migrating ========\n" +
			"main: -- execute(\"UPDATE ...\")\n" +
			"main:    -> 0.0007srake aborted!\n" +
			"StandardError: An error has occurred, this and all later migrations canceled:\n\n" +
			"PG::UndefinedColumn: ERROR:  column \"is_removed\" does not exist\n"
		f := ParseMigrate([]byte(out)).Failure
		if f == nil || f.Kind != FailureGeneric || f.Version != "20220505174658" || f.Database != "main" ||
			f.Message != `PG::UndefinedColumn: ERROR:  column "is_removed" does not exist` {
			t.Fatalf("failure = %+v", f)
		}
	})
	t.Run("concurrent migration", func(t *testing.T) {
		out := "rake aborted!\nActiveRecord::ConcurrentMigrationError: \n\nCannot run migrations because another migration process is currently running.\n\n" +
			"/opt/gitlab/embedded/bin/bundle:25:in `load'\nTasks: TOP => db:migrate\n"
		f := ParseMigrate([]byte(out)).Failure
		if f == nil || f.Kind != FailureConcurrentMigration || f.Message != concurrentText || f.Version != "" {
			t.Fatalf("failure = %+v", f)
		}
	})
	t.Run("failure on ci", func(t *testing.T) {
		out := "main: == 20250612101733 AddTextLimit: migrating ===\n" +
			"main: == 20250612101733 AddTextLimit: migrated (0.0398s) ===\n\n" +
			"ci: == 20250612101733 AddTextLimit: migrating ===\n" +
			"rake aborted!\nStandardError: An error has occurred, all later migrations canceled:\n\nPG::CheckViolation: ERROR:  check constraint is violated\n"
		r := ParseMigrate([]byte(out))
		if f := r.Failure; f == nil || f.Database != "ci" || f.Version != "20250612101733" || f.Kind != FailureGeneric {
			t.Fatalf("failure = %+v", r.Failure)
		}
		if len(r.Migrated) != 1 || r.Migrated[0].Database != "main" {
			t.Errorf("migrated = %+v", r.Migrated)
		}
	})
	t.Run("interrupted", func(t *testing.T) {
		out := "main: == 20250610142207 AddCreationStateToCiRunners: migrating ======================\n" +
			"main: -- add_column(:ci_runners, :creation_state, :smallint, {:default=>0, :null=>false})\n"
		f := ParseMigrate([]byte(out)).Failure
		if f == nil || f.Kind != FailureInterrupted || f.Version != "20250610142207" || f.Class != "AddCreationStateToCiRunners" {
			t.Fatalf("failure = %+v", f)
		}
	})
	t.Run("empty is success", func(t *testing.T) {
		if r := ParseMigrate(nil); !r.OK() || len(r.Migrated) != 0 {
			t.Errorf("got %+v", r)
		}
	})
}

// unfinishedBBMWithoutCommand is the unfinished-BBM error with the given
// configuration text and no suggested command (the fallback path).
func unfinishedBBMWithoutCommand(config string) string {
	return "ci: == 20250514124512 EnsureSomething: migrating ===\n" +
		"rake aborted!\nStandardError: An error has occurred, all later migrations canceled:\n\n" +
		"Expected batched background migration for the given configuration to be marked as 'finished', but it is 'paused':\t" + config + "\n\n" +
		"/opt/gitlab/embedded/bin/bundle:25:in `load'\n"
}

func TestParseMigrateFinalizeFromInspect(t *testing.T) {
	tests := []struct {
		name   string
		config string
		want   *BatchedMigration
	}{
		{
			name:   "ruby 3.3",
			config: `{:job_class_name=>"CopyColumnUsingBackgroundMigrationJob", :table_name=>"merge_request_metrics", :column_name=>"id", :job_arguments=>[["id"], ["id_convert_to_bigint"]]}`,
			want:   &mergeRequestMetricsBBM,
		},
		{
			name:   "symbols and nil",
			config: `{:job_class_name=>"ProjectNamespaces::BackfillProjectNamespaces", :table_name=>:projects, :column_name=>:id, :job_arguments=>[nil, "up"]}`,
			want:   &BatchedMigration{JobClass: "ProjectNamespaces::BackfillProjectNamespaces", Table: "projects", Column: "id", JobArguments: `[null,"up"]`},
		},
		{
			name:   "ruby 3.4",
			config: `{job_class_name: "BackfillMissingNamespaceDetails", table_name: :namespaces, column_name: "id", job_arguments: []}`,
			want:   &BatchedMigration{JobClass: "BackfillMissingNamespaceDetails", Table: "namespaces", Column: "id", JobArguments: `[]`},
		},
		{
			name:   "ruby 3.4 nested hash with string keys",
			config: `{job_class_name: "Job", table_name: :t, column_name: :c, job_arguments: [{"batch" => 10, "mode" => :fast, "x" => 1.5e+20}]}`,
			want:   &BatchedMigration{JobClass: "Job", Table: "t", Column: "c", JobArguments: `[{"batch":10,"mode":"fast","x":1.5e+20}]`},
		},
		{
			name:   "escapes",
			config: `{:job_class_name=>"Job", :table_name=>"t", :column_name=>"c", :job_arguments=>["a\\b", "q\"uote", "tab\there", "\e[0m", "\u00e9", "#{x}", "\#{x}"]}`,
			want:   &BatchedMigration{JobClass: "Job", Table: "t", Column: "c", JobArguments: `["a\\b","q\"uote","tab\there","\u001b[0m","é","#{x}","#{x}"]`},
		},
		{name: "missing job_arguments", config: `{:job_class_name=>"Job", :table_name=>"t", :column_name=>"c"}`},
		{name: "not a hash", config: `#<Gitlab::Something>`},
		{name: "Infinity is not JSON", config: `{:job_class_name=>"Job", :table_name=>"t", :column_name=>"c", :job_arguments=>[Infinity]}`},
		{name: "truncated", config: `{:job_class_name=>"Job", :table_name=>"t", :column_name=>"c", :job_arguments=>[["id"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ParseMigrate([]byte(unfinishedBBMWithoutCommand(tt.config))).Failure
			if f == nil || f.Kind != FailureUnfinishedBBM || f.Status != "paused" || f.Database != "ci" {
				t.Fatalf("failure = %+v", f)
			}
			switch {
			case tt.want == nil && f.Finalize != nil:
				t.Errorf("finalize = %+v, want nil", f.Finalize)
			case tt.want != nil && (f.Finalize == nil || *f.Finalize != *tt.want):
				t.Errorf("finalize = %+v, want %+v", f.Finalize, tt.want)
			}
			if f.Finalize != nil && !json.Valid([]byte(f.Finalize.JobArguments)) {
				t.Errorf("invalid JSON %q", f.Finalize.JobArguments)
			}
		})
	}
}

func TestParseMigrateFinalizeCommandVariants(t *testing.T) {
	bbmText := func(cmd string) string {
		return "rake aborted!\nStandardError: An error has occurred, all later migrations canceled:\n\n" +
			"Expected batched background migration for the given configuration to be marked as 'finished', but it is 'active':\t{:job_class_name=>\"FromHash\", :table_name=>\"t\", :column_name=>\"c\", :job_arguments=>[]}\n\n" +
			"Finalize it manually by running the following command in a `bash` or `sh` shell:\n\n\t" + cmd + "\n\n"
	}
	tests := []struct {
		name string
		cmd  string
		want BatchedMigration
	}{
		{"null and string", `sudo gitlab-rake gitlab:background_migrations:finalize[ProjectNamespaces::BackfillProjectNamespaces,projects,id,'[null\,"up"]']`,
			BatchedMigration{"ProjectNamespaces::BackfillProjectNamespaces", "projects", "id", `[null,"up"]`}},
		{"empty array", `sudo gitlab-rake gitlab:background_migrations:finalize[BackfillMissingNamespaceDetails,namespaces,id,'[]']`,
			BatchedMigration{"BackfillMissingNamespaceDetails", "namespaces", "id", `[]`}},
		{"spaces around arguments", `sudo gitlab-rake gitlab:background_migrations:finalize[ Job , t , c , '[1\, 2]' ]`,
			BatchedMigration{"Job", "t", "c", `[1,2]`}},
		{"without shell quotes", `sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,[1\,2]]`,
			BatchedMigration{"Job", "t", "c", `[1,2]`}},
		{"database suffix", `sudo gitlab-rake gitlab:background_migrations:finalize:ci[Job,t,c,'[]']`,
			BatchedMigration{"Job", "t", "c", `[]`}},
		// An unescaped comma gives rake five arguments: fall back to the hash.
		{"unescaped comma", `sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[1,2]']`,
			BatchedMigration{"FromHash", "t", "c", `[]`}},
		{"invalid JSON", `sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[1\,']`,
			BatchedMigration{"FromHash", "t", "c", `[]`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := ParseMigrate([]byte(bbmText(tt.cmd))).Failure
			if f == nil || f.Finalize == nil || *f.Finalize != tt.want {
				t.Fatalf("failure = %+v, finalize %+v, want %+v", f, f.Finalize, tt.want)
			}
		})
	}
}
