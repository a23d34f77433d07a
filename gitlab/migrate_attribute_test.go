package gitlab

import (
	"slices"
	"testing"
)

// TestAttributeDecomposedUnprefixed: the real Rails 6.1 capture names no
// database; the status before the run says main's three versions ran on
// main and the failed one belongs to ci.
func TestAttributeDecomposedUnprefixed(t *testing.T) {
	st, err := ParseMigrateStatus(readFixture(t, "migrate-status-decomposed-before-unprefixed-fail.txt"))
	if err != nil {
		t.Fatal(err)
	}
	raw := ParseMigrate(readFixture(t, "migrate-fail-batched-bbm-decomposed-unprefixed.txt"))
	if raw.Failure == nil || raw.Failure.Database != "" {
		t.Fatalf("the fixture names no database; parsed failure %+v", raw.Failure)
	}
	before := DownBeforeOf(st)
	if !before.Decomposed() || !slices.Equal(before.Databases, []string{"main", "ci"}) {
		t.Fatalf("before = %+v", before)
	}
	r := raw.Attribute(before)
	var dbs []string
	for _, m := range r.Migrated {
		dbs = append(dbs, m.Database+":"+m.Version)
	}
	if want := []string{"main:20231010093001", "main:20231011140224", "main:20231012100547"}; !slices.Equal(dbs, want) {
		t.Errorf("migrated = %v, want %v", dbs, want)
	}
	f := r.Failure
	if f == nil || f.Database != "ci" || f.Version != "20231011100118" || f.Kind != FailureUnfinishedBBM || f.Finalize == nil || f.Finalize.Table != "ci_stages" {
		t.Errorf("failure = %+v", f)
	}
	if raw.Failure.Database != "" || raw.Migrated[0].Database != "" {
		t.Error("Attribute changed its receiver")
	}
}

func TestAttributeRules(t *testing.T) {
	before := DownBefore{Databases: []string{"main", "ci"}, Down: map[string][]string{
		"main": {"1", "2"},
		"ci":   {"2", "3"},
	}}
	tests := []struct {
		name string
		in   AppliedMigration
		want string
	}{
		{"down on main only", AppliedMigration{Version: "1"}, "main"},
		{"down on ci only", AppliedMigration{Version: "3"}, "ci"},
		{"down on both: GitLab did not say", AppliedMigration{Version: "2"}, ""},
		{"down on none: no evidence", AppliedMigration{Version: "4"}, ""},
		{"named by GitLab stays", AppliedMigration{Version: "1", Database: "ci"}, "ci"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := MigrateResult{Migrated: []AppliedMigration{tt.in}, Failure: &MigrateFailure{Kind: FailureGeneric, Version: tt.in.Version, Database: tt.in.Database}}.Attribute(before)
			if got := r.Migrated[0].Database; got != tt.want {
				t.Errorf("migrated database = %q, want %q", got, tt.want)
			}
			if got := r.Failure.Database; got != tt.want {
				t.Errorf("failure database = %q, want %q", got, tt.want)
			}
		})
	}
	t.Run("single database names everything", func(t *testing.T) {
		one := DownBefore{Databases: []string{"main"}, Down: map[string][]string{"main": {"1"}}}
		if got := (MigrateResult{Migrated: []AppliedMigration{{Version: "1"}}}).Attribute(one).Migrated[0].Database; got != "main" {
			t.Errorf("got %q", got)
		}
	})
	t.Run("no evidence", func(t *testing.T) {
		if got := (MigrateResult{Migrated: []AppliedMigration{{Version: "1"}}}).Attribute(DownBefore{}).Migrated[0].Database; got != "" {
			t.Errorf("got %q", got)
		}
	})
}
