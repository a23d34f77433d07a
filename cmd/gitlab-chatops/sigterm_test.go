package main

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// TestServeSigtermDuringMigrate: SIGTERM reaches serve while an approved
// migrate runs on a real agent (over the simulator). serve stops within
// shutdown_grace without ending the request: it stays running, the job
// keeps running on the agent, and the next start on the same store
// re-attaches to it and finishes the request properly; migrate ran once.
func TestServeSigtermDuringMigrate(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	dir := t.TempDir()
	agentDir := filepath.Join(dir, "agent")
	agentPort, port := freePort(t), freePort(t)
	startAgent(t, agentDir, agentPort)
	store := filepath.Join(dir, "chatops.db")
	fm := newFakeMattermostAPI(t)
	channel, alice, bob := model.NewId(), model.NewId(), model.NewId()
	cfg, _ := writeServeConfig(t, dir, "serve.yaml", mmServeYAML("store: "+store, port, writeAuditKey(t, dir), agentDir, agentPort, fm, bob, "shutdown_grace: 20s\n"))
	logs := &lockedBuffer{}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), noEnv) }()
	waitListening(t, port)

	form := url.Values{"token": {shutMMToken}, "user_id": {alice}, "user_name": {"alice"}, "channel_id": {channel},
		"text": {"migrate -- upgrade to 17.5"}}
	if a := send(mustRequest(t, "POST", fmt.Sprintf("http://127.0.0.1:%d/mattermost/command", port), "application/x-www-form-urlencoded", form.Encode())); a.err != nil || a.status != 200 {
		t.Fatalf("slash command: %+v", a)
	}
	post, actx := fm.approveContext(t)
	id, _ := actx["request_id"].(string)
	click, _ := json.Marshal(model.PostActionIntegrationRequest{UserId: bob, UserName: "bob", ChannelId: channel, PostId: post.Id, Context: actx})
	if a := send(mustRequest(t, "POST", fmt.Sprintf("http://127.0.0.1:%d/mattermost/actions", port), "application/json", string(click))); a.err != nil || a.status != 200 {
		t.Fatalf("approve click: %+v", a)
	}
	// The migrate runs once the progress names its agent job.
	deadline := time.After(90 * time.Second)
	for running := false; !running; {
		select {
		case p := <-fm.patched:
			b, _ := json.Marshal(p)
			running = strings.Contains(string(b), "agent job ")
		case <-deadline:
			t.Fatalf("the migrate never started:\n%s", logs.String())
		}
	}

	stopped := time.Now()
	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("serve: %v\n%s", err, logs.String())
		}
	case <-time.After(40 * time.Second):
		t.Fatalf("serve did not stop within shutdown_grace:\n%s", logs.String())
	}
	t.Logf("serve stopped %s after SIGTERM", time.Since(stopped).Round(time.Millisecond))
	if n := migrateJobs(t, agentDir); n != 1 {
		t.Fatalf("the agent has %d migrate jobs, want the one still running", n)
	}
	db, err := storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	req, err := db.Request(context.Background(), id)
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	if req.State != approvals.StateRunning {
		t.Fatalf("after SIGTERM the request is %s, want running (to re-attach)", req.State)
	}

	// The next start (serve again, with the platform the request lives
	// on) re-attaches and finishes it.
	ctx2, cancel2 := context.WithCancel(context.Background())
	defer cancel2()
	go func() { done <- serve(ctx2, cfg, slog.New(slog.NewJSONHandler(logs, nil)), noEnv) }()
	finished := time.Now().Add(2 * time.Minute)
	for !strings.Contains(fm.text(), "Done: migrate on gitlab-sim succeeded") || !strings.Contains(fm.text(), "All up on gitlab-sim") {
		if time.Now().After(finished) {
			t.Fatalf("the next start did not finish the request; chat:\n%s\nlog:\n%s", fm.text(), logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel2()
	if err := <-done; err != nil {
		t.Fatalf("the second serve: %v", err)
	}
	db, err = storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if req, err = db.Request(context.Background(), id); err != nil || req.State != approvals.StateSucceeded {
		t.Fatalf("after the next start the request is %v (%v), want succeeded", req.State, err)
	}
	if n := migrateJobs(t, agentDir); n != 1 {
		t.Errorf("the agent ran migrate %d times, want exactly 1", n)
	}
	mustContain(t, auditVerifyFile(t, store), "audit trail intact")
}
