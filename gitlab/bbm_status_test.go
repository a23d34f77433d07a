package gitlab

import (
	"strings"
	"testing"
)

func TestParseBBMStatusFixtures(t *testing.T) {
	t.Run("single db", func(t *testing.T) {
		st, err := ParseBBMStatus(readFixture(t, "bbm-status-single-db.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Databases) != 1 || st.Databases[0].Name != "main" || len(st.Databases[0].Migrations) != 6 {
			t.Fatalf("got %+v", st)
		}
		p := st.Pending()
		if len(p) != 3 || st.AllDone() {
			t.Fatalf("pending = %+v", p)
		}
		want := PendingBBM{Database: "main", BBMRow: BBMRow{Status: "active", BatchedMigration: mergeRequestMetricsBBM}}
		if p[0] != want {
			t.Errorf("pending[0] = %+v, want %+v", p[0], want)
		}
		if p[1].Status != "paused" || p[2].Status != "failed" ||
			p[2].JobArguments != `[["id","build_id"],["id_convert_to_bigint","build_id_convert_to_bigint"]]` {
			t.Errorf("pending = %+v", p)
		}
	})
	t.Run("multi db", func(t *testing.T) {
		st, err := ParseBBMStatus(readFixture(t, "bbm-status-multi-db.txt"))
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Databases) != 2 || st.Databases[1].Name != "ci" || len(st.Databases[1].Migrations) != 3 {
			t.Fatalf("got %+v", st)
		}
		var got []string
		for _, p := range st.Pending() {
			got = append(got, p.Database+":"+p.Status+":"+p.JobClass)
		}
		want := "main:active:CopyColumnUsingBackgroundMigrationJob main:paused:BackfillPartitionedUploads main:failed:CopyColumnUsingBackgroundMigrationJob " +
			"ci:finalizing:BackfillCiRunnerMachinesOrganizationId ci:active:BackfillPCiPipelineVariablesProjectId"
		if strings.Join(got, " ") != want {
			t.Errorf("pending\n got %s\nwant %s", strings.Join(got, " "), want)
		}
	})
}

func TestParseBBMStatusVariants(t *testing.T) {
	t.Run("14.x without Database line", func(t *testing.T) {
		st, err := ParseBBMStatus([]byte("finished   | CopyColumnUsingBackgroundMigrationJob,events,id,[[\"id\"],[\"id_convert_to_bigint\"]]\n"))
		if err != nil || len(st.Databases) != 1 || st.Databases[0].Name != "" || !st.AllDone() {
			t.Fatalf("%v %+v", err, st)
		}
	})
	t.Run("empty", func(t *testing.T) {
		st, err := ParseBBMStatus(nil)
		if err != nil || len(st.Databases) != 0 || !st.AllDone() {
			t.Fatalf("%v %+v", err, st)
		}
	})
	t.Run("no migrations yet", func(t *testing.T) {
		st, err := ParseBBMStatus([]byte("Database: main\nDatabase: ci\n"))
		if err != nil || len(st.Databases) != 2 || len(st.Pending()) != 0 {
			t.Fatalf("%v %+v", err, st)
		}
	})
	t.Run("warnings ignored, JSON with commas kept", func(t *testing.T) {
		out := "/opt/x.rb:1: warning: already initialized constant X\nDatabase: main\nactive     | Job,t,c,[{\"a\":1,\"b\":[1,2]},\"x,y\"]\r\n"
		st, err := ParseBBMStatus([]byte(out))
		if err != nil {
			t.Fatal(err)
		}
		if r := st.Databases[0].Migrations[0]; r.JobArguments != `[{"a":1,"b":[1,2]},"x,y"]` || r.Table != "t" || r.Column != "c" || r.Done() {
			t.Errorf("row = %+v", r)
		}
	})
	for name, tt := range map[string]struct{ out, want string }{
		"invalid JSON":  {"Database: main\nfinished   | Job,t,c,[]\nactive     | Job,t,c,[\"id\"\n", "line 3"},
		"three fields":  {"Database: main\nactive     | Job,t,c\n", "line 2"},
		"empty table":   {"active     | Job,,c,[]\n", "line 1"},
		"empty status":  {" | Job,t,c,[]\n", "line 1"},
		"rake aborted!": {"Database: main\nrake aborted!\nPG::ConnectionBad: boom\n", "PG::ConnectionBad: boom"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseBBMStatus([]byte(tt.out))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
