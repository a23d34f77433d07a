package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
)

// TestCheckConfigGolden: every mistake of testdata/bad-agent.yaml is
// reported at once, each with its line and key path, and check-config
// exits 2; serve refuses the same file with the same report.
func TestCheckConfigGolden(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", "--config", "testdata/bad-agent.yaml"}, &stdout, &stderr); code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	golden.Check(t, "bad-agent", stderr.Bytes())
	for _, want := range []string{
		`testdata/bad-agent.yaml:3: listen: "0.0.0.0" is not host:port`,
		`tls.key: missing`,
		`tls.client_cert: unknown key`,
		`timeouts.services: "30" needs a unit, e.g. 30s`,
		`max_read_only_jobs: expected a whole number`,
		`shutdown_grace: given twice`,
	} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if n := strings.Count(stderr.String(), "\n"); n < 9 {
		t.Errorf("only %d lines; want every problem", n)
	}

	var serveErr bytes.Buffer
	if code := run([]string{"serve", "--config", "testdata/bad-agent.yaml"}, &bytes.Buffer{}, &serveErr); code != 2 {
		t.Errorf("serve: exit %d, want 2", code)
	}
	if serveErr.String() != stderr.String() {
		t.Errorf("serve reports differently:\n%s", serveErr.String())
	}
}

// TestCheckConfigValid: a good file exits 0 and describes the settings.
func TestCheckConfigValid(t *testing.T) {
	dir := t.TempDir()
	prog := filepath.Join(dir, "gitlab-rake")
	if err := os.WriteFile(prog, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "agent.yaml")
	if err := agent.GenerateApprovalKeys(dir); err != nil {
		t.Fatal(err)
	}
	yaml := "name: gitlab-1\napproval_public_key: " + filepath.Join(dir, agent.ApprovalPublicKeyFile) + "\ninsecure: true\ngitlab_rake: " + prog + "\ngitlab_ctl: " + prog + "\nstate_dir: " + dir + "\n"
	if err := os.WriteFile(cfg, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run([]string{"check-config", "--config", cfg}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	if !strings.Contains(stdout.String(), "is valid") || !strings.Contains(stdout.String(), "127.0.0.1:8765") {
		t.Errorf("stdout:\n%s", stdout.String())
	}
}
