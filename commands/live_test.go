package commands

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// ackingAgent hands each event to the bot's follower first and then, for
// a line "line K", creates the file ack-K that the job waits for before it
// prints line K+1. A job whose lines reached the follower only at its exit
// would wait forever.
type ackingAgent struct {
	Agent
	dir string
}

func (a ackingAgent) ack(on func(agent.Event) error) func(agent.Event) error {
	return func(ev agent.Event) error {
		if err := on(ev); err != nil {
			return err
		}
		if ev.Type == agent.EventLine && ev.Line != nil {
			if k, ok := strings.CutPrefix(ev.Line.Text, "line "); ok {
				return os.WriteFile(filepath.Join(a.dir, "ack-"+k), nil, 0o600)
			}
		}
		return nil
	}
}

func (a ackingAgent) Run(ctx context.Context, req agent.RunRequest, on func(agent.Event) error) (agent.JobRecord, error) {
	return a.Agent.Run(ctx, req, a.ack(on))
}

func (a ackingAgent) Attach(ctx context.Context, id string, from int64, on func(agent.Event) error) (agent.JobRecord, error) {
	return a.Agent.Attach(ctx, id, from, a.ack(on))
}

// liveRuby is the job: it reports what its stdout and stdin are, tries to
// read stdin and to write into it (were stdin the job's terminal, that
// text would come back as output), then prints "line K" and waits for the
// test's ack-K before the next line. Ruby block-buffers stdout into a
// pipe, so on anything but a terminal line 0 would never leave it.
const liveRuby = `dir = ENV.fetch("ACK_DIR")
puts "stdout-tty #{STDOUT.tty?}"
puts "stdin-tty #{STDIN.tty?}"
data = (STDIN.read rescue "unreadable")
puts "stdin [#{data}]"
begin; IO.new(0, "w").write("ECHO-MARK written to stdin\n"); rescue StandardError; end
warn "to stderr"
3.times do |i|
  puts "line #{i}"
  sleep 0.01 until File.exist?(File.join(dir, "ack-#{i}"))
end`

// TestRubyLinesReachTheFollowerLive: through a real agent and the bot's
// job follower, a real Ruby child's line K is taken by the follower
// before the child prints line K+1 (it waits for the test's ack of line
// K), on stdout, without "\r" or escape codes; its stdin is not the
// terminal, and nothing written to or read from stdin ever shows.
func TestRubyLinesReachTheFollowerLive(t *testing.T) {
	ruby, err := exec.LookPath("ruby")
	if err != nil {
		if os.Getenv("REQUIRE_RAKE") != "" {
			t.Fatalf("REQUIRE_RAKE is set but ruby is not installed: %v (apt-get install ruby)", err)
		}
		t.Skip("ruby is not installed (apt-get install ruby); CI runs this with REQUIRE_RAKE=1")
	}
	acks := t.TempDir()
	url, certs := programAgent(t, agent.Program{Path: ruby, Args: []string{"-e", liveRuby}}, "ACK_DIR="+acks)
	c, err := stallClient(url, certs)
	if err != nil {
		t.Fatal(err)
	}
	// A guard against a job stuck behind a buffer (it would wait for an
	// ack forever), not a timing target.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	r := &Router{opt: Options{ProgressEvery: time.Second, Clock: time.Now, RetryMax: time.Second}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rec, out, err := r.runJob(ctx, Host{Name: "live", Agent: ackingAgent{Agent: c, dir: acks}}, agent.RunRequest{Operation: "migrate-status", RequestID: "live-1"}, jobWatch{})
	defer out.close()
	if err != nil {
		t.Fatalf("runJob: %v (a line that never reached the follower leaves the job waiting for its ack)", err)
	}
	if rec.State != agent.StateSucceeded {
		t.Fatalf("job %s: %s", rec.State, rec.Error)
	}
	stdout, stderr := string(out.stdoutBytes()), out.stderr.String()
	want := "stdout-tty true\nstdin-tty false\nstdin []\nline 0\nline 1\nline 2\n"
	if stdout != want {
		t.Errorf("stdout %q, want %q", stdout, want)
	}
	if stderr != "to stderr\n" {
		t.Errorf("stderr %q, want only its own line", stderr)
	}
	for _, bad := range []string{"\r", "\x1b", "ECHO-MARK"} {
		if strings.Contains(stdout+stderr, bad) {
			t.Errorf("output contains %q:\n%s%s", bad, stdout, stderr)
		}
	}
	for i := range 3 {
		if _, err := os.Stat(filepath.Join(acks, "ack-"+string(rune('0'+i)))); err != nil {
			t.Errorf("line %d was never acknowledged: %v", i, err)
		}
	}
}
