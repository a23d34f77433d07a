package gitlab

import (
	"encoding/json"
	"errors"
	"reflect"
	"testing"
)

// FuzzFinalizeArgv checks the invariant the agent relies on: whatever the
// input, the catalogue either refuses it with an ArgError or builds one argv
// element that rake splits back into exactly the four values given, with
// job_arguments equal as JSON.
func FuzzFinalizeArgv(f *testing.F) {
	for _, c := range finalizeRoundTripCases {
		f.Add(c.db, c.m.JobClass, c.m.Table, c.m.Column, c.m.JobArguments)
	}
	f.Add("", "Job", "t", "c", `'[["id"]\,["x"]]'`)
	f.Add("ci\n", "A::B", "s.t", "c", "[\"\\\\\",\",\"]")
	f.Fuzz(func(t *testing.T, db, job, table, column, jobArgs string) {
		op, err := Lookup(OpFinalize)
		if err != nil {
			t.Fatal(err)
		}
		cmd, err := op.Command(Args{Database: db, BatchedMigration: BatchedMigration{job, table, column, jobArgs}})
		if err != nil {
			var ae *ArgError
			if !errors.As(err, &ae) {
				t.Fatalf("refusal is not an ArgError: %v", err)
			}
			return
		}
		if cmd.Program != Rake || len(cmd.Args) != 1 {
			t.Fatalf("finalize built %q", cmd.Argv())
		}
		task, args := ParseRakeTask(cmd.Args[0])
		wantTask := "gitlab:background_migrations:finalize"
		if db != "" {
			wantTask += ":" + db
		}
		if task != wantTask {
			t.Fatalf("rake would run task %q, want %q (argv %q)", task, wantTask, cmd.Args[0])
		}
		if len(args) != 4 || args[0] != job || args[1] != table || args[2] != column {
			t.Fatalf("rake would receive %q, want %q %q %q + JSON", args, job, table, column)
		}
		var got, want any
		if err := json.Unmarshal([]byte(args[3]), &got); err != nil {
			t.Fatalf("job_arguments %q no longer parse: %v", args[3], err)
		}
		if err := json.Unmarshal([]byte(jobArgs), &want); err != nil {
			t.Fatalf("accepted job_arguments %q that do not parse: %v", jobArgs, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("job_arguments arrive as %#v, want %#v", got, want)
		}
	})
}
