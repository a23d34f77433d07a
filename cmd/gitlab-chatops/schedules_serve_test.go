package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// TestServeSchedules: serve with a schedule in its configuration and
// Mattermost as its platform (a real agent over the simulator): `schedules`
// lists it as read-only; `schedules run` posts its result into the
// schedule's channel, which is not the one it was typed in; an admin adds
// one and a non-admin cannot remove it.
func TestServeSchedules(t *testing.T) {
	dir := t.TempDir()
	agentDir := filepath.Join(dir, "agent")
	agentPort, port := freePort(t), freePort(t)
	startAgentSpeed(t, agentDir, agentPort, "0")
	fm := newFakeMattermostAPI(t)
	typed, watched, alice, bob := model.NewId(), model.NewId(), model.NewId(), model.NewId()
	p := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(p, []byte(fmt.Sprintf(`store: %s
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
  admins: [%s]
schedules:
  - {id: services-watch, spec: "@every 15m", channel: %s, what: services, when: problems}
`, filepath.Join(dir, "chatops.db"), port, writeAuditKey(t, dir), filepath.Join(agentDir, agent.ApprovalKeyFile), agentPort,
		fm.srv.URL, shutMMToken, shutMMSecret, port, bob, alice, watched)), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p, use{serve: true}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), noEnv) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	waitListening(t, port)
	slash := func(user, text string) string {
		t.Helper()
		form := url.Values{"token": {shutMMToken}, "user_id": {user}, "user_name": {"someone"}, "channel_id": {typed}, "text": {text}}
		a := send(mustRequest(t, "POST", fmt.Sprintf("http://127.0.0.1:%d/mattermost/command", port), "application/x-www-form-urlencoded", form.Encode()))
		if a.err != nil || a.status != 200 {
			t.Fatalf("/gitlab-migrations %s: %+v", text, a)
		}
		return a.body
	}
	waitChat := func(want string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); !strings.Contains(fm.text(), want); {
			if time.Now().After(deadline) {
				t.Fatalf("no %q in the chat:\n%s\nlog:\n%s", want, fm.text(), logs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	if list := slash(bob, "schedules"); !strings.Contains(list, "services-watch") || !strings.Contains(list, "read-only here") {
		t.Errorf("schedules: %s", list)
	}
	slash(bob, "schedules run services-watch")
	waitChat("Scheduled services on gitlab-sim (schedule services-watch)")
	posts := fm.postsWith("Scheduled services on gitlab-sim")
	if len(posts) != 1 {
		t.Fatalf("%d scheduled posts, want 1", len(posts))
	}
	for _, p := range posts {
		if p.ChannelId != watched {
			t.Errorf("the scheduled post went to %s, not the schedule's channel %s", p.ChannelId, watched)
		}
	}
	if answer := slash(alice, `schedules add "@hourly" bbm --when changed`); !strings.Contains(answer, "Schedule s1 added") {
		t.Errorf("the admin's add: %s", answer)
	}
	if answer := slash(bob, "schedules remove s1"); !strings.Contains(answer, "Only the bot's admins may add or remove schedules") {
		t.Errorf("a non-admin's remove: %s", answer)
	}
}
