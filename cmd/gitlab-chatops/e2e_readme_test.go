package main

import (
	"os"
	"regexp"
	"strings"
	"testing"
)

// readmeConsoleBlocks returns the README's console examples: the code
// blocks whose every line is `NAME: TEXT`, exactly as written.
func readmeConsoleBlocks(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	line := regexp.MustCompile(`^[a-z]+: /gitlab-migrations `)
	var blocks []string
	for i, part := range strings.Split(string(b), "```") {
		if i%2 == 0 { // outside a fence
			continue
		}
		body := strings.TrimPrefix(part, "\n")
		lines := strings.Split(strings.TrimSuffix(body, "\n"), "\n")
		ok := len(lines) > 0
		for _, l := range lines {
			ok = ok && line.MatchString(l)
		}
		if ok {
			blocks = append(blocks, body)
		}
	}
	return blocks
}

// TestREADMEConsoleExamples pipes the README's console examples, verbatim
// (placeholders and comments included), into the console over the
// simulator, and checks that they do what the README says.
func TestREADMEConsoleExamples(t *testing.T) {
	blocks := readmeConsoleBlocks(t)
	if len(blocks) != 3 {
		t.Fatalf("the README has %d console examples, want 3 (quick start, pasted finalize; the scheduled posts one runs in TestConsoleScheduleREADME)", len(blocks))
	}

	state := t.TempDir()
	out := runConsoleScript(t, state, "default", blocks[0])
	mustContain(t, out,
		"APPROVAL NEEDED: MIGRATE ON GITLAB-SIM",
		"console: <id> stands for the request ID shown on the approval message",
		"ALL UP ON GITLAB-SIM",
		"DONE: MIGRATE ON GITLAB-SIM SUCCEEDED",
	)
	self := section(t, out, "(only alice sees this)")
	if !strings.Contains(self[:min(len(self), 300)], "a different person must approve it.") {
		t.Errorf("alice's own approval is not refused as the README says:\n%s", self)
	}
	if n := strings.Count(out, "DB:MIGRATE ON GITLAB-SIM SUCCEEDED"); n != 1 {
		t.Errorf("migrate ran %d times, want once", n)
	}

	out = runConsoleScript(t, t.TempDir(), "bigint-runbook", blocks[1])
	mustContain(t, out,
		"APPROVAL NEEDED: FINALIZE ON GITLAB-SIM",
		"Job class: `CopyColumnUsingBackgroundMigrationJob`", "Table: `ci_stages`", "Column: `id`",
		"FINALIZED",
		"DONE: FINALIZE ON GITLAB-SIM SUCCEEDED",
	)
	if strings.Contains(out, "(only") {
		t.Errorf("a README line was refused:\n%s", out)
	}
}
