package commands

import (
	"os"
	"reflect"
	"strings"
	"testing"
)

// TestParseRunbookEveryForm: each of the six finalize lines of the shared
// runbook, typed in every form an administrator may use (with a reason
// after it), parses into finalize with exactly the four intended values.
func TestParseRunbookEveryForm(t *testing.T) {
	b, err := os.ReadFile("../../shared/seed/000_e1a28c0720da2aa7.txt")
	if err != nil {
		t.Fatal(err)
	}
	want := [][]string{
		{"CopyColumnUsingBackgroundMigrationJob", "ci_stages", "id", `[["id"], ["id_convert_to_bigint"]]`},
		{"CopyColumnUsingBackgroundMigrationJob", "ci_builds_metadata", "id", `[["id"], ["id_convert_to_bigint"]]`},
		{"CopyColumnUsingBackgroundMigrationJob", "ci_builds_metadata", "id", `[["build_id"], ["build_id_convert_to_bigint"]]`},
		{"CopyColumnUsingBackgroundMigrationJob", "push_event_payloads", "event_id", `[["event_id"], ["event_id_convert_to_bigint"]]`},
		{"CopyColumnUsingBackgroundMigrationJob", "deployments", "id", `[["deployable_id"], ["deployable_id_convert_to_bigint"]]`},
		{"CopyColumnUsingBackgroundMigrationJob", "taggings", "id", `[["id", "taggable_id"], ["id_convert_to_bigint", "taggable_id_convert_to_bigint"]]`},
	}
	typographic := strings.NewReplacer(",'", ",\u2018", "]'", "]\u2019", `"`, "\u201d")
	var n int
	for _, line := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(line, "sudo gitlab-rake gitlab:background_migrations:finalize[") {
			continue
		}
		w := want[n]
		n++
		task := strings.TrimPrefix(line, "sudo gitlab-rake ")
		quoted := task[strings.Index(task, ",'")+1 : len(task)-1]
		forms := map[string]string{
			"line":                        line,
			"finalize + line":             "finalize " + line,
			"line without sudo":           strings.TrimPrefix(line, "sudo "),
			"task word":                   task,
			"finalize + task word":        "finalize " + task,
			"four arguments, quoted":      "finalize " + strings.Join(w[:3], " ") + " " + quoted,
			"four arguments, bare":        "finalize " + strings.Join(w[:3], " ") + " " + strings.Trim(quoted, "'"),
			"line, typographic quotes":    typographic.Replace(line),
			"four arguments, typographic": typographic.Replace("finalize " + strings.Join(w[:3], " ") + " " + quoted),
		}
		for name, in := range forms {
			inv, err := Parse(in + " -- runbook")
			if err != nil {
				t.Errorf("%s (%s): %v", w[1], name, err)
				continue
			}
			if inv.Sub != "finalize" || !reflect.DeepEqual(inv.Args, w) || inv.DB != "" || inv.Reason != "runbook" {
				t.Errorf("%s (%s): %+v, want finalize %q", w[1], name, inv, w)
			}
		}
	}
	if n != len(want) {
		t.Fatalf("the runbook has %d finalize lines, want %d", n, len(want))
	}
}
