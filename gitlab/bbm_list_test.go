package gitlab

import (
	"strings"
	"testing"
)

func TestParseBBMListFixture(t *testing.T) {
	l, err := ParseBBMList(readFixture(t, "bbm-list.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Migrations) != 9 {
		t.Fatalf("rows = %d, want 9", len(l.Migrations))
	}
	want := BBMListRow{ID: "main_84", Database: "main", Table: "merge_request_metrics", JobClass: "CopyColumnUsingBackgroundMigrationJob", Status: "active"}
	if l.Migrations[3] != want {
		t.Errorf("row 3 = %+v, want %+v", l.Migrations[3], want)
	}
	var pending []string
	for _, r := range l.Pending() {
		pending = append(pending, r.ID+":"+r.Status)
	}
	if got := strings.Join(pending, " "); got != "main_84:active main_85:paused main_86:failed ci_13:finalizing ci_14:active" {
		t.Errorf("pending = %s", got)
	}
	if r := l.Migrations[8]; r.Database != "ci" || r.ID != "ci_14" || r.Table != "p_ci_pipeline_variables" {
		t.Errorf("last row = %+v", r)
	}
}

func TestParseBBMListVariants(t *testing.T) {
	t.Run("progress column, reordered", func(t *testing.T) {
		out := "\nstatus   | id        | job_class_name | table_name | progress\n" +
			"---------|-----------|----------------|------------|---------\n" +
			"active   | main_85   | Backfill       | uploads    | 45.5%   \n" +
			"finished | embedding_3 | Other        | t          | 100%    \n\n"
		l, err := ParseBBMList([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		want := []BBMListRow{
			{ID: "main_85", Database: "main", Table: "uploads", JobClass: "Backfill", Status: "active", Progress: "45.5%"},
			{ID: "embedding_3", Database: "embedding", Table: "t", JobClass: "Other", Status: "finished", Progress: "100%"},
		}
		if len(l.Migrations) != 2 || l.Migrations[0] != want[0] || l.Migrations[1] != want[1] {
			t.Errorf("got %+v", l.Migrations)
		}
	})
	t.Run("empty table", func(t *testing.T) {
		out := "\nid | table_name | job_class_name | status\n---|------------|----------------|-------\n\n"
		l, err := ParseBBMList([]byte(out))
		if err != nil || len(l.Migrations) != 0 {
			t.Errorf("%v %+v", err, l)
		}
	})
	for name, tt := range map[string]struct{ out, want string }{
		"empty":        {"", "no table header"},
		"no header":    {"main_1 | t | J | active\n", "no table header"},
		"short row":    {"id | table_name | job_class_name | status\n--|--|--|--\nmain_1 | t | J\n", "line 3"},
		"no separator": {"id | table_name | job_class_name | status\ngarbage line\n", "line 2"},
		"empty id":     {"id | table_name | job_class_name | status\n | t | J | active\n", "line 2"},
		"rake aborted": {"rake aborted!\nPG::ConnectionBad: boom\n", "PG::ConnectionBad: boom"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseBBMList([]byte(tt.out))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
