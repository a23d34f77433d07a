package agent

import (
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

func TestStripControl(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"plain line", "plain line"},
		{"\x1b[32m== 1 CreateUsers: migrated\x1b[0m", "== 1 CreateUsers: migrated"},
		{"\x1b[1;31mrake aborted!\x1b[m", "rake aborted!"},
		{"\x1b]0;title\x07after", "after"},
		{"\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\", "link"},
		{"10%\r20%\r100%", "10%20%100%"},
		{"tab\tkept", "tab\tkept"},
		{"\x1b(Bcharset", "Bcharset"},
		{"bell\x07 and del\x7f", "bell and del"},
		{"cut at the end \x1b[", "cut at the end "},
	} {
		if got := string(stripControl([]byte(tc.in))); got != tc.want {
			t.Errorf("stripControl(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

// TestRubyLinesArriveLive runs a real Ruby child as the job, printing a
// line a second: each line reaches the client while the child still runs
// (Ruby line-buffers on the terminal the agent gives it), on stdout
// without "\r" or escape codes, while stderr stays its own stream.
func TestRubyLinesArriveLive(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		if os.Getenv("REQUIRE_RAKE") != "" {
			t.Fatalf("REQUIRE_RAKE is set but ruby is not installed: %v (apt-get install ruby)", err)
		}
		t.Skip("ruby is not installed (apt-get install ruby); CI runs this with REQUIRE_RAKE=1")
	}
	certs := testCerts(t)
	cfg := testConfig(t, fakeGitLab(t, nil), certs)
	script := `warn "to stderr"; puts "tty #{STDOUT.tty?}"; 3.times { |i| puts "\e[32mline #{i}\e[0m"; sleep 1 }`
	cfg.Rake = Program{Path: ruby, Args: []string{"-e", script}}
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)

	type arrival struct {
		ev Event
		at time.Time
	}
	var mu sync.Mutex
	var got []arrival
	rec, err := c.Run(testCtx(t), RunRequest{Operation: gitlab.OpMigrateStatus}, func(ev Event) error {
		mu.Lock()
		got = append(got, arrival{ev, time.Now()})
		mu.Unlock()
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != StateSucceeded {
		t.Fatalf("job %s: %s", rec.State, rec.Error)
	}
	var lines []arrival
	var end time.Time
	for _, a := range got {
		switch a.ev.Type {
		case EventLine:
			lines = append(lines, a)
		case EventEnd:
			end = a.at
		}
	}
	var texts []string
	for _, a := range lines {
		texts = append(texts, a.ev.Line.Stream+":"+a.ev.Line.Text)
	}
	want := map[string]bool{"stderr:to stderr": true, "stdout:tty true": true, "stdout:line 0": true, "stdout:line 1": true, "stdout:line 2": true}
	if len(texts) != len(want) {
		t.Fatalf("lines %q, want %d lines: %v", texts, len(want), want)
	}
	for _, s := range texts {
		if !want[s] {
			t.Errorf("unexpected line %q (all: %q)", s, texts)
		}
	}
	// Ruby printed line i at about i seconds and exited at about 3 s.
	// Block-buffered, every line would arrive with the exit; live, line 0
	// arrives seconds before it and line 1 a second before. (Bounds are
	// generous: the machine may be busy.)
	var at []time.Time
	for _, a := range lines {
		if strings.HasPrefix(a.ev.Line.Text, "line ") {
			at = append(at, a.at)
		}
	}
	if len(at) != 3 {
		t.Fatalf("%d numbered lines, want 3", len(at))
	}
	for i, min := range []time.Duration{1500 * time.Millisecond, 500 * time.Millisecond} {
		if before := end.Sub(at[i]); before < min {
			t.Errorf("line %d arrived only %s before the end: the output was buffered until the exit", i, before)
		}
	}
}
