package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
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
// adapter's refusals to the audit trail, and 300 unauthenticated requests
// cost a bounded number of entries (one per source and minute) that still
// count every one of them.
func TestServeAuditsRefusedCallbacks(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	store := filepath.Join(dir, "chatops.db")
	if err := agent.GenerateApprovalKeys(dir); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`store: %s
listen: 127.0.0.1:0
audit: {key_file: %s}
approval_key: %s
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
`, store, writeAuditKey(t, dir), filepath.Join(dir, agent.ApprovalKeyFile), port, port)
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
	refused := 0
	for refused < 300 {
		resp, err := http.Post(url, "application/x-www-form-urlencoded", strings.NewReader("token=wrong&text=status&user_id=u1&channel_id=c1"))
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				t.Fatal("a slash command with a wrong token was accepted")
			}
			refused++
			continue
		}
		if refused > 0 || time.Now().After(deadline) {
			t.Fatalf("serve did not come up: %v\n%s", err, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	// Button callbacks from an address that is not the Mattermost
	// server's (url resolves to 127.0.0.1): 403, counted the same way.
	foreign := &http.Client{Transport: &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP("127.0.0.2")}}).DialContext}}
	defer foreign.CloseIdleConnections()
	const clicks = 50
	for range clicks {
		resp, err := foreign.Post(fmt.Sprintf("http://127.0.0.1:%d/mattermost/actions", port), "application/json",
			strings.NewReader(`{"user_id":"mallory00000000000000000000","user_name":"mallory","post_id":"p0000000000000000000000000","channel_id":"c0000000000000000000000000","context":{}}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("a callback from 127.0.0.2: status %d, want 403", resp.StatusCode)
		}
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
	entries, err := db.TailAudit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	n, counted := map[string]int{}, map[string]int{}
	for _, e := range entries {
		if e.Action != approvals.ActionAuthRefused {
			continue
		}
		source := "127.0.0.1"
		if strings.Contains(e.Detail, "from mattermost 127.0.0.2") {
			source = "127.0.0.2"
			if !strings.Contains(e.Detail, "not one of the Mattermost server's addresses") {
				t.Errorf("entry does not say why 127.0.0.2 was refused: %s", e.Detail)
			}
		} else if !strings.Contains(e.Detail, "from mattermost 127.0.0.1") || !strings.Contains(e.Detail, "first: ") {
			t.Errorf("entry does not name the source and first reason: %s", e.Detail)
		}
		n[source]++
		c, err := strconv.Atoi(e.Outcome)
		if err != nil {
			t.Fatalf("auth.refused outcome %q is not a count", e.Outcome)
		}
		counted[source] += c
	}
	// One entry per source and minute: two if the requests straddled a minute.
	for source, want := range map[string]int{"127.0.0.1": refused, "127.0.0.2": clicks} {
		if n[source] < 1 || n[source] > 2 || counted[source] != want {
			t.Errorf("%d refused requests from %s wrote %d auth.refused entries counting %d; want 1 or 2 entries counting all", want, source, n[source], counted[source])
		}
	}
}

// TestServeAggregatesUnsignedSlack: 300 unsigned requests to Slack's
// endpoint are refused and cost one audit entry (two if they straddle a
// minute) that counts all of them, instead of 300 entries.
func TestServeAggregatesUnsignedSlack(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	store := filepath.Join(dir, "chatops.db")
	if err := agent.GenerateApprovalKeys(dir); err != nil {
		t.Fatal(err)
	}
	cfg := fmt.Sprintf(`store: %s
listen: 127.0.0.1:%d
audit: {key_file: %s}
approval_key: %s
hosts:
  - name: gitlab-1
    agent: http://127.0.0.1:1
slack:
  mode: http
  api_url: %s
  bot_token: xoxb-unsigned-test
  signing_secret: 0123456789abcdef0123456789abcdef
policy:
  approvers: [U0APPROVER]
`, store, port, writeAuditKey(t, dir), filepath.Join(dir, agent.ApprovalKeyFile), newFakeSlackAPI(t).apiURL())
	p := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	var stderr simtest.LockedBuffer
	go func() {
		done <- run(ctx, []string{"serve", "--config", p, "--log-level", "warn"}, nil, &bytes.Buffer{}, &stderr)
	}()
	waitListening(t, port)
	const unsigned = 300
	for range unsigned {
		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d%s", port, slack.PathCommands), "application/x-www-form-urlencoded",
			strings.NewReader("command=%2Fgitlab-migrations&text=migrate&user_id=U0MALLORY&channel_id=C0OPS"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("an unsigned request got %d, want 401", resp.StatusCode)
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("serve exited %d:\n%s", code, stderr.String())
	}
	if warnings := strings.Count(stderr.String(), "refused an unauthenticated call"); warnings < 1 || warnings > 2 {
		t.Errorf("%d warnings logged for one source, want one a minute:\n%s", warnings, stderr.String())
	}
	db, err := storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	entries, err := db.TailAudit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	n, counted := 0, 0
	for _, e := range entries {
		if e.Action != approvals.ActionAuthRefused {
			continue
		}
		n++
		c, err := strconv.Atoi(e.Outcome)
		if err != nil || !strings.Contains(e.Detail, "from slack 127.0.0.1") {
			t.Fatalf("entry %+v", e)
		}
		counted += c
	}
	if n < 1 || n > 2 || counted != unsigned {
		t.Fatalf("%d unsigned requests wrote %d auth.refused entries counting %d; want 1 or 2 counting all", unsigned, n, counted)
	}
}
