package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// cutProxy forwards TCP connections from the bot to the agent. The first
// connection that carries a migrate run is cut as soon as the agent starts
// answering it: the agent has started the job, the bot never sees the job
// event. With hold, that connection is not cut but held: nothing of the
// answer reaches the bot, and held is closed, until the bot hangs up.
type cutProxy struct {
	ln     net.Listener
	target string
	hold   bool
	held   chan struct{}
	cut    atomic.Bool // set once the migrate connection was cut (or held)
	wg     sync.WaitGroup
}

func startCutProxy(t *testing.T, target string, hold bool) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target, hold: hold, held: make(chan struct{})}
	p.wg.Add(1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.wg.Wait() })
	return p
}

func (p *cutProxy) serve() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.wg.Add(1)
		go func() { defer p.wg.Done(); p.relay(c) }()
	}
}

func (p *cutProxy) relay(client net.Conn) {
	defer client.Close()
	upstream, err := net.Dial("tcp", p.target)
	if err != nil {
		return
	}
	defer upstream.Close()
	var doom atomic.Bool // this connection carries the migrate run
	done := make(chan struct{})
	go func() {
		defer close(done)
		defer upstream.Close() // the bot hung up: so does the agent's side
		buf := make([]byte, 32<<10)
		for {
			n, err := client.Read(buf)
			if n > 0 {
				if !p.cut.Load() && bytes.Contains(buf[:n], []byte(`"operation":"migrate"`)) {
					doom.Store(true)
				}
				if _, werr := upstream.Write(buf[:n]); werr != nil {
					return
				}
			}
			if err != nil {
				return
			}
		}
	}()
	buf := make([]byte, 32<<10)
	for {
		n, err := upstream.Read(buf)
		if n > 0 && doom.Load() && p.cut.CompareAndSwap(false, true) {
			// The agent answered the run: it has admitted and started the
			// job. Drop the connection without passing anything on, or
			// hold it until the bot goes away.
			if p.hold {
				close(p.held)
				<-done
				return
			}
			if tc, ok := client.(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset, as a broken network gives
			}
			return
		}
		if n > 0 {
			if _, werr := client.Write(buf[:n]); werr != nil {
				return
			}
		}
		if err != nil {
			upstream.Close()
			<-done
			return
		}
	}
}

// botConfig writes a bot configuration whose only host is agentURL, an
// agent --simulate with state in agentDir (which holds the approval key).
func botConfig(t *testing.T, dir, agentDir, agentURL string) (config, store string) {
	t.Helper()
	config = filepath.Join(dir, "bot.yaml")
	store = filepath.Join(dir, "chatops.db")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("store: %s\naudit: {key_file: %s}\napproval_key: %s\nhosts:\n  - name: gitlab-sim\n    agent: %s\n",
		store, writeAuditKey(t, dir), filepath.Join(agentDir, agent.ApprovalKeyFile), agentURL)), 0o600); err != nil {
		t.Fatal(err)
	}
	return config, store
}

// consoleBot is a bot process on the console, fed line by line.
type consoleBot struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	out   *lineWatcher
}

func startConsoleBot(t *testing.T, ctx context.Context, config string) *consoleBot {
	t.Helper()
	cmd := exec.CommandContext(ctx, binary, "console", "--config", config)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	b := &consoleBot{cmd: cmd, stdin: stdin, out: &lineWatcher{}}
	go b.out.consume(stdout)
	return b
}

// approveMigrate opens a migrate as alice and approves it as bob.
func (b *consoleBot) approveMigrate(t *testing.T) {
	t.Helper()
	fmt.Fprintln(b.stdin, "alice: /gitlab-migrations migrate -- upgrade to 17.5")
	id := b.out.wait(t, regexp.MustCompile(`click approve ([a-z0-9]+)`))[1]
	fmt.Fprintln(b.stdin, "bob: /gitlab-migrations approve "+id)
}

// finish closes the bot's input and waits for it to end its work.
func (b *consoleBot) finish(t *testing.T) string {
	t.Helper()
	b.stdin.Close()
	if err := b.cmd.Wait(); err != nil {
		t.Fatalf("bot: %v\n%s", err, b.out.String())
	}
	return b.out.String()
}

// migrateRecord returns the one migrate job the agent ran, failing if it
// ran none or several.
func migrateRecord(t *testing.T, agentDir string) (state string) {
	t.Helper()
	if n := migrateJobs(t, agentDir); n != 1 {
		t.Fatalf("the agent ran migrate %d times, want exactly 1", n)
	}
	files, _ := filepath.Glob(filepath.Join(agentDir, "jobs", "*", "record.json"))
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Operation, State string }
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Operation == "migrate" {
			return rec.State
		}
	}
	return ""
}

// TestConnectionCutBeforeJobEvent: the connection breaks after the agent
// started the migrate and before its job event reached the bot. The bot
// asks the agent for the request's job, follows it, and the thread ends
// with the true outcome; migrate ran once.
func TestConnectionCutBeforeJobEvent(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	dir := t.TempDir()
	port := freePort(t)
	agentDir := filepath.Join(dir, "agent")
	startAgent(t, agentDir, port)
	proxy := startCutProxy(t, fmt.Sprintf("127.0.0.1:%d", port), false)
	config, store := botConfig(t, dir, agentDir, "http://"+proxy.ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	b := startConsoleBot(t, ctx, config)
	b.approveMigrate(t)
	got := b.finish(t)
	if !proxy.cut.Load() {
		t.Fatalf("the proxy never cut the migrate's connection; the test proves nothing:\n%s", got)
	}
	if state := migrateRecord(t, agentDir); state != "succeeded" {
		t.Fatalf("the agent's migrate %s, want succeeded", state)
	}
	mustContain(t, got,
		"DB:MIGRATE ON GITLAB-SIM SUCCEEDED",
		"ALL UP ON GITLAB-SIM",
		"DONE: MIGRATE ON GITLAB-SIM SUCCEEDED",
	)
	mustContain(t, auditVerifyFile(t, store), "audit trail intact")
}

// TestR4AgentKilledMidMigrate (issue 15, R4: a killed agent is reported
// with a next step; the bot's side is TestR4BotKilledMidMigrate): the
// agent is kill -9ed while the migrate runs and is back 20 s later on the
// same state directory and port. Meanwhile the request stays running, the
// thread says the outcome is unknown and what to check (the agent's
// systemd unit and journal; not to run it again by hand), and the request
// card says it too, audited as the request's note. Then the bot
// re-attaches and the request ends interrupted, as the agent recorded it:
// the thread says what to do next (check the host before running it
// again) and shows what is still down; the stored request is interrupted
// and its end is audited. migrate ran once.
func TestR4AgentKilledMidMigrate(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	if testing.Short() {
		t.Skip("takes over 20 s")
	}
	dir := t.TempDir()
	port := freePort(t)
	agentDir := filepath.Join(dir, "agent")
	stopAgent := startAgentProcess(t, agentDir, port)
	config, store := botConfig(t, dir, agentDir, fmt.Sprintf("http://127.0.0.1:%d", port))
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	b := startConsoleBot(t, ctx, config)
	b.approveMigrate(t)
	b.out.wait(t, regexp.MustCompile(`agent job \S+`))
	stopAgent()
	b.out.wait(t, regexp.MustCompile(`OUTCOME UNKNOWN: AGENT UNREACHABLE`))
	mustContain(t, b.out.String(), "systemctl status gitlab-chatops-agent")
	// The request's card says it too, from the stored request's note.
	b.out.wait(t, regexp.MustCompile(`Outcome unknown: agent unreachable since \d\d:\d\d UTC`))
	time.Sleep(20 * time.Second)
	if strings.Contains(b.out.String(), "DONE: MIGRATE") {
		t.Fatalf("the request ended while the agent was down:\n%s", b.out.String())
	}
	startAgent(t, agentDir, port)
	got := b.finish(t)

	// The agent died with the job (Pdeathsig): its record says interrupted.
	state := migrateRecord(t, agentDir)
	if state != "interrupted" {
		t.Fatalf("the agent recorded the migrate %s, want interrupted (the agent was killed)", state)
	}
	mustContain(t, got,
		"answers again",
		"INTERRUPTED: MIGRATE ON GITLAB-SIM",
		"the agent stopped while the job ran",
		"check the host's state before running it again",
		"STILL DOWN ON GITLAB-SIM",
	)
	mustContain(t, auditVerifyFile(t, store), "audit trail intact")
	// The request ended interrupted, in the store and in the audit trail.
	id, outcome := finishedRequest(t, store)
	if outcome != string(approvals.StateInterrupted) {
		t.Errorf("the audit trail ends request %s with outcome %q, want interrupted", id, outcome)
	}
	db, err := storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if req, err := db.Request(context.Background(), id); err != nil || req.State != approvals.StateInterrupted {
		t.Errorf("request %s is stored %v (%v), want interrupted", id, req.State, err)
	}
	// The note was stored (audited) while the agent was away and cleared
	// when it answered again.
	mustContain(t, strings.Join(notes(t, store), "\n"), "outcome unknown: agent unreachable since", "note cleared")
}

// finishedRequest returns the one request whose end (request.finished)
// store's audit trail holds, and the outcome it was audited with.
func finishedRequest(t *testing.T, store string) (id, outcome string) {
	t.Helper()
	n := 0
	for _, e := range auditTrail(t, store) {
		if e.Action == approvals.ActionRequestFinished {
			id, outcome = e.RequestID, e.Outcome
			n++
		}
	}
	if n != 1 {
		t.Fatalf("the audit trail holds %d request ends, want 1", n)
	}
	return id, outcome
}

// notes returns the details of the request.noted audit entries in store.
func notes(t *testing.T, store string) []string {
	t.Helper()
	db, err := storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := db.TailAudit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if e.Action == approvals.ActionRequestNoted {
			out = append(out, e.Detail)
		}
	}
	return out
}

// startAgentProcess is startAgent with a way to kill the agent (SIGKILL:
// a crash) before the test ends.
func startAgentProcess(t *testing.T, dir string, port int) (kill func()) {
	t.Helper()
	cmd := exec.Command(agentBinary, "--simulate", "--port", fmt.Sprint(port), "--state-dir", dir, "--sim-speed", "2", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	kill = func() { once.Do(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }) }
	t.Cleanup(kill)
	waitHealthy(t, port)
	return kill
}

// TestSigtermBeforeJobIDStored: SIGTERM reaches the bot after the agent
// started the migrate and before the bot learnt (and could store) the job
// ID. The next bot process finds the job by request ID, follows it, and
// the thread ends with the true outcome; migrate ran once.
func TestSigtermBeforeJobIDStored(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	dir := t.TempDir()
	port := freePort(t)
	agentDir := filepath.Join(dir, "agent")
	startAgent(t, agentDir, port)
	proxy := startCutProxy(t, fmt.Sprintf("127.0.0.1:%d", port), true)
	config, store := botConfig(t, dir, agentDir, "http://"+proxy.ln.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()

	first := startConsoleBot(t, ctx, config)
	first.approveMigrate(t)
	select {
	case <-proxy.held:
	case <-time.After(90 * time.Second):
		t.Fatalf("the migrate never reached the agent:\n%s", first.out.String())
	}
	if err := first.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	_ = first.cmd.Wait()
	if strings.Contains(first.out.String(), "agent job ") {
		t.Fatalf("the first bot saw the job; the test proves nothing:\n%s", first.out.String())
	}

	second := startConsoleBot(t, ctx, config)
	got := second.finish(t)
	if state := migrateRecord(t, agentDir); state != "succeeded" {
		t.Fatalf("the agent's migrate %s, want succeeded", state)
	}
	mustContain(t, got,
		"The bot restarted;",
		"DB:MIGRATE ON GITLAB-SIM SUCCEEDED",
		"DONE: MIGRATE ON GITLAB-SIM SUCCEEDED",
	)
	mustContain(t, auditVerifyFile(t, store), "audit trail intact")
}
