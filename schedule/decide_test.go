package schedule_test

import (
	"slices"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

func facts(kv ...string) map[string]string {
	m := make(map[string]string)
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return m
}

var (
	allUp    = schedule.Result{Facts: facts("main", "all up", "ci", "all up")}
	mainDown = schedule.Result{Facts: facts("main", "2 down", "ci", "all up"), Problem: true}
	failed   = schedule.Result{Failed: true, Reason: "agent unreachable"}
	failed2  = schedule.Result{Failed: true, Reason: "rake aborted"}
)

func TestDecide(t *testing.T) {
	none := schedule.Result{}
	tests := []struct {
		name       string
		when       string
		posted     schedule.Result
		hasPosted  bool
		now        schedule.Result
		wantPost   bool
		wantChange []string
		recovered  bool
	}{
		{"always: first run", schedule.WhenAlways, none, false, allUp, true, nil, false},
		{"always: same again", schedule.WhenAlways, allUp, true, allUp, true, nil, false},
		{"empty when is always", "", allUp, true, allUp, true, nil, false},

		{"changed: first run posts", schedule.WhenChanged, none, false, allUp, true, nil, false},
		{"changed: same is silent", schedule.WhenChanged, allUp, true, allUp, false, nil, false},
		{"changed: a fact changed", schedule.WhenChanged, mainDown, true, allUp, true, []string{"main: 2 down → all up"}, true},
		{"changed: failed after facts", schedule.WhenChanged, allUp, true, failed, true,
			[]string{"ci: all up → run failed (agent unreachable)", "main: all up → run failed (agent unreachable)"}, false},
		{"changed: failing again with another reason is the same", schedule.WhenChanged, failed, true, failed2, false,
			[]string{"run failed (agent unreachable) → run failed (rake aborted)"}, false},

		{"problems: first run fine is silent", schedule.WhenProblems, none, false, allUp, false, nil, false},
		{"problems: first run with a problem", schedule.WhenProblems, none, false, mainDown, true, nil, false},
		{"problems: a problem again posts again", schedule.WhenProblems, mainDown, true, mainDown, true, nil, false},
		{"problems: a failed run is a problem", schedule.WhenProblems, allUp, true, failed, true,
			[]string{"ci: all up → run failed (agent unreachable)", "main: all up → run failed (agent unreachable)"}, false},
		{"problems: recovery posts once", schedule.WhenProblems, mainDown, true, allUp, true, []string{"main: 2 down → all up"}, true},
		{"problems: recovery from a failed run", schedule.WhenProblems, failed, true, allUp, true,
			[]string{"ci: run failed (agent unreachable) → all up", "main: run failed (agent unreachable) → all up"}, true},
		{"problems: fine after a posted recovery is silent", schedule.WhenProblems, allUp, true, allUp, false, nil, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			post, p := schedule.Decide(tt.when, tt.posted, tt.hasPosted, tt.now)
			if post != tt.wantPost {
				t.Errorf("post = %v, want %v", post, tt.wantPost)
			}
			if !slices.Equal(p.Changes, tt.wantChange) {
				t.Errorf("changes = %q, want %q", p.Changes, tt.wantChange)
			}
			if p.Recovered != tt.recovered {
				t.Errorf("recovered = %v, want %v", p.Recovered, tt.recovered)
			}
			if p.CatchUp || p.Manual {
				t.Errorf("Decide set CatchUp or Manual: %+v", p)
			}
		})
	}
}

func TestChanges(t *testing.T) {
	tests := []struct {
		name        string
		before, now schedule.Result
		want        []string
	}{
		{"equal", allUp, allUp, nil},
		{"one subject", mainDown, allUp, []string{"main: 2 down → all up"}},
		{"a subject appears", schedule.Result{Facts: facts("main", "all up")}, allUp, []string{"ci: (none) → all up"}},
		{"a subject disappears", allUp, schedule.Result{Facts: facts("main", "all up")}, []string{"ci: all up → (gone)"}},
		{"several hosts, subject order", schedule.Result{Facts: facts("gitlab-2 main", "1 down", "gitlab-1 main", "all up")},
			schedule.Result{Facts: facts("gitlab-2 main", "all up", "gitlab-1 main", "3 down")},
			[]string{"gitlab-1 main: all up → 3 down", "gitlab-2 main: 1 down → all up"}},
		{"a failed run keeps the facts it has", allUp, schedule.Result{Failed: true, Reason: "agent unreachable", Facts: facts("main", "all up")},
			[]string{"ci: all up → run failed (agent unreachable)"}},
		{"failed without subjects", schedule.Result{}, failed, []string{"run succeeded → run failed (agent unreachable)"}},
		{"recovered without subjects", failed, schedule.Result{}, []string{"run failed (agent unreachable) → run succeeded"}},
		{"failed without a reason", allUp, schedule.Result{Failed: true, Facts: facts("main", "all up")}, []string{"ci: all up → run failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schedule.Changes(tt.before, tt.now); !slices.Equal(got, tt.want) {
				t.Errorf("Changes = %q, want %q", got, tt.want)
			}
		})
	}
}
