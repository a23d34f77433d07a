package gitlab

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
)

// Every parser must survive any input (no panic, no hang) and keep its
// invariants. Each target is seeded with every fixture, whichever command
// printed it: the other formats are the best near-misses there are.
//
//	go test -run XXX -fuzz '^FuzzParseMigrateStatus$' -fuzztime 60s ./gitlab

func addFixtureSeeds(f *testing.F) {
	for _, name := range fixtureNames(f) {
		f.Add(readFixture(f, name))
	}
}

func isDigits(s string) bool {
	return s != "" && strings.Trim(s, "0123456789") == ""
}

func FuzzParseMigrateStatus(f *testing.F) {
	addFixtureSeeds(f)
	f.Add([]byte("\ndatabase: x\n   up     1  a rake aborted!\nPG::Error: e\n"))
	f.Add([]byte(" Status   Migration ID    Type     Milestone    Name\n"))
	f.Fuzz(func(t *testing.T, out []byte) {
		st, err := ParseMigrateStatus(out)
		if err == nil && len(st.Databases) == 0 {
			t.Fatal("success without a database section")
		}
		if err != nil {
			if _, ok := err.(*MigrateStatusError); !ok {
				t.Fatalf("error %T is not a *MigrateStatusError", err)
			}
		}
		down := 0
		for _, d := range st.Databases {
			checkCounts(t, d)
			down += d.Down
			for _, r := range d.Migrations {
				if !isDigits(r.Version) {
					t.Fatalf("version %q", r.Version)
				}
			}
		}
		if st.Down() != down || st.AllUp() != (len(st.Databases) > 0 && down == 0) {
			t.Fatal("Down/AllUp disagree with the counts")
		}
		// The hand-written row scanner is the regexp, line by line.
		for line := range strings.Lines(string(out)) {
			checkStatusRowMatchesRE(t, chompLine(line))
			checkExactRowAgrees(t, line)
		}
	})
}

func FuzzParseBBMStatus(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, out []byte) {
		st, err := ParseBBMStatus(out)
		if err != nil {
			return
		}
		n := 0
		for _, d := range st.Databases {
			for _, r := range d.Migrations {
				n++
				if r.Status == "" || r.JobClass == "" || r.Table == "" || r.Column == "" || !json.Valid([]byte(r.JobArguments)) {
					t.Fatalf("bad row %+v", r)
				}
			}
		}
		if p := st.Pending(); len(p) > n || st.AllDone() != (len(p) == 0) {
			t.Fatal("Pending/AllDone disagree with the rows")
		}
	})
}

func FuzzParseBBMList(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, out []byte) {
		l, err := ParseBBMList(out)
		if err != nil {
			return
		}
		for _, r := range l.Migrations {
			if r.ID == "" || !strings.HasPrefix(r.ID, r.Database) {
				t.Fatalf("bad row %+v", r)
			}
		}
		if len(l.Pending()) > len(l.Migrations) {
			t.Fatal("more pending than rows")
		}
	})
}

var processStates = []string{"run", "down", "finish"}

func checkService(t *testing.T, s Service) {
	t.Helper()
	if s.Name == "" || strings.ContainsAny(s.Name, " :") || s.PID < 0 || s.Seconds < 0 {
		t.Fatalf("bad service %+v", s)
	}
	switch {
	case s.State == "fail" || s.State == "warning":
		if s.Message == "" || s.Log != nil {
			t.Fatalf("bad %s service %+v", s.State, s)
		}
	case slices.Contains(processStates, s.State):
		if (s.State == "down") != (s.PID == 0) {
			t.Fatalf("pid %d in state %s", s.PID, s.State)
		}
		if s.Log != nil && (!slices.Contains(processStates, s.Log.State) || s.Log.PID < 0) {
			t.Fatalf("bad log %+v", *s.Log)
		}
	default:
		t.Fatalf("state %q", s.State)
	}
	if s.Up() != (s.State == "run") {
		t.Fatal("Up() disagrees with State")
	}
}

func FuzzParseCtlStatus(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, out []byte) {
		st, err := ParseCtlStatus(out)
		if err != nil {
			return
		}
		for _, s := range st.Services {
			checkService(t, s)
		}
	})
}

func FuzzParseCtlRestart(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, out []byte) {
		r, err := ParseCtlRestart(out)
		if err != nil {
			return
		}
		for _, l := range r.Services {
			checkService(t, l.Service)
			if !slices.Contains([]string{"ok", "timeout", "kill", "fail", "warning"}, l.Outcome) {
				t.Fatalf("outcome %q", l.Outcome)
			}
		}
	})
}

func FuzzParseMigrate(f *testing.F) {
	addFixtureSeeds(f)
	f.Add([]byte(unfinishedBBMWithoutCommand(`{job_class_name: "J", table_name: :t, column_name: "c", job_arguments: [nil, {"a" => 1}]}`)))
	f.Fuzz(func(t *testing.T, out []byte) {
		r := ParseMigrate(out)
		for _, m := range r.Migrated {
			if !isDigits(m.Version) || m.Class == "" || m.Seconds < 0 {
				t.Fatalf("bad migration %+v", m)
			}
		}
		fail := r.Failure
		if r.OK() != (fail == nil) || fail == nil {
			return
		}
		kinds := []FailureKind{FailureUnfinishedBBM, FailureFailedToFinalize, FailureConcurrentMigration, FailureGeneric, FailureInterrupted}
		if !slices.Contains(kinds, fail.Kind) {
			t.Fatalf("kind %q", fail.Kind)
		}
		if fail.Version != "" && !isDigits(fail.Version) {
			t.Fatalf("failed version %q", fail.Version)
		}
		if fail.Finalize != nil {
			b := fail.Finalize
			if fail.Kind != FailureUnfinishedBBM || b.JobClass == "" || b.Table == "" || b.Column == "" || !json.Valid([]byte(b.JobArguments)) {
				t.Fatalf("bad finalize %+v", *b)
			}
		}
	})
}

func FuzzParseFinalize(f *testing.F) {
	addFixtureSeeds(f)
	f.Fuzz(func(t *testing.T, out []byte) {
		r := ParseFinalize(out)
		if r.OK() != (r.Done && r.Failure == nil) || r.Failure == nil {
			return
		}
		kinds := []FinalizeFailureKind{FinalizeSpecifyDatabase, FinalizeMissingArgument, FinalizeFailedToFinalize, FinalizeJSONParse, FinalizeUnknownTask, FinalizeGeneric}
		if !slices.Contains(kinds, r.Failure.Kind) {
			t.Fatalf("kind %q", r.Failure.Kind)
		}
		if (r.Failure.Argument != "") && r.Failure.Kind != FinalizeMissingArgument {
			t.Fatalf("argument on %+v", r.Failure)
		}
	})
}

// FuzzRubyInspectToJSON: whatever it accepts must come out as valid JSON.
func FuzzRubyInspectToJSON(f *testing.F) {
	for _, s := range []string{
		`{:job_class_name=>"CopyColumnUsingBackgroundMigrationJob", :table_name=>:projects, :column_name=>"id", :job_arguments=>[["id"], ["id_convert_to_bigint"]]}`,
		`{job_class_name: "X", table_name: :t, column_name: :c, job_arguments: [nil, 1.5e+20, -3, "\u{1F600}\xff\e"]}`,
		`{"k" => {"n" => [true, false]}, 1=>2}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		js, err := rubyInspectToJSON(s)
		if err == nil && !json.Valid([]byte(js)) {
			t.Fatalf("%q -> invalid JSON %q", s, js)
		}
	})
}

// FuzzParseStatusRow compares the hand-written row scanner with the regexp
// it implements on single lines, where the fuzzer is fastest.
func FuzzParseStatusRow(f *testing.F) {
	for _, s := range []string{
		"   up     20250610142207  Add creation state to ci runners",
		"  down    20250611093054  Create project compliance violations",
		"   up      0 ", "\t\fup\t1\tx", "  down    2025061014220  x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, line string) {
		if strings.ContainsAny(line, "\n") {
			return // lines never contain one
		}
		checkStatusRowMatchesRE(t, line)
		for _, end := range []string{"", "\n", "\r\n", "\r"} {
			checkExactRowAgrees(t, line+end)
		}
	})
}
