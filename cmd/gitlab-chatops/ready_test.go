package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// readyConfig writes a serve configuration on a loopback listener (port)
// with Slack at slackURL and the given hosts entries (YAML list items),
// and loads it as serve does.
func readyConfig(t *testing.T, dir string, port int, slackURL, approvalKey, hosts string) config {
	t.Helper()
	yaml := fmt.Sprintf(`store: %s
listen: 127.0.0.1:%d
shutdown_grace: 10s
audit: {key_file: %s}
approval_key: %s
hosts:
%s
slack:
  api_url: %s
  bot_token: xoxb-ready-test
  signing_secret: 0123456789abcdef0123456789abcdef
policy:
  approvers: [U0APPROVER]
`, filepath.Join(dir, "chatops.db"), port, writeAuditKey(t, dir), approvalKey, hosts, slackURL)
	cfg, _ := writeServeConfig(t, dir, "bot.yaml", yaml)
	return cfg
}

// getReady asks /readyz on port.
func getReady(t *testing.T, port int) (int, readyBody) {
	t.Helper()
	resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/readyz", port))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var b readyBody
	if err := json.NewDecoder(resp.Body).Decode(&b); err != nil {
		t.Fatalf("/readyz body is not JSON: %v", err)
	}
	return resp.StatusCode, b
}

// TestReadyz: /readyz is 200 only when the database, every agent and the
// chat platform are ready, and otherwise 503 naming exactly what is not:
// one of two agents down (a real agent over the simulator, with mutual
// TLS, is up; the other host's port is closed), or Slack failing at start
// (it is asked again, with backoff). /healthz is 200 throughout.
func TestReadyz(t *testing.T) {
	stack := simtest.Start(t, simtest.Options{})
	certs := filepath.Join(stack.Dir, "certs")
	up := fmt.Sprintf("  - name: gitlab-sim\n    agent: %s\n    ca: %s\n    cert: %s\n    key: %s\n", stack.AgentURL,
		filepath.Join(certs, "ca.pem"), filepath.Join(certs, "bot.pem"), filepath.Join(certs, "bot-key.pem"))
	down := fmt.Sprintf("  - name: gitlab-down\n    agent: http://127.0.0.1:%d\n", freePort(t))
	slackOK := newFakeSlackAPI(t).apiURL()
	slackFails := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, `{"ok":false,"error":"fatal_error"}`)
	}))
	defer slackFails.Close()

	cases := []struct {
		name     string
		hosts    string
		slack    string
		status   int
		notReady []string
	}{
		{"all ready", up, slackOK, http.StatusOK, nil},
		{"one of two agents down", up + down, slackOK, http.StatusServiceUnavailable, []string{"agent:gitlab-down"}},
		{"slack fails at start", up, slackFails.URL + "/api/", http.StatusServiceUnavailable, []string{"slack"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := t.TempDir()
			port := freePort(t)
			cfg := readyConfig(t, dir, port, c.slack, filepath.Join(certs, agent.ApprovalKeyFile), c.hosts)
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			logs := &simtest.LockedBuffer{}
			go func() { done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), noEnv) }()
			defer func() {
				cancel()
				if err := <-done; err != nil {
					t.Errorf("serve: %v", err)
				}
			}()
			waitListening(t, port)

			resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d/healthz", port))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				t.Errorf("/healthz: %d, want 200", resp.StatusCode)
			}
			// Slack is asked at start, in the background: wait until
			// the answer is the expected one or stops changing.
			var (
				status int
				body   readyBody
			)
			deadline := time.Now().Add(20 * time.Second)
			for {
				status, body = getReady(t, port)
				if status == c.status && sameKeys(body.NotReady, c.notReady) || time.Now().After(deadline) {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			if status != c.status || !sameKeys(body.NotReady, c.notReady) || body.Ready != (c.status == http.StatusOK) {
				t.Fatalf("/readyz: %d %+v; want %d naming %v\n%s", status, body, c.status, c.notReady, logs.String())
			}
			for name, why := range body.NotReady {
				if why == "" || strings.Contains(why, "127.0.0.1") {
					t.Errorf("%s: reason %q; want a few words without addresses (the log has the error)", name, why)
				}
			}
			t.Logf("/readyz: %d %+v", status, body)
		})
	}
}

func sameKeys(m map[string]string, keys []string) bool {
	if len(m) != len(keys) {
		return false
	}
	for _, k := range keys {
		if _, ok := m[k]; !ok {
			return false
		}
	}
	return true
}

// TestCachedCheckSharesAndReusesCalls: however many probes arrive at
// once, and however often within the ttl, the check behind them (an
// agent's health call) runs once; after the ttl it runs again. A failure
// is reported with the check's words, not the error.
func TestCachedCheckSharesAndReusesCalls(t *testing.T) {
	var calls atomic.Int32
	release := make(chan struct{})
	c := &cachedCheck{
		name: "agent:x", ttl: 200 * time.Millisecond, timeout: 5 * time.Second,
		log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		run: func(ctx context.Context) error {
			calls.Add(1)
			<-release
			return errors.New("dial tcp 127.0.0.1:1: connection refused")
		},
		why: func(error) string { return "its health call failed" },
	}
	var wg sync.WaitGroup
	answers := make(chan string, 50)
	for range 50 {
		wg.Go(func() { answers <- c.result(context.Background()) })
	}
	time.Sleep(50 * time.Millisecond) // let them all queue behind the first
	close(release)
	wg.Wait()
	close(answers)
	for a := range answers {
		if a != "its health call failed" {
			t.Fatalf("answer %q", a)
		}
	}
	for range 10 {
		c.result(context.Background())
	}
	if n := calls.Load(); n != 1 {
		t.Errorf("60 probes within the ttl made %d calls, want 1", n)
	}
	time.Sleep(250 * time.Millisecond)
	c.result(context.Background())
	if n := calls.Load(); n != 2 {
		t.Errorf("a probe after the ttl made %d calls in all, want 2", n)
	}
}

// TestServeStopsOnARefusedToken: a chat platform that refuses the bot's
// token at start (Slack invalid_auth, Mattermost 401) stops serve at once
// with a sentence naming the key to fix and exit code 2, as a
// configuration error; retrying could not help.
func TestServeStopsOnARefusedToken(t *testing.T) {
	refuse := func(status int, body string) string {
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			_, _ = io.WriteString(w, body)
		}))
		t.Cleanup(srv.Close)
		return srv.URL
	}
	dir := t.TempDir()
	keys := testApprovalKey(t, dir)
	cases := []struct {
		name, platform, want string
	}{
		{"slack", fmt.Sprintf("slack: {api_url: %s/api/, bot_token: xoxb-revoked, signing_secret: s}\npolicy: {approvers: [U0APPROVER]}\n",
			refuse(http.StatusOK, `{"ok":false,"error":"invalid_auth"}`)), "Slack refused slack.bot_token (or SLACK_BOT_TOKEN) with invalid_auth"},
		{"mattermost", fmt.Sprintf("mattermost: {url: %s, bot_token: wrong, command_tokens: [c], action_secret: 0123456789abcdef0123456789abcdef, callback_url: http://127.0.0.1:1/mattermost/actions}\npolicy: {approvers: [0123456789abcdefghijklmnop]}\n",
			refuse(http.StatusUnauthorized, `{"id":"api.context.session_expired.app_error","status_code":401}`)), "the Mattermost server refused mattermost.bot_token"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bot.yaml")
			yaml := fmt.Sprintf("store: %s\nlisten: 127.0.0.1:0\naudit: {key_file: %s}\napproval_key: %s\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n%s",
				filepath.Join(filepath.Dir(p), "chatops.db"), writeAuditKey(t, filepath.Dir(p)), keys, c.platform)
			if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var stderr simtest.LockedBuffer
			done := make(chan int, 1)
			go func() { done <- run(context.Background(), []string{"serve", "--config", p}, nil, io.Discard, &stderr) }()
			select {
			case code := <-done:
				last := strings.TrimSpace(stderr.String())
				last = last[strings.LastIndex(last, "\n")+1:]
				// 2, as for a configuration error: the unit's
				// RestartPreventExitStatus=2 keeps systemd from
				// restarting into the same refusal every few seconds.
				if code != 2 || !strings.Contains(last, c.want) {
					t.Fatalf("serve exited %d, last line %q; want 2 and %q", code, last, c.want)
				}
			case <-time.After(30 * time.Second):
				t.Fatalf("serve kept running with a refused token:\n%s", stderr.String())
			}
		})
	}
}
