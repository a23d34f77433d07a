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

// rakeReceived is what the test Rakefile reports rake handed the task.
type rakeReceived struct {
	Task         string   `json:"task"`
	JobClassName string   `json:"job_class_name"`
	TableName    string   `json:"table_name"`
	ColumnName   string   `json:"column_name"`
	JobArguments string   `json:"job_arguments"`
	Extras       []string `json:"extras"`
	JSON         any      `json:"json"`
	JSONError    string   `json:"json_error"`
}

// realRake returns Debian's rake and the test Rakefile, or skips (fails
// under REQUIRE_RAKE=1, as in CI).
func realRake(t *testing.T) (rake, rakefile string) {
	t.Helper()
	rake, err := exec.LookPath("rake")
	if err != nil {
		if os.Getenv("REQUIRE_RAKE") != "" {
			t.Fatalf("REQUIRE_RAKE is set but rake is not installed: %v (apt-get install rake ruby)", err)
		}
		t.Skip("rake not installed (apt-get install rake ruby); CI installs it and sets REQUIRE_RAKE=1")
	}
	rakefile, err = filepath.Abs("testdata/Rakefile")
	if err != nil {
		t.Fatal(err)
	}
	return rake, rakefile
}

// runRealRake runs rake on one argv element, without a shell, exactly as
// the agent sends it, and returns what the task received.
func runRealRake(t *testing.T, rake, rakefile, elem string) rakeReceived {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	run := exec.CommandContext(ctx, rake, "-f", rakefile, elem)
	run.Dir = t.TempDir()
	var stdout, stderr bytes.Buffer
	run.Stdout, run.Stderr = &stdout, &stderr
	if err := run.Run(); err != nil {
		t.Fatalf("rake %q: %v\n%s", elem, err, stderr.String())
	}
	var got rakeReceived
	if err := json.NewDecoder(&stdout).Decode(&got); err != nil {
		t.Fatalf("rake output: %v", err)
	}
	return got
}

// checkRakeReceived compares what rake received with the intended values.
func checkRakeReceived(t *testing.T, got rakeReceived, elem, db string, m BatchedMigration) {
	t.Helper()
	wantTask := FinalizeTask
	if db != "" {
		wantTask += ":" + db
	}
	if got.Task != wantTask {
		t.Errorf("task %q, want %q", got.Task, wantTask)
	}
	if got.JobClassName != m.JobClass || got.TableName != m.Table || got.ColumnName != m.Column {
		t.Errorf("rake received %q %q %q, want %q %q %q", got.JobClassName, got.TableName, got.ColumnName, m.JobClass, m.Table, m.Column)
	}
	if len(got.Extras) != 0 {
		t.Errorf("rake received extra arguments %q: a comma was not escaped", got.Extras)
	}
	compact, _ := CompactJobArguments(m.JobArguments)
	if got.JobArguments != compact {
		t.Errorf("job_arguments arrived as %q, want %q", got.JobArguments, compact)
	}
	if got.JSONError != "" {
		t.Fatalf("Ruby could not parse job_arguments: %s", got.JSONError)
	}
	var want any
	if err := json.Unmarshal([]byte(m.JobArguments), &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got.JSON, want) {
		t.Errorf("Ruby parsed job_arguments as %#v, want %#v", got.JSON, want)
	}
	// The Go port of rake's parser must agree with rake itself.
	task, args := ParseRakeTask(elem)
	if task != got.Task || !reflect.DeepEqual(args, []string{got.JobClassName, got.TableName, got.ColumnName, got.JobArguments}) {
		t.Errorf("ParseRakeTask disagrees with rake: %q %q", task, args)
	}
}

// TestRealRakeRoundTrip feeds every finalize argv the catalogue builds to
// Debian's real rake, with a Rakefile declaring GitLab's finalize tasks, and
// checks that rake hands the task exactly the four intended values. CI sets
// REQUIRE_RAKE=1 so that a missing rake fails instead of skipping.
func TestRealRakeRoundTrip(t *testing.T) {
	rake, rakefile := realRake(t)
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
			checkRakeReceived(t, runRealRake(t, rake, rakefile, cmd.Args[0]), cmd.Args[0], c.db, c.m)
		})
	}
}

// TestRealRakeRunbookPastes: the six runbook commands, pasted in every form
// DecodeFinalize accepts, become an argv element from which the real rake
// hands the task exactly the values the runbook means.
func TestRealRakeRunbookPastes(t *testing.T) {
	rake, rakefile := realRake(t)
	op, err := Lookup(OpFinalize)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range runbookLines(t) {
		want := runbookFinalizes[i]
		for _, f := range pasteForms {
			in := typographic(f.make(line, want))
			t.Run(want.Table+"/"+f.name, func(t *testing.T) {
				a, err := DecodeFinalize(in)
				if err != nil {
					t.Fatalf("DecodeFinalize(%s): %v", in, err)
				}
				cmd, err := op.Command(a)
				if err != nil {
					t.Fatal(err)
				}
				checkRakeReceived(t, runRealRake(t, rake, rakefile, cmd.Args[0]), cmd.Args[0], f.db, want)
			})
		}
	}
}

// TestRealRakeRefusesShellQuotes shows why the agent never sends GitLab's
// suggested single quotes: without a shell they reach the task and the JSON
// parse fails.
func TestRealRakeRefusesShellQuotes(t *testing.T) {
	rake, rakefile := realRake(t)
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
