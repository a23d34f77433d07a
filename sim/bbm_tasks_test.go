package sim

import (
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestBBMTasks: which tasks list batched background migrations follows
// State.BBMTasks, and :list prints the 18.x CLI's table as bbm-list.txt
// shows it (every line of the table equally wide, cells padded).
func TestBBMTasks(t *testing.T) {
	cases := []struct {
		scenario     string
		status, list bool
		wantPending  int
	}{
		{"bbm-unfinished", true, false, 1},
		{"bbm-list-only", false, true, 1},
		{"no-bbm-tasks", false, false, 0},
	}
	for _, c := range cases {
		t.Run(c.scenario, func(t *testing.T) {
			h := newHost(t, c.scenario)
			out, stderr, code := h.rake(gitlab.BBMStatusTask)
			if got := code == 0; got != c.status {
				t.Fatalf("status task: exit %d, want it to exist: %v\n%s", code, c.status, stderr)
			}
			if !c.status && !gitlab.MissingTask([]byte(out+stderr), gitlab.BBMStatusTask) {
				t.Errorf("status task missing, but rake does not say so:\n%s", stderr)
			}
			out, stderr, code = h.rake(gitlab.BBMListTask)
			if got := code == 0; got != c.list {
				t.Fatalf("list task: exit %d, want it to exist: %v\n%s", code, c.list, stderr)
			}
			if !c.list {
				if !gitlab.MissingTask([]byte(out+stderr), gitlab.BBMListTask) {
					t.Errorf("list task missing, but rake does not say so:\n%s", stderr)
				}
				return
			}
			l, err := gitlab.ParseBBMList([]byte(out))
			if err != nil {
				t.Fatal(err)
			}
			if len(l.Migrations) != 4 || len(l.Pending()) != c.wantPending || l.Migrations[3].ID != "main_84" || l.Migrations[3].Status != "active" {
				t.Errorf("list: %+v", l)
			}
			lines := strings.Split(out, "\n")
			if lines[0] != "" || !strings.HasPrefix(lines[1], "id      | table_name ") || !strings.HasPrefix(lines[2], "--------|----") {
				t.Errorf("table head:\n%s", out)
			}
			for _, line := range lines[1 : len(lines)-2] {
				if len(line) != len(lines[1]) {
					t.Errorf("line %q is %d wide, the header %d", line, len(line), len(lines[1]))
				}
			}
		})
	}
}
