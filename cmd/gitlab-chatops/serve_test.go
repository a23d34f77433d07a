package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

func TestServeRefusesIncompleteConfig(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]string{
		"no platform":    "store: " + filepath.Join(dir, "a.db") + "\n",
		"no store":       "mattermost: {url: http://127.0.0.1:1}\n",
		"unknown key":    "store: x\nslak: {}\n",
		"bad ttl":        "store: x\nslack: {}\npolicy: {request_ttl: soon}\n",
		"bad mattermost": "store: " + filepath.Join(dir, "b.db") + "\nmattermost: {url: ftp://x}\n",
	}
	for name, cfg := range cases {
		p := filepath.Join(dir, strings.ReplaceAll(name, " ", "-")+".yaml")
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		var stderr bytes.Buffer
		code := run(context.Background(), []string{"serve", "--config", p}, nil, &bytes.Buffer{}, &stderr)
		if code == 0 || stderr.Len() == 0 {
			t.Errorf("%s: exit %d, stderr %q; want a clear error", name, code, stderr.String())
		}
	}
}

// TestServeAuditsRefusedCallbacks: the wiring connects the Mattermost
// adapter's refusals to the audit trail.
func TestServeAuditsRefusedCallbacks(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	store := filepath.Join(dir, "chatops.db")
	cfg := fmt.Sprintf(`store: %s
audit: {key_file: %s}
hosts:
  - name: gitlab-1
    agent: http://127.0.0.1:1
mattermost:
  url: http://127.0.0.1:1
  bot_token: test-token
  command_tokens: [slash-token-0123456789]
  action_secret: 0123456789abcdef0123456789abcdef0123456789
  callback_url: http://127.0.0.1:%d/mattermost/actions
  listen: 127.0.0.1:%d
policy:
  approvers: [0123456789abcdefghijklmnop]
`, store, writeAuditKey(t, dir), port, port)
	p := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stderr bytes.Buffer
	go func() {
		done <- run(ctx, []string{"serve", "--config", p, "--log-level", "warn"}, nil, &bytes.Buffer{}, &stderr)
	}()
	url := fmt.Sprintf("http://127.0.0.1:%d/mattermost/command", port)
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader("token=wrong&text=status&user_id=u1&channel_id=c1"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("a slash command with a wrong token was accepted")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, stderr.String())
	}
	db, err := storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := db.TailAudit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Action == approvals.ActionAuthRefused && strings.Contains(e.Detail, "mattermost") {
			return
		}
	}
	t.Errorf("no auth.refused audit entry for the wrong token: %+v", entries)
}
