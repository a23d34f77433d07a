package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// TestConsoleSeveralHosts: a bot configured with two agent processes
// (over the simulator, in different scenarios; the second marked
// default) answers status without --host from the default host, services
// --host all with one line per host, refuses a migrate that names no
// host, and lists both hosts as reachable.
func TestConsoleSeveralHosts(t *testing.T) {
	dir := t.TempDir()
	var hosts strings.Builder
	for i, scenario := range []string{"bbm-unfinished", "services-down"} {
		name := fmt.Sprintf("gitlab-%d", i+1)
		agentDir := filepath.Join(dir, name)
		port := freePort(t)
		cmd := exec.Command(agentBinary, "--simulate", "--port", fmt.Sprint(port), "--state-dir", agentDir,
			"--scenario", scenario, "--sim-speed", "0", "--log-level", "warn")
		cmd.Stdout, cmd.Stderr = io.Discard, io.Discard
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
		waitHealthy(t, port)
		fmt.Fprintf(&hosts, "  - name: %s\n    agent: http://127.0.0.1:%d\n    approval_key: %s\n", name, port, filepath.Join(agentDir, agent.ApprovalKeyFile))
		if i == 1 {
			hosts.WriteString("    default: true\n")
		}
	}
	config := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf("store: %s\naudit: {key_file: %s}\nhosts:\n%s",
		filepath.Join(dir, "chatops.db"), writeAuditKey(t, dir), hosts.String())), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "console", "--config", config)
	cmd.Stdin = strings.NewReader(strings.Join([]string{
		"alice: /gitlab-migrations status",
		"alice: /gitlab-migrations services --host all",
		"alice: /gitlab-migrations migrate -- upgrade to 17.5",
		"alice: /gitlab-migrations hosts",
	}, "\n") + "\n")
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("console: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	got := out.String()
	mustContain(t, got,
		"MIGRATION STATUS ON GITLAB-2",
		"SERVICES ON EVERY HOST, ASKED BY ALICE",
		"• *gitlab-1*: all 15 services running",
		"• *gitlab-2*: 2 of 15 services not running: puma, sidekiq",
		"migrate changes GitLab and several hosts are configured (gitlab-1, gitlab-2 (default)): name the one it is for with --host NAME, even the default one",
		"• *gitlab-2* (default): reachable, agent dev",
		"• *gitlab-1*: reachable, agent dev",
	)
	if strings.Contains(got, "MIGRATION STATUS ON GITLAB-1") {
		t.Errorf("status without --host ran on gitlab-1, not the default:\n%s", got)
	}
	if strings.Contains(got, "APPROVAL NEEDED") {
		t.Errorf("a migrate without --host opened a request:\n%s", got)
	}
}
