package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// lineWatcher collects a process's output and lets a test wait for a
// pattern in it.
type lineWatcher struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (w *lineWatcher) consume(r io.Reader) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		w.mu.Lock()
		w.buf.WriteString(sc.Text() + "\n")
		w.mu.Unlock()
	}
}

func (w *lineWatcher) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func (w *lineWatcher) wait(t testing.TB, re *regexp.Regexp) []string {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if m := re.FindStringSubmatch(w.String()); m != nil {
			return m
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("timed out waiting for %s in:\n%s", re, w.String())
	return nil
}

func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startAgent runs gitlab-chatops-agent --simulate as its own process, with
// realistic (scaled) delays so that a migrate takes several seconds.
func startAgent(t *testing.T, dir string, port int) {
	t.Helper()
	startAgentSpeed(t, dir, port, "2")
}

// startAgentSpeed is startAgent with the simulator's --sim-speed (at 2 a
// migrate takes about 15 s). It returns the agent's process ID.
func startAgentSpeed(t testing.TB, dir string, port int, speed string) (pid int) {
	t.Helper()
	cmd := exec.Command(agentBinary, "--simulate", "--port", fmt.Sprint(port), "--state-dir", dir, "--sim-speed", speed, "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	waitHealthy(t, port)
	return cmd.Process.Pid
}

// waitHealthy waits until the agent on port answers.
func waitHealthy(t testing.TB, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/v1/health", port))
		if err == nil {
			resp.Body.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("agent did not come up: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestR4BotKilledMidMigrate (issue 15, R4: a killed bot loses nothing;
// the agent's side is TestR4AgentKilledMidMigrate) stops the bot while an
// approved migrate runs on the agent (SIGKILL, kill -9: a crash; SIGTERM:
// a restart by systemd), starts it again on the same bbolt file, and checks that the new
// process re-attaches to the running job, finishes the request properly in
// its thread, and that migrate ran once.
func TestR4BotKilledMidMigrate(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	for _, sig := range []os.Signal{os.Kill, syscall.SIGTERM} {
		t.Run(sig.String(), func(t *testing.T) { testRestartRecovery(t, sig) })
	}
}

func testRestartRecovery(t *testing.T, sig os.Signal) {
	dir := t.TempDir()
	port := freePort(t)
	agentDir := filepath.Join(dir, "agent")
	startAgent(t, agentDir, port)
	config, store := botConfig(t, dir, agentDir, fmt.Sprintf("http://127.0.0.1:%d", port))

	// First bot process: open and approve a migrate, then die mid-run.
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	first := exec.CommandContext(ctx, binary, "console", "--config", config)
	stdin, err := first.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := first.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	first.Stderr = io.Discard
	if err := first.Start(); err != nil {
		t.Fatal(err)
	}
	w1 := &lineWatcher{}
	go w1.consume(stdout)
	fmt.Fprintln(stdin, "alice: /gitlab-migrations migrate -- upgrade to 17.5")
	id := w1.wait(t, regexp.MustCompile(`click approve ([a-z0-9]+)`))[1]
	fmt.Fprintln(stdin, "bob: /gitlab-migrations approve "+id)
	w1.wait(t, regexp.MustCompile(`agent job \S+`))
	if err := first.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	_ = first.Wait()
	if strings.Contains(w1.String(), "SUCCEEDED") {
		t.Fatal("the migrate finished before the bot was killed; the test proves nothing (slow the simulator down)")
	}

	// Second bot process, same database, no input: it must pick the
	// request up by itself and finish it.
	second := exec.CommandContext(ctx, binary, "console", "--config", config)
	second.Stdin = strings.NewReader("")
	var out bytes.Buffer
	second.Stdout, second.Stderr = &out, &out
	if err := second.Run(); err != nil {
		t.Fatalf("second bot: %v\n%s", err, out.String())
	}
	got := out.String()
	mustContain(t, got,
		"The bot restarted; following the job again.",
		"DB:MIGRATE ON GITLAB-SIM SUCCEEDED",
		"ALL UP ON GITLAB-SIM",
		"DONE: MIGRATE ON GITLAB-SIM SUCCEEDED",
	)
	if n := migrateJobs(t, agentDir); n != 1 {
		t.Errorf("the agent ran migrate %d times, want exactly 1", n)
	}
	mustContain(t, auditVerifyFile(t, store), "audit trail intact")
}

func migrateJobs(t *testing.T, agentDir string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(agentDir, "jobs", "*", "record.json"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec struct{ Operation string }
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatal(err)
		}
		if rec.Operation == "migrate" {
			n++
		}
	}
	return n
}

// auditVerifyFile runs `audit verify` on store with the key beside it
// (audit.key, as console --simulate and writeAuditKey leave it).
func auditVerifyFile(t *testing.T, store string) string {
	t.Helper()
	out, err := exec.Command(binary, "audit", "verify", "--db", store, "--key-file", filepath.Join(filepath.Dir(store), "audit.key")).CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	return string(out)
}
