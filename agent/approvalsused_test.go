package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestUsedApprovalsFile: entries survive reopening until they expire; a
// line torn by a crash is dropped (its job never started); an edited file
// stops the agent rather than forgetting what was used.
func TestUsedApprovalsFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), usedApprovalsName)
	now := time.Now()
	u, err := openUsedApprovals(path, now)
	if err != nil {
		t.Fatal(err)
	}
	if err := u.add("r-short", now.Add(time.Minute), now); err != nil {
		t.Fatal(err)
	}
	if err := u.add("r-long", now.Add(time.Hour), now); err != nil {
		t.Fatal(err)
	}
	u.Close()
	// A crash while appending a third entry.
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(`{"request_id":"r-torn","expi`)
	f.Close()

	later := now.Add(10 * time.Minute)
	u, err = openUsedApprovals(path, later)
	if err != nil {
		t.Fatalf("a torn last line must not stop the agent: %v", err)
	}
	for id, want := range map[string]bool{"r-long": true, "r-short": false, "r-torn": false} {
		if got := u.used(id, later); got != want {
			t.Errorf("used(%s) = %v after reopening, want %v", id, got, want)
		}
	}
	u.Close()
	data, _ := os.ReadFile(path)
	if strings.Count(string(data), "\n") != 1 || !strings.Contains(string(data), "r-long") {
		t.Errorf("the file was not compacted to the live entry:\n%s", data)
	}

	if err := os.WriteFile(path, []byte("not json\n"+string(data)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := openUsedApprovals(path, later); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("an edited file: want an error naming line 1, got %v", err)
	}
}
