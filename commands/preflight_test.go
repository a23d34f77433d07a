package commands

import (
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestFinalizePreflightSearchesTheRequestedDatabase: GitLab queues some
// batched migrations on main and ci alike; the requested database decides,
// another is named only when the requested one has none, and no suggested
// line is one pre-flight would refuse.
func TestFinalizePreflightSearchesTheRequestedDatabase(t *testing.T) {
	bm := gitlab.BatchedMigration{JobClass: "CopyColumnUsingBackgroundMigrationJob", Table: "ci_build_needs", Column: "id", JobArguments: `[["id"],["id_convert_to_bigint"]]`}
	row := func(status string) gitlab.BBMRow { return gitlab.BBMRow{Status: status, BatchedMigration: bm} }
	db := func(name string, rows ...gitlab.BBMRow) gitlab.BBMDatabase {
		return gitlab.BBMDatabase{Name: name, Migrations: rows}
	}
	host := Host{Name: "gitlab-1"}
	cases := []struct {
		name   string
		dbs    []gitlab.BBMDatabase
		askDB  string
		ok     string   // the finding when accepted
		says   []string // the refusal
		avoids []string
	}{
		{name: "on both, ci asked", dbs: []gitlab.BBMDatabase{db("main", row("active")), db("ci", row("active"))}, askDB: "ci",
			ok: "exists on ci and is active"},
		{name: "main finished, ci active, ci asked", dbs: []gitlab.BBMDatabase{db("main", row("finished")), db("ci", row("active"))}, askDB: "ci",
			ok: "exists on ci and is active"},
		{name: "main finished, ci active, main asked", dbs: []gitlab.BBMDatabase{db("main", row("finished")), db("ci", row("active"))}, askDB: "main",
			says: []string{"on gitlab-1's main database is already finished", "On ci it is active", "finalize --db ci --host gitlab-1"}},
		{name: "only on ci, finalized, main asked", dbs: []gitlab.BBMDatabase{db("main"), db("ci", row("finalized"))}, askDB: "main",
			says: []string{"on gitlab-1's main database matches", "on ci it is already finalized, so there is nothing to finalize"}, avoids: []string{"request it as", "--db ci"}},
		{name: "only on ci, active, main asked", dbs: []gitlab.BBMDatabase{db("main"), db("ci", row("active"))}, askDB: "main",
			says: []string{"is on the ci database, not main; request it as", "finalize --db ci"}},
		{name: "plain task, on both, main finished", dbs: []gitlab.BBMDatabase{db("main", row("finished")), db("ci", row("active"))},
			says: []string{"Please specify the database", "unfinished on ci", "finalize --db ci --host"}},
		{name: "plain task, unfinished on both", dbs: []gitlab.BBMDatabase{db("main", row("active")), db("ci", row("paused"))},
			says: []string{"unfinished on main and ci; request it for each", "finalize --db main --host", "finalize --db ci --host"}},
		{name: "plain task, all finished", dbs: []gitlab.BBMDatabase{db("main", row("finished")), db("ci", row("finalized"))},
			says: []string{"Please specify the database", "already finished on main: there is nothing to finalize"}, avoids: []string{"request it as"}},
		{name: "one database, --db ci, no such migration", dbs: []gitlab.BBMDatabase{db("")}, askDB: "ci",
			says: []string{"has one database, so there is no finalize:ci task: leave out --db", "no batched background migration there matches"}, avoids: []string{"`/gitlab-migrations"}},
		{name: "one database, --db ci, finished", dbs: []gitlab.BBMDatabase{db("", row("finished"))}, askDB: "ci",
			says: []string{"leave out --db", "is already finished there"}, avoids: []string{"`/gitlab-migrations"}},
		{name: "one database, --db ci, active", dbs: []gitlab.BBMDatabase{db("", row("active"))}, askDB: "ci",
			says: []string{"leave out --db", "`/gitlab-migrations finalize --host gitlab-1 CopyColumnUsingBackgroundMigrationJob"}},
		{name: "one database, active", dbs: []gitlab.BBMDatabase{db("", row("active"))}, ok: "exists and is active"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			a := gitlab.Args{BatchedMigration: bm, Database: c.askDB}
			notes, err := finalizePreflight(host, a, gitlab.BBMStatus{Databases: c.dbs})
			if c.ok != "" {
				if err != nil || len(notes) != 1 || !strings.Contains(notes[0], c.ok) {
					t.Fatalf("got %q, %v; want accepted with %q", notes, err, c.ok)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted with %q", notes)
			}
			for _, w := range c.says {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("refusal lacks %q:\n%s", w, err)
				}
			}
			for _, w := range c.avoids {
				if strings.Contains(err.Error(), w) {
					t.Errorf("refusal has %q:\n%s", w, err)
				}
			}
		})
	}
}

// TestFinalizeCommandQuotesArguments: the suggested line is pasted back as
// a command, so job arguments with a quote in them must come back whole.
func TestFinalizeCommandQuotesArguments(t *testing.T) {
	a := gitlab.Args{BatchedMigration: gitlab.BatchedMigration{JobClass: "SomeJob", Table: "notes", Column: "id", JobArguments: `["it's"]`}}
	line := finalizeCommand(Host{Name: "gitlab-1"}, a, "ci")
	inv, err := Parse(strings.TrimPrefix(line, "/gitlab-migrations "))
	if err != nil {
		t.Fatalf("Parse(%q): %v", line, err)
	}
	if len(inv.Args) != 4 || inv.Args[3] != a.JobArguments || inv.DB != "ci" || inv.Host != "gitlab-1" {
		t.Errorf("Parse(%q) = %+v, want the job arguments %s back on ci", line, inv, a.JobArguments)
	}
}
