package gitlab

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCommandArgv(t *testing.T) {
	cases := []struct {
		op   string
		args Args
		want []string
	}{
		{OpMigrateStatus, Args{}, []string{"gitlab-rake", "db:migrate:status"}},
		{OpMigrateStatus, Args{Database: "ci"}, []string{"gitlab-rake", "db:migrate:status:ci"}},
		{OpBBMStatus, Args{}, []string{"gitlab-rake", "gitlab:background_migrations:status"}},
		{OpBBMStatus, Args{Database: "main"}, []string{"gitlab-rake", "gitlab:background_migrations:status:main"}},
		{OpBBMList, Args{}, []string{"gitlab-rake", "gitlab:background_migrations:list"}},
		{OpServices, Args{}, []string{"gitlab-ctl", "status"}},
		{OpServices, Args{Service: "gitlab-workhorse"}, []string{"gitlab-ctl", "status", "gitlab-workhorse"}},
		{OpMigrate, Args{}, []string{"gitlab-rake", "db:migrate"}},
		{OpRestart, Args{}, []string{"gitlab-ctl", "restart"}},
		{OpRestart, Args{Service: "sidekiq"}, []string{"gitlab-ctl", "restart", "sidekiq"}},
		// The rows of gitlab-facts.md §2, "Building the single argv element".
		// Job arguments are compacted first, so the first two rows agree.
		{OpFinalize, fin("CopyColumnUsingBackgroundMigrationJob", "events", "id", `[["id"], ["id_convert_to_bigint"]]`),
			[]string{"gitlab-rake", `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,events,id,[["id"]\,["id_convert_to_bigint"]]]`}},
		{OpFinalize, fin("CopyColumnUsingBackgroundMigrationJob", "ci_builds", "id", `[["id","stage_id"],["id_convert_to_bigint","stage_id_convert_to_bigint"]]`),
			[]string{"gitlab-rake", `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_builds,id,[["id"\,"stage_id"]\,["id_convert_to_bigint"\,"stage_id_convert_to_bigint"]]]`}},
		{OpFinalize, fin("ProjectNamespaces::BackfillProjectNamespaces", "projects", "id", `[null,"up"]`),
			[]string{"gitlab-rake", `gitlab:background_migrations:finalize[ProjectNamespaces::BackfillProjectNamespaces,projects,id,[null\,"up"]]`}},
		{OpFinalize, fin("BackfillMissingNamespaceDetails", "namespaces", "id", `[]`),
			[]string{"gitlab-rake", `gitlab:background_migrations:finalize[BackfillMissingNamespaceDetails,namespaces,id,[]]`}},
		{OpFinalize, fin("Job", "t", "c", `["a\\b","x,y"]`),
			[]string{"gitlab-rake", `gitlab:background_migrations:finalize[Job,t,c,["a\\\\b"\,"x\,y"]]`}},
		{OpFinalize, withDBArgs(fin("BackfillCiRunnerMachinesOrganizationId", "ci_runner_machines", "id", `[]`), "ci"),
			[]string{"gitlab-rake", `gitlab:background_migrations:finalize:ci[BackfillCiRunnerMachinesOrganizationId,ci_runner_machines,id,[]]`}},
		{OpFinalize, fin("Job", "gitlab_partitions_dynamic.ci_builds", "id", "[\n  1,\n  2\n]"),
			[]string{"gitlab-rake", `gitlab:background_migrations:finalize[Job,gitlab_partitions_dynamic.ci_builds,id,[1\,2]]`}},
	}
	for _, c := range cases {
		op, err := Lookup(c.op)
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := op.Command(c.args)
		if err != nil {
			t.Errorf("%s %+v: %v", c.op, c.args, err)
			continue
		}
		if got := cmd.Argv(); !slices.Equal(got, c.want) {
			t.Errorf("%s %+v:\n got %q\nwant %q", c.op, c.args, got, c.want)
		}
	}
}

func TestCommandRefusesBadArguments(t *testing.T) {
	good := fin("CopyColumnUsingBackgroundMigrationJob", "events", "id", `[]`)
	cases := []struct {
		name  string
		op    string
		args  Args
		field string
	}{
		{"shell in job class", OpFinalize, fin("Job;rm -rf /", "t", "c", `[]`), "job_class"},
		{"comma in job class", OpFinalize, fin("Job,Other", "t", "c", `[]`), "job_class"},
		{"bracket in job class", OpFinalize, fin("Job]", "t", "c", `[]`), "job_class"},
		{"lower-case class", OpFinalize, fin("job", "t", "c", `[]`), "job_class"},
		{"trailing ::", OpFinalize, fin("A::", "t", "c", `[]`), "job_class"},
		{"comma in table", OpFinalize, fin("Job", "a,b", "c", `[]`), "table"},
		{"two dots in table", OpFinalize, fin("Job", "a.b.c", "c", `[]`), "table"},
		{"quote in table", OpFinalize, fin("Job", `"events"`, "c", `[]`), "table"},
		{"backslash in column", OpFinalize, fin("Job", "t", `c\`, `[]`), "column"},
		{"space in column", OpFinalize, fin("Job", "t", "c d", `[]`), "column"},
		{"newline in column", OpFinalize, fin("Job", "t", "c\n", `[]`), "column"},
		{"shell-quoted JSON", OpFinalize, fin("Job", "t", "c", `'[["id"]\,["x"]]'`), "job_arguments"},
		{"escaped commas", OpFinalize, fin("Job", "t", "c", `[["id"]\,["x"]]`), "job_arguments"},
		{"JSON object", OpFinalize, fin("Job", "t", "c", `{"a":1}`), "job_arguments"},
		{"missing JSON", OpFinalize, fin("Job", "t", "c", ``), "job_arguments"},
		{"missing class", OpFinalize, fin("", "t", "c", `[]`), "job_class"},
		{"geo finalize", OpFinalize, withDBArgs(good, "geo"), "database"},
		{"bad database", OpMigrateStatus, Args{Database: "ci;ls"}, "database"},
		{"upper database", OpMigrateStatus, Args{Database: "CI"}, "database"},
		{"unknown database", OpMigrateStatus, Args{Database: "foo"}, "database"},
		{"database on migrate", OpMigrate, Args{Database: "ci"}, "database"},
		{"service on migrate-status", OpMigrateStatus, Args{Service: "puma"}, "service"},
		{"option as service", OpRestart, Args{Service: "--all"}, "service"},
		{"path as service", OpRestart, Args{Service: "../puma"}, "service"},
		{"job class on restart", OpRestart, Args{BatchedMigration: BatchedMigration{JobClass: "X"}}, "job_class"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			op, err := Lookup(c.op)
			if err != nil {
				t.Fatal(err)
			}
			_, err = op.Command(c.args)
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("want an ArgError, got %v", err)
			}
			if ae.Field != c.field {
				t.Errorf("error names field %q, want %q (%v)", ae.Field, c.field, err)
			}
			if !strings.Contains(err.Error(), c.field) {
				t.Errorf("message %q does not name the field %q", err, c.field)
			}
		})
	}
}

func TestLookup(t *testing.T) {
	if _, err := Lookup("rm"); err == nil || !strings.Contains(err.Error(), "migrate-status") {
		t.Errorf("unknown operation: want an error listing the catalogue, got %v", err)
	}
	kinds := map[string]Kind{}
	for _, op := range Catalogue() {
		kinds[op.Name] = op.Kind
		if op.Timeout <= 0 {
			t.Errorf("%s has no default timeout", op.Name)
		}
	}
	want := map[string]Kind{
		OpMigrateStatus: ReadOnly, OpBBMStatus: ReadOnly, OpBBMList: ReadOnly, OpServices: ReadOnly,
		OpMigrate: Destructive, OpFinalize: Destructive, OpRestart: Destructive,
	}
	for name, k := range want {
		if kinds[name] != k {
			t.Errorf("%s: kind %v, want %v", name, kinds[name], k)
		}
	}
	if len(kinds) != len(want) {
		t.Errorf("catalogue has %d operations, want %d", len(kinds), len(want))
	}
}

func fin(job, table, column, js string) Args {
	return Args{BatchedMigration: BatchedMigration{JobClass: job, Table: table, Column: column, JobArguments: js}}
}

func withDBArgs(a Args, db string) Args {
	a.Database = db
	return a
}
