package agent

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

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

// TestRubyLinesArriveLive runs a real Ruby child as the job: it prints
// "line K" and then waits for a file the test creates only once the
// client has received line K, so each line must reach the client while
// the child still runs (Ruby line-buffers on the terminal the agent gives
// it; into a pipe it would block-buffer and wait forever). The lines come
// on stdout without "\r" or escape codes, stderr stays its own stream, and
// the child's stdin is not the terminal: nothing read from or written to
// it shows up. commands' TestRubyLinesReachTheFollowerLive checks the same
// through the bot's job follower.
func TestRubyLinesArriveLive(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		if os.Getenv("REQUIRE_RAKE") != "" {
			t.Fatalf("REQUIRE_RAKE is set but ruby is not installed: %v (apt-get install ruby)", err)
		}
		t.Skip("ruby is not installed (apt-get install ruby); CI runs this with REQUIRE_RAKE=1")
	}
	certs := testCerts(t)
	acks := t.TempDir()
	cfg := testConfig(t, fakeGitLab(t, nil), certs)
	script := `warn "to stderr"; puts "tty #{STDOUT.tty?} stdin-tty #{STDIN.tty?} stdin [#{STDIN.read}]"
begin; IO.new(0, "w").write("ECHO-MARK\n"); rescue StandardError; end
3.times { |i| puts "\e[32mline #{i}\e[0m"; sleep 0.01 until File.exist?(File.join(ENV.fetch("ACK_DIR"), "ack-#{i}")) }`
	cfg.Rake = Program{Path: ruby, Args: []string{"-e", script}}
	cfg.Env = append(cfg.Env, "ACK_DIR="+acks)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)

	var texts []string
	rec, err := c.Run(testCtx(t), RunRequest{Operation: gitlab.OpMigrateStatus}, func(ev Event) error {
		if ev.Type != EventLine || ev.Line == nil {
			return nil
		}
		texts = append(texts, ev.Line.Stream+":"+ev.Line.Text)
		if k, ok := strings.CutPrefix(ev.Line.Text, "line "); ok {
			// Only now may the child print the next line.
			return os.WriteFile(filepath.Join(acks, "ack-"+k), nil, 0o600)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("run: %v (a line held back until the exit leaves the child waiting for its ack)", err)
	}
	if rec.State != StateSucceeded {
		t.Fatalf("job %s: %s", rec.State, rec.Error)
	}
	want := map[string]bool{"stderr:to stderr": true, "stdout:tty true stdin-tty false stdin []": true, "stdout:line 0": true, "stdout:line 1": true, "stdout:line 2": true}
	if len(texts) != len(want) {
		t.Fatalf("lines %q, want %d lines: %v", texts, len(want), want)
	}
	for _, s := range texts {
		if !want[s] || strings.ContainsAny(s, "\r\x1b") || strings.Contains(s, "ECHO-MARK") {
			t.Errorf("unexpected line %q (all: %q)", s, texts)
		}
	}
}
