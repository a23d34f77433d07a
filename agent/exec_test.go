package agent

import (
	"os"
	"strings"
	"testing"
	"time"
	"unicode/utf8"
)

type emitted struct {
	text string
	raw  int64
}

// splitThroughPipe feeds data through a real pipe into readLines.
func splitThroughPipe(t *testing.T, data []byte) []emitted {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		// Odd-sized writes so that lines straddle reads.
		for len(data) > 0 {
			n := min(len(data), 7777)
			w.Write(data[:n])
			data = data[n:]
		}
		w.Close()
	}()
	var out []emitted
	readLines(r, StreamStdout, nil, func(_, text string, raw int64) { out = append(out, emitted{text, raw}) }, func() {})
	return out
}

func TestReadLinesSplitting(t *testing.T) {
	exact := strings.Repeat("a", MaxLineBytes)
	// A 3-byte rune straddling the MaxLineBytes boundary must not be cut.
	straddle := strings.Repeat("b", MaxLineBytes-1) + "€" + "tail"
	input := "short\n" + exact + "\n" + straddle + "\n\n" + "bad \xff\xfe bytes\n" + "end"
	got := splitThroughPipe(t, []byte(input))
	want := []emitted{
		{"short", 6},
		{exact, MaxLineBytes + 1}, // exactly the cap: one line, no empty follower
		{strings.Repeat("b", MaxLineBytes-1), MaxLineBytes - 1},
		{"€tail", int64(len("€tail")) + 1},
		{"", 1},
		{"bad \uFFFD bytes", int64(len("bad \xff\xfe bytes")) + 1},
		{"end", 3},
	}
	if len(got) != len(want) {
		t.Fatalf("got %d lines, want %d", len(got), len(want))
	}
	var total int64
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d: got %.60q/%d, want %.60q/%d", i, got[i].text, got[i].raw, want[i].text, want[i].raw)
		}
		if !utf8.ValidString(got[i].text) {
			t.Errorf("line %d is not valid UTF-8", i)
		}
		total += got[i].raw
	}
	if total != int64(len(input)) {
		t.Errorf("raw bytes sum to %d, want %d", total, len(input))
	}
}

func TestBuildArgvNeverUsesAShell(t *testing.T) {
	got := buildArgv("/usr/bin/sudo", Program{Path: "/opt/gitlab/bin/gitlab-rake"}, []string{"db:migrate"})
	want := []string{"/usr/bin/sudo", "-n", "--", "/opt/gitlab/bin/gitlab-rake", "db:migrate"}
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Errorf("argv = %q, want %q", got, want)
	}
	got = buildArgv("", Program{Path: "/self", Args: []string{"gitlab-sim", "rake"}}, []string{"db:migrate:status"})
	if strings.Join(got, "|") != "/self|gitlab-sim|rake|db:migrate:status" {
		t.Errorf("argv = %q", got)
	}
}

func TestPruneOrder(t *testing.T) {
	mk := func(id string, endedSec int64) finishedJob {
		return finishedJob{id: id, ended: time.Unix(endedSec, 0)}
	}
	got := pruneOrder([]finishedJob{mk("c", 3), mk("a", 1), mk("b", 2)}, 1, 2)
	if len(got) != 2 || got[0].id != "a" || got[1].id != "b" {
		t.Errorf("prune = %+v", got)
	}
	if got := pruneOrder([]finishedJob{mk("a", 1)}, 0, 5); got != nil {
		t.Errorf("nothing to prune, got %+v", got)
	}
}
