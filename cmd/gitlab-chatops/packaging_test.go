package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

const (
	exampleConfig = "../../packaging/bot.example.yaml"
	botUnit       = "../../packaging/gitlab-chatops.service"
)

// TestBotExampleConfigPasses: packaging/bot.example.yaml is accepted by
// `config check --for serve` as it stands, its files moved from
// /etc/gitlab-chatops to a directory holding real certificates and keys,
// and its secrets in the environment as the systemd unit's
// EnvironmentFile gives them. It holds no secret itself.
func TestBotExampleConfigPasses(t *testing.T) {
	clearChatEnv(t)
	t.Setenv(envAuditKey, "")
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-example-test")
	t.Setenv("SLACK_SIGNING_SECRET", "example-signing-secret")
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	etc := t.TempDir()
	if err := agent.GenerateCerts(etc, []string{"gitlab-1.example.com"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(etc, "audit.key"), []byte("example-audit-key-0123456789abcdef0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bot.yaml")
	if err := os.WriteFile(p, bytes.ReplaceAll(data, []byte("/etc/gitlab-chatops/"), []byte(etc+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--for", "serve", p}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("config check exited %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "no problems found (checked for serve: slack; 1 host(s))") {
		t.Errorf("config check said %q", stdout.String())
	}
	var raw fileConfig
	if !configcheck.New(exampleConfig).Decode(data, &raw) || raw.Slack == nil {
		t.Fatal("the example does not decode, or has no slack section")
	}
	if raw.Slack.BotToken != "" || raw.Slack.SigningSecret != "" || raw.Slack.AppToken != "" || raw.Audit.KeyFile == "" {
		t.Error("the example holds a secret; secrets belong in the environment file or key files")
	}
}

// TestBotUnitMatchesExample: the unit starts serve on the example's
// installed path, its StateDirectory holds the example's store, its
// EnvironmentFile is set, it hardens the service, and its stop timeout
// leaves room for the example's shutdown_grace.
func TestBotUnitMatchesExample(t *testing.T) {
	unit, err := os.ReadFile(botUnit)
	if err != nil {
		t.Fatal(err)
	}
	u := string(unit)
	setting := func(key string) string {
		m := regexp.MustCompile(`(?m)^` + key + `=(.*)$`).FindStringSubmatch(u)
		if m == nil {
			t.Errorf("the unit has no %s=", key)
			return ""
		}
		return m[1]
	}
	if got := setting("ExecStart"); got != "/usr/local/bin/gitlab-chatops serve --config /etc/gitlab-chatops/bot.yaml" {
		t.Errorf("ExecStart=%s", got)
	}
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	store := regexp.MustCompile(`(?m)^store: (\S+)`).FindSubmatch(data)
	if store == nil || filepath.Dir(string(store[1])) != "/var/lib/"+setting("StateDirectory") {
		t.Errorf("the example's store %q is not in the unit's StateDirectory=%s", store, setting("StateDirectory"))
	}
	if setting("EnvironmentFile") == "" || setting("User") == "" || setting("User") == "root" {
		t.Error("the unit needs an EnvironmentFile and a non-root User")
	}
	for _, k := range []string{"NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "CapabilityBoundingSet=", "SystemCallFilter=@system-service",
		"RestartPreventExitStatus=2",        // a configuration error is not restarted into
		"RuntimeDirectory=gitlab-chatops"} { // where config check suggests an admin_socket
		if !strings.Contains(u, "\n"+k+"\n") {
			t.Errorf("the unit lacks %s", k)
		}
	}
	stop, err := time.ParseDuration(setting("TimeoutStopSec"))
	grace := regexp.MustCompile(`(?m)^shutdown_grace: (\S+)`).FindSubmatch(data)
	if err != nil || grace == nil {
		t.Fatalf("TimeoutStopSec=%s, shutdown_grace %q", setting("TimeoutStopSec"), grace)
	}
	if g, err := time.ParseDuration(string(grace[1])); err != nil || stop < g+10*time.Second {
		t.Errorf("TimeoutStopSec=%s leaves no room after shutdown_grace %s", stop, grace[1])
	}
}

// TestBotExampleEtcdSectionPasses: the example's commented storage:
// section for etcd, uncommented in place of store:, is accepted by
// `config check --for serve` with real certificate files at its paths.
func TestBotExampleEtcdSectionPasses(t *testing.T) {
	clearChatEnv(t)
	t.Setenv("SLACK_BOT_TOKEN", "xoxb-example-test")
	t.Setenv("SLACK_SIGNING_SECRET", "example-signing-secret")
	data, err := os.ReadFile(exampleConfig)
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile(`(?m)^# storage:\n(^#   .*\n)+`).Find(data)
	if block == nil {
		t.Fatal("the example has no commented storage: section")
	}
	section := regexp.MustCompile(`(?m)^# `).ReplaceAll(block, nil)
	withEtcd := regexp.MustCompile(`(?m)^store: .*\n`).ReplaceAll(data, section)
	etc := t.TempDir()
	for _, dir := range []string{etc, filepath.Join(etc, "etcd")} {
		if err := agent.GenerateCerts(dir, []string{"gitlab-1.example.com"}, time.Hour); err != nil {
			t.Fatal(err)
		}
	}
	for from, to := range map[string]string{agent.BotFile: "client.pem", agent.BotKeyFile: "client-key.pem"} {
		if err := os.Rename(filepath.Join(etc, "etcd", from), filepath.Join(etc, "etcd", to)); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(etc, "audit.key"), []byte("example-audit-key-0123456789abcdef0123456789\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bot.yaml")
	if err := os.WriteFile(p, bytes.ReplaceAll(withEtcd, []byte("/etc/gitlab-chatops/"), []byte(etc+"/")), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--for", "serve", p}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("config check exited %d:\n%s%s", code, stdout.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "no problems found (checked for serve: slack; 1 host(s); storage on etcd, 3 endpoint(s))") {
		t.Errorf("config check said %q", stdout.String())
	}
}
