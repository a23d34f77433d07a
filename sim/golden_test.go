package sim

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// The scenarios are built from the fixtures' migrations, services and lock
// ids, so with GITLAB_SIM_NOW fixed their output must equal the fixtures
// byte for byte: stdout exactly, stderr exactly after the banner line.
func TestGoldenOutputsEqualFixtures(t *testing.T) {
	type step struct {
		args    []string // first element rake or ctl
		fixture string
		exit    int
		// shapeOnly compares with numbers replaced (new pids).
		shapeOnly bool
	}
	cases := []struct {
		scenario string
		steps    []step
	}{
		{"default", []step{
			{args: []string{"rake", "db:migrate:status"}, fixture: "migrate-status-single-db-some-down.txt"},
			{args: []string{"ctl", "status"}, fixture: "ctl-status-all-up.txt"},
			{args: []string{"rake", "db:migrate"}, fixture: "migrate-success.txt"},
			{args: []string{"rake", "gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,[[\"id\"]\\,[\"id_convert_to_bigint\"]]]"}, fixture: "finalize-success.txt"},
			{args: []string{"rake", "gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id]"}, fixture: "finalize-fail-missing-argument.txt", exit: 1},
			{args: []string{"ctl", "stop", "sidekiq"}, fixture: "ctl-stop-single.txt"},
			{args: []string{"ctl", "restart", "sidekiq"}, fixture: "ctl-restart-single.txt", shapeOnly: true},
			{args: []string{"ctl", "restart"}, fixture: "ctl-restart.txt", shapeOnly: true},
		}},
		{"up-to-date", []step{
			{args: []string{"rake", "db:migrate:status"}, fixture: "migrate-status-single-db-all-up.txt"},
			{args: []string{"rake", "db:migrate"}, fixture: "migrate-nothing-pending.txt"},
			{args: []string{"rake", "db:migrate:status"}, fixture: "migrate-status-single-db-all-up.txt"},
		}},
		{"bbm-unfinished", []step{
			{args: []string{"rake", "db:migrate"}, fixture: "migrate-fail-batched-bbm.txt", exit: 1},
		}},
		{"decomposed", []step{
			{args: []string{"rake", "gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,[]]"}, fixture: "finalize-fail-specify-database.txt", exit: 1},
			{args: []string{"rake", "db:migrate"}, fixture: "migrate-success-multi-db.txt"},
		}},
		{"services-down", []step{
			{args: []string{"ctl", "status"}, fixture: "ctl-status-some-down.txt", exit: 6},
		}},
		{"runsvdir-down", []step{
			{args: []string{"ctl", "status"}, fixture: "ctl-status-runsvdir-down.txt", exit: 15},
		}},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			h := newHost(t, c.scenario)
			for _, st := range c.steps {
				out, errs, code := h.main(st.args...)
				if code != st.exit {
					t.Fatalf("%v: exit %d, want %d\n%s%s", st.args, code, st.exit, out, errs)
				}
				wantOut, wantErr := splitAborted(fixture(t, st.fixture))
				if st.shapeOnly {
					sameBytes(t, st.fixture, shape(out), shape(wantOut))
				} else {
					sameBytes(t, st.fixture+" (stdout)", out, wantOut)
				}
				sameBytes(t, st.fixture+" (stderr)", errs, wantErr)
			}
		})
	}
}

// A failed batched migration that the runner cannot finish: finalize prints
// finalize-fail.txt exactly.
func TestGoldenFinalizeFailedToFinalize(t *testing.T) {
	h := newHost(t, "bbm-unfinished")
	s := h.load()
	b := s.db("main").findBBM(bbmMRMetrics)
	b.Status, b.Stuck = "failed", true
	if err := (store{h.state}).save(s); err != nil {
		t.Fatal(err)
	}
	out, errs := h.mustRake(1, `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,[["id"]\,["id_convert_to_bigint"]]]`)
	_, want := splitAborted(fixture(t, "finalize-fail.txt"))
	sameBytes(t, "finalize-fail.txt", errs, want)
	if out != "" {
		t.Fatalf("stdout %q, want nothing", out)
	}
	if got := h.load().db("main").findBBM(bbmMRMetrics).Status; got != "failed" {
		t.Fatalf("status after failed finalize: %s, want failed", got)
	}
}

// The fixture rows of migrate-status-large.txt and friends follow Rails'
// layout; the simulator's rows must have exactly that layout for every
// scenario (status.center(8), 2 spaces, version.ljust(14), 2 spaces, name).
func TestStatusRowLayout(t *testing.T) {
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			h := newHost(t, sc.name)
			out, _, code := h.rake("db:migrate:status")
			if sc.name == "runsvdir-down" {
				if code != 1 {
					t.Fatalf("exit %d with the supervisor down, want 1", code)
				}
				return
			}
			if code != 0 {
				t.Fatalf("exit %d", code)
			}
			for _, line := range strings.Split(out, "\n") {
				switch {
				case line == "", strings.HasPrefix(line, "database: "),
					line == " Status   Migration ID    Migration Name", line == strings.Repeat("-", 50):
				case strings.HasPrefix(line, "   up     ") || strings.HasPrefix(line, "  down    "):
					if len(line) < 26 || line[24:26] != "  " || strings.Trim(line[10:24], "0123456789") != "" {
						t.Fatalf("bad row %q", line)
					}
				default:
					t.Fatalf("unexpected line %q", line)
				}
			}
		})
	}
}

// The state file is indented JSON that round-trips.
func TestStateFileIsReadableJSON(t *testing.T) {
	h := newHost(t, "decomposed-bbm-unfinished")
	data, err := os.ReadFile(h.state)
	if err != nil {
		t.Fatal(err)
	}
	var s State
	if err := json.Unmarshal(data, &s); err != nil {
		t.Fatal(err)
	}
	if s.Scenario != "decomposed-bbm-unfinished" || len(s.Databases) != 2 || len(s.Services) != 15 {
		t.Fatalf("unexpected state: scenario %q, %d databases, %d services", s.Scenario, len(s.Databases), len(s.Services))
	}
	if !strings.Contains(string(data), "\n  \"databases\": [") {
		t.Fatal("state is not indented")
	}
}
