package main

import (
	"fmt"
	"os"
	"strings"
	"testing"
)

// runbook is the administrator's runbook with GitLab's six finalize lines.
const runbook = "../../../shared/seed/000_e1a28c0720da2aa7.txt"

// smartQuotes does what Slack's autocorrection does to typed quotes.
var smartQuotes = strings.NewReplacer(",'", ",\u2018", "]'", "]\u2019", `["`, "[\u201c", `"]`, "\u201d]", `, "`, ", \u201c", `"\,`, "\u201d\\,")

// TestConsolePastedRunbookFinalize is issue 9's "done when": the six
// finalize lines of the runbook are pasted as GitLab printed them (each in
// a different form), a second person approves each, and each runs once
// over the simulator and finishes its batched migration.
func TestConsolePastedRunbookFinalize(t *testing.T) {
	b, err := os.ReadFile(runbook)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "sudo gitlab-rake gitlab:background_migrations:finalize[") {
			lines = append(lines, l)
		}
	}
	if len(lines) != 6 {
		t.Fatalf("the runbook has %d finalize lines, want 6", len(lines))
	}
	forms := []func(string) string{
		func(l string) string { return l },                                            // as printed, sudo and all
		func(l string) string { return "finalize " + strings.TrimPrefix(l, "sudo ") }, // without sudo
		func(l string) string { return "finalize " + strings.TrimPrefix(l, "sudo gitlab-rake ") },
		func(l string) string { // four arguments, the JSON as GitLab quoted it
			word := strings.TrimPrefix(l, "sudo gitlab-rake gitlab:background_migrations:finalize[")
			parts := strings.SplitN(word, ",", 4)
			return "finalize " + parts[0] + " " + parts[1] + " " + parts[2] + " " + strings.TrimSuffix(parts[3], "]")
		},
		smartQuotes.Replace,                            // typographic quotes
		func(l string) string { return "`" + l + "`" }, // in a chat code span
	}
	var script []string
	for i, l := range lines {
		script = append(script,
			fmt.Sprintf("alice: /gitlab-migrations %s -- runbook step %d", forms[i](l), i+1),
			"bob: /gitlab-migrations approve $LAST")
	}
	script = append(script, "carol: /gitlab-migrations bbm")
	state := t.TempDir()
	out := runConsoleScript(t, state, "bigint-runbook", strings.Join(script, "\n")+"\n")

	if n := strings.Count(out, "APPROVAL NEEDED: FINALIZE ON GITLAB-SIM"); n != 6 {
		t.Errorf("%d approval requests, want 6", n)
	}
	if n := strings.Count(out, "DONE: FINALIZE ON GITLAB-SIM SUCCEEDED"); n != 6 {
		t.Errorf("%d finalize requests succeeded, want 6", n)
	}
	if strings.Contains(out, "(only alice sees this)") {
		t.Errorf("a paste was refused:\n%s", section(t, out, "(only alice sees this)"))
	}
	// Each card shows the decoded values; the third shows build_id's.
	mustContain(t, out,
		"Table: `ci_stages`", "Table: `push_event_payloads`", "Column: `event_id`", "Table: `taggings`",
		"    [\"build_id\"],\n", "    [\"id\",\"taggable_id\"],\n",
		`Command: `+"`"+`gitlab-rake 'gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,deployments,id,[["deployable_id"]\,["deployable_id_convert_to_bigint"]]]'`,
		"Reason: runbook step 6",
		"All 10 finished or finalized: nothing blocks an upgrade.",
	)
	if v := auditVerify(t, state); !strings.Contains(v, "audit trail intact") {
		t.Errorf("audit verify: %s", v)
	}
}

// TestConsolePasteNearMiss: a paste rake would receive differently (here a
// comma GitLab's escaping lost) is refused to its author with the line to
// paste instead, nothing is opened, and that line, pasted, is accepted.
func TestConsolePasteNearMiss(t *testing.T) {
	bad := `alice: /gitlab-migrations sudo gitlab-rake gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"], ["id_convert_to_bigint"]]']`
	fix := `/gitlab-migrations finalize gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\,["id_convert_to_bigint"]]']`
	out := runConsoleScript(t, t.TempDir(), "bigint-runbook", bad+"\nalice: "+fix+" -- as the bot suggested\n")
	refusal := section(t, out, "(only alice sees this)")
	mustContain(t, refusal, "rake would split the JSON at a comma", "Paste this instead:", "`"+fix+"`")
	if n := strings.Count(out, "APPROVAL NEEDED: FINALIZE ON GITLAB-SIM"); n != 1 {
		t.Errorf("%d approval requests, want 1 (the fixed paste only)", n)
	}
	if strings.Index(out, "APPROVAL NEEDED") < strings.Index(out, "(only alice sees this)") {
		t.Error("a request was opened for the refused paste")
	}
}
