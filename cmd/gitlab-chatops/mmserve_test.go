package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// mmServe is a running serve with Mattermost on its one listener (a fake
// Mattermost API) and one real agent over the instant simulator: the setup
// the serve end-to-end tests share.
type mmServe struct {
	base string // http://127.0.0.1:PORT
	fm   *fakeMattermostAPI
	logs *lockedBuffer
	// config is the configuration file serve runs with (for the audit
	// commands' --config).
	config string
	// stop stops serve (SIGTERM) and waits for it, failing the test if
	// serve returns an error; the test's end calls it too.
	stop func()
}

// startMMServe writes a serve configuration with the fake Mattermost, the
// agent as host gitlab-sim and policy.approvers [approver], followed by
// extra (more YAML, e.g. schedules:), and runs serve until the test ends.
func startMMServe(t *testing.T, approver, extra string) *mmServe {
	t.Helper()
	return startMMServeOn(t, "", "0", approver, extra)
}

// startMMServeOn is startMMServe with storage (YAML: a storage: section)
// instead of a bbolt file in the test's directory when it is not "", and
// the simulator at speed (startAgentSpeed; "0" is instant).
func startMMServeOn(t *testing.T, storage, speed, approver, extra string) *mmServe {
	t.Helper()
	dir := t.TempDir()
	if storage == "" {
		storage = "store: " + filepath.Join(dir, "chatops.db") + "\n"
	}
	agentDir := filepath.Join(dir, "agent")
	agentPort, port := freePort(t), freePort(t)
	startAgentSpeed(t, agentDir, agentPort, speed)
	fm := newFakeMattermostAPI(t)
	cfg, p := writeServeConfig(t, dir, "serve.yaml", mmServeYAML(storage, port, writeAuditKey(t, dir), agentDir, agentPort, fm, approver, extra))
	s := &mmServe{base: fmt.Sprintf("http://127.0.0.1:%d", port), fm: fm, logs: &lockedBuffer{}, config: p}
	s.stop = startServe(t, cfg, s.logs)
	waitListening(t, port)
	return s
}

// startServe runs serve with cfg in this process, logging JSON into logs,
// and returns stop, which ends it and waits for it (serve must return
// nil); stop is safe to call more than once and runs at the test's end.
func startServe(t *testing.T, cfg config, logs *lockedBuffer) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), noEnv) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("serve: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// mmServeYAML is a serve configuration on its own listener port with
// storage (a store: line or a storage: section), the audit key at
// keyFile, the agent in agentDir on agentPort as host gitlab-sim, the fake
// Mattermost fm calling back to port, policy.approvers approvers (a
// comma-separated list), followed by extra.
func mmServeYAML(storage string, port int, keyFile, agentDir string, agentPort int, fm *fakeMattermostAPI, approvers, extra string) string {
	return fmt.Sprintf(`%s
listen: 127.0.0.1:%d
audit: {key_file: %s}
approval_key: %s
hosts:
  - name: gitlab-sim
    agent: http://127.0.0.1:%d
mattermost:
  url: %s
  bot_token: mm-bot-token
  command_tokens: [%s]
  action_secret: %s
  callback_url: http://127.0.0.1:%d/mattermost/actions
policy:
  approvers: [%s]
%s`, strings.TrimSuffix(storage, "\n"), port, keyFile, filepath.Join(agentDir, agent.ApprovalKeyFile), agentPort,
		fm.srv.URL, shutMMToken, shutMMSecret, port, approvers, extra)
}

// slash sends `/gitlab-migrations text` as user in channel and returns the
// command response's body.
func (s *mmServe) slash(t *testing.T, user, channel, text string) string {
	t.Helper()
	form := url.Values{"token": {shutMMToken}, "user_id": {user}, "user_name": {"someone"}, "channel_id": {channel}, "text": {text}}
	a := send(mustRequest(t, "POST", s.base+"/mattermost/command", "application/x-www-form-urlencoded", form.Encode()))
	if a.err != nil || a.status != 200 {
		t.Fatalf("/gitlab-migrations %s: %+v", text, a)
	}
	return a.body
}

// waitChat waits (60 s at most) until the bot posted want somewhere.
func (s *mmServe) waitChat(t *testing.T, want string) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !strings.Contains(s.fm.text(), want); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the chat:\n%s\nlog:\n%s", want, s.fm.text(), s.logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
