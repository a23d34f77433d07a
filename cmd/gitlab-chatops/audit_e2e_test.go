package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// TestAuditVerifyNamesTamperedEntry edits one byte of the bbolt file where
// an audit entry is stored and checks that `audit verify` exits non-zero
// and names that entry.
func TestAuditVerifyNamesTamperedEntry(t *testing.T) {
	state := t.TempDir()
	runConsoleScript(t, state, "default", "alice: /gitlab-migrations status\nmallory: /gitlab-migrations stauts\nalice: /gitlab-migrations status\n")
	store := filepath.Join(state, "gitlab-chatops.db")
	data, err := os.ReadFile(store)
	if err != nil {
		t.Fatal(err)
	}
	// mallory's refused command is the only audit entry with that name.
	entry := regexp.MustCompile(`\{"seq":(\d+),[^{}]*"actor_name":"mallory"`).FindSubmatchIndex(data)
	if entry == nil {
		t.Fatal("no audit entry by mallory in the database file")
	}
	seq := string(data[entry[2]:entry[3]])
	// bbolt may keep stale copies of the entry in freed pages (the bot
	// writes more than these commands, e.g. its anchor at start): edit
	// every copy, so the live one is edited whichever it is.
	data = bytes.ReplaceAll(data, []byte(`"actor_name":"mallory"`), []byte(`"actor_name":"Mallory"`))
	if err := os.WriteFile(store, data, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(binary, "audit", "verify", "--db", store, "--key-file", filepath.Join(state, "audit.key")).CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("audit verify of a tampered file: %v (want exit 3)\n%s", err, out)
	}
	if !regexp.MustCompile(`BROKEN at entry ` + seq + `\b`).Match(out) {
		t.Errorf("audit verify does not name entry %s:\n%s", seq, out)
	}
}

// writeAuditKey writes a test audit key into dir and returns its path.
func writeAuditKey(t testing.TB, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(p, []byte("test-audit-key-0123456789abcdef0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestAuditVerifyAnchor: the head `audit anchor` posts to the audit channel
// verifies with `audit verify --anchor` after more entries were written; a
// hash that no entry has does not.
func TestAuditVerifyAnchor(t *testing.T) {
	state := t.TempDir()
	out := runConsoleScript(t, state, "default", "alice: /gitlab-migrations status\nalice: /gitlab-migrations audit anchor\nalice: /gitlab-migrations status\n")
	m := regexp.MustCompile("Anchored by alice(?s:.*?)`(\\d+):([0-9a-f]{64})`").FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no anchor posted to #audit:\n%s", out)
	}
	verify := func(anchor string) (string, int) {
		cmd := exec.Command(binary, "audit", "verify", "--db", filepath.Join(state, "gitlab-chatops.db"), "--key-file", filepath.Join(state, "audit.key"), "--anchor", anchor)
		b, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return string(b), ee.ExitCode()
		}
		if err != nil {
			t.Fatal(err)
		}
		return string(b), 0
	}
	got, code := verify(m[1] + ":" + m[2])
	if code != 0 || !strings.Contains(got, "anchor found at entry "+m[1]) {
		t.Fatalf("verify --anchor %s: exit %d\n%s", m[1], code, got)
	}
	got, code = verify(strings.Repeat("ab", 32))
	if code != 3 || !strings.Contains(got, "does NOT match the anchor") {
		t.Fatalf("verify with a foreign anchor: exit %d\n%s", code, got)
	}
	// The anchored hash under another entry number does not verify: the
	// anchor vouches for the entry AT its SEQ.
	seq, _ := strconv.Atoi(m[1])
	got, code = verify(strconv.Itoa(seq+1) + ":" + m[2])
	if code != 3 || !strings.Contains(got, fmt.Sprintf("entry %d does not have the anchored hash", seq+1)) {
		t.Fatalf("verify with the anchored hash under entry %d: exit %d\n%s", seq+1, code, got)
	}
	// The empty trail's anchor, posted when the bot starts on an empty
	// store, verifies too.
	if got, code = verify("0:" + strings.Repeat("0", 64)); code != 0 {
		t.Fatalf("verify with the empty trail's anchor: exit %d\n%s", code, got)
	}
}
