package gitlab

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"testing"
	"time"
)

// finalizeRoundTripCases are the finalize arguments the round-trip tests
// send through rake. The first six are what GitLab printed in real upgrade
// failures (14.x bigint conversions, reported on GitLab's and
// docker-gitlab's trackers), in the form GitLab suggested them; the rest
// stress nested commas, quotes and backslashes.
var finalizeRoundTripCases = []struct {
	name string
	db   string
	m    BatchedMigration
}{
	{"ci_stages", "", BatchedMigration{"CopyColumnUsingBackgroundMigrationJob", "ci_stages", "id", `[["id"], ["id_convert_to_bigint"]]`}},
	{"ci_builds_metadata id", "", BatchedMigration{"CopyColumnUsingBackgroundMigrationJob", "ci_builds_metadata", "id", `[["id"], ["id_convert_to_bigint"]]`}},
	{"ci_builds_metadata id+build_id", "", BatchedMigration{"CopyColumnUsingBackgroundMigrationJob", "ci_builds_metadata", "id", `[["id", "build_id"], ["id_convert_to_bigint", "build_id_convert_to_bigint"]]`}},
	{"push_event_payloads", "", BatchedMigration{"CopyColumnUsingBackgroundMigrationJob", "push_event_payloads", "event_id", `[["event_id"], ["event_id_convert_to_bigint"]]`}},
	{"deployments", "", BatchedMigration{"CopyColumnUsingBackgroundMigrationJob", "deployments", "id", `[["deployable_id"], ["deployable_id_convert_to_bigint"]]`}},
	{"taggings", "", BatchedMigration{"CopyColumnUsingBackgroundMigrationJob", "taggings", "id", `[["id", "taggable_id"], ["id_convert_to_bigint", "taggable_id_convert_to_bigint"]]`}},
	{"ci database", "ci", BatchedMigration{"BackfillCiRunnerMachinesOrganizationId", "ci_runner_machines", "id", `[]`}},
	{"main database, namespaced class", "main", BatchedMigration{"ProjectNamespaces::BackfillProjectNamespaces", "projects", "id", `[null,"up"]`}},
	{"backslash and comma in strings", "", BatchedMigration{"Job", "t", "c", `["a\\b","x,y"]`}},
	{"backslash before comma", "", BatchedMigration{"Job", "t", "c", `["a\\,b", "\\\\,\\\\"]`}},
	{"quotes", "", BatchedMigration{"Job", "t", "c", `["it's", "\"quoted\"", "'[x]'"]`}},
	{"nested objects with commas", "", BatchedMigration{"Job", "t", "c", `[{"k":"v,w","n":[1,2,[3,4]]},[[],[[]]],true,false,null,1.5e3]`}},
	{"brackets in strings", "", BatchedMigration{"Job", "t", "c", `["[", "]", "],[", "\\]"]`}},
	{"unicode and escapes", "", BatchedMigration{"Job", "t", "c", `["é,ü", "\u2028", "tab\there", "nl\nhere"]`}},
	{"spaces at the edges of strings", "", BatchedMigration{"Job", "t", "c", `[" lead", "trail ", " , "]`}},
	{"schema-qualified table", "", BatchedMigration{"Job", "gitlab_partitions_dynamic.ci_builds", "id", `[]`}},
}

// TestRealRakeRoundTrip feeds every finalize argv the catalogue builds to
// Debian's real rake, with a Rakefile declaring GitLab's finalize tasks, and
// checks that rake hands the task exactly the four intended values. CI sets
// REQUIRE_RAKE=1 so that a missing rake fails instead of skipping.
func TestRealRakeRoundTrip(t *testing.T) {
	rake, err := exec.LookPath("rake")
	if err != nil {
		if os.Getenv("REQUIRE_RAKE") != "" {
			t.Fatalf("REQUIRE_RAKE is set but rake is not installed: %v (apt-get install rake ruby)", err)
		}
		t.Skip("rake not installed (apt-get install rake ruby); CI installs it and sets REQUIRE_RAKE=1")
	}
	rakefile, err := filepath.Abs("testdata/Rakefile")
	if err != nil {
		t.Fatal(err)
	}
	op, err := Lookup(OpFinalize)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range finalizeRoundTripCases {
		t.Run(c.name, func(t *testing.T) {
			cmd, err := op.Command(Args{Database: c.db, BatchedMigration: c.m})
			if err != nil {
				t.Fatal(err)
			}
			if len(cmd.Args) != 1 {
				t.Fatalf("finalize must be one argv element, got %q", cmd.Args)
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			// No shell: the element goes to rake exactly as the agent sends it.
			run := exec.CommandContext(ctx, rake, "-f", rakefile, cmd.Args[0])
			run.Dir = t.TempDir()
			var stdout, stderr bytes.Buffer
			run.Stdout, run.Stderr = &stdout, &stderr
			if err := run.Run(); err != nil {
				t.Fatalf("rake %q: %v\n%s", cmd.Args[0], err, stderr.String())
			}
			var got struct {
				Task, JobClassName, TableName, ColumnName, JobArguments string
				Extras                                                  []string
				JSON                                                    any
				JSONError                                               string
			}
			dec := json.NewDecoder(&stdout)
			var raw map[string]json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				t.Fatalf("rake output: %v", err)
			}
			for k, dst := range map[string]any{
				"task": &got.Task, "job_class_name": &got.JobClassName, "table_name": &got.TableName,
				"column_name": &got.ColumnName, "job_arguments": &got.JobArguments, "extras": &got.Extras,
				"json": &got.JSON, "json_error": &got.JSONError,
			} {
				if v, ok := raw[k]; ok {
					if err := json.Unmarshal(v, dst); err != nil {
						t.Fatalf("%s: %v", k, err)
					}
				}
			}
			wantTask := "gitlab:background_migrations:finalize"
			if c.db != "" {
				wantTask += ":" + c.db
			}
			if got.Task != wantTask {
				t.Errorf("task %q, want %q", got.Task, wantTask)
			}
			if got.JobClassName != c.m.JobClass || got.TableName != c.m.Table || got.ColumnName != c.m.Column {
				t.Errorf("rake received %q %q %q, want %q %q %q", got.JobClassName, got.TableName, got.ColumnName, c.m.JobClass, c.m.Table, c.m.Column)
			}
			if len(got.Extras) != 0 {
				t.Errorf("rake received extra arguments %q: a comma was not escaped", got.Extras)
			}
			compact, _ := CompactJobArguments(c.m.JobArguments)
			if got.JobArguments != compact {
				t.Errorf("job_arguments arrived as %q, want %q", got.JobArguments, compact)
			}
			if got.JSONError != "" {
				t.Fatalf("Ruby could not parse job_arguments: %s", got.JSONError)
			}
			var want any
			if err := json.Unmarshal([]byte(c.m.JobArguments), &want); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got.JSON, want) {
				t.Errorf("Ruby parsed job_arguments as %#v, want %#v", got.JSON, want)
			}
			// The Go port of rake's parser must agree with rake itself.
			task, args := ParseRakeTask(cmd.Args[0])
			if task != got.Task || !reflect.DeepEqual(args, []string{got.JobClassName, got.TableName, got.ColumnName, got.JobArguments}) {
				t.Errorf("ParseRakeTask disagrees with rake: %q %q", task, args)
			}
		})
	}
}

// TestRealRakeRefusesShellQuotes shows why the agent never sends GitLab's
// suggested single quotes: without a shell they reach the task and the JSON
// parse fails.
func TestRealRakeRefusesShellQuotes(t *testing.T) {
	rake, err := exec.LookPath("rake")
	if err != nil {
		if os.Getenv("REQUIRE_RAKE") != "" {
			t.Fatalf("REQUIRE_RAKE is set but rake is not installed: %v", err)
		}
		t.Skip("rake not installed (apt-get install rake ruby)")
	}
	rakefile, _ := filepath.Abs("testdata/Rakefile")
	elem := `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,events,id,'[["id"]\,["id_convert_to_bigint"]]']`
	out, err := exec.Command(rake, "-f", rakefile, elem).Output()
	if err != nil {
		t.Fatalf("rake: %v", err)
	}
	var got map[string]any
	if err := json.Unmarshal(out, &got); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if got["json_error"] == nil {
		t.Errorf("a quoted argument parsed as JSON: %s", out)
	}
}
