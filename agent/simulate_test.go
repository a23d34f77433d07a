package agent

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestSimulateMode runs the real binary in --simulate mode: insecure on
// 127.0.0.1, gitlab-rake and gitlab-ctl played by its own gitlab-sim
// subcommand.
func TestSimulateMode(t *testing.T) {
	port := freePort(t)
	stateDir := t.TempDir()
	logPath := filepath.Join(t.TempDir(), "agent.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(agentBinary(t), "--simulate", "--port", strconv.Itoa(port), "--state-dir", stateDir, "--sim-speed", "0")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logFile.Close()
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGKILL)
		<-exited
		if t.Failed() {
			data, _ := os.ReadFile(logPath)
			t.Logf("agent log:\n%s", data)
		}
	})

	c, err := NewClient(ClientConfig{URL: "http://127.0.0.1:" + strconv.Itoa(port)})
	if err != nil {
		t.Fatal(err)
	}
	ctx := testCtx(t)
	deadline := time.Now().Add(60 * time.Second)
	for {
		hctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Health(hctx)
		cancel()
		if err == nil {
			break
		}
		select {
		case <-exited:
			t.Fatalf("simulator exited: %v", cmd.ProcessState)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("simulator not healthy within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	banner, _ := os.ReadFile(logPath)
	if !strings.Contains(string(banner), "SIMULATED GitLab") {
		t.Errorf("no SIMULATED banner in:\n%s", banner)
	}
	if _, err := os.Stat(filepath.Join(stateDir, "sim-state.json")); err != nil {
		t.Errorf("simulator state: %v", err)
	}

	col := newCollector()
	rec, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus}, col.on)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != StateSucceeded || !strings.Contains(texts(col.lineEvents()), "database: ") {
		t.Errorf("simulated migrate-status: %s\n%s", rec.State, texts(col.lineEvents()))
	}
	if len(rec.Argv) < 3 || rec.Argv[1] != "gitlab-sim" || rec.Argv[2] != "rake" {
		t.Errorf("argv = %q", rec.Argv)
	}
	rec, err = c.Run(ctx, RunRequest{Operation: gitlab.OpServices}, nil)
	if err != nil || rec.Lines == 0 {
		t.Errorf("simulated services: %v %+v", err, rec)
	}
}
