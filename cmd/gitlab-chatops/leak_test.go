package main

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestServeLeavesNoGoroutines: once serve has returned after SIGTERM (its
// context ended), no goroutine of its own is left: the listeners, the
// group's members, the platform start check, the readiness checks and
// the router's background work have all stopped, with commands still
// being answered when it is told to stop. The agent is down, so /readyz's
// health call fails fast.
func TestServeLeavesNoGoroutines(t *testing.T) {
	dir := t.TempDir()
	port := freePort(t)
	key := testApprovalKey(t, dir)
	hosts := fmt.Sprintf("  - name: gitlab-down\n    agent: http://127.0.0.1:%d\n", freePort(t))
	cfg := readyConfig(t, dir, port, newFakeSlackAPI(t).apiURL(), key, hosts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	logs := &simtest.LockedBuffer{}
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), noEnv) }()
	waitListening(t, port)
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	// Commands whose background work (the down agent asked, answers
	// posted) may still run when serve is told to stop.
	for _, text := range []string{"status", "status --host all", "hosts"} {
		resp, err := http.DefaultClient.Do(slackSigned(t, port, "0123456789abcdef0123456789abcdef", "U0LEAKTEST", text))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Fatalf("%s: %d", text, resp.StatusCode)
		}
	}
	// The check sees serve's goroutines while it runs (or it proves nothing).
	if running := servesGoroutines(); len(running) < 3 {
		t.Fatalf("only %d goroutine(s) of serve seen while it runs:\n%s", len(running), strings.Join(running, "\n\n"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	// What serve started may take a moment to be scheduled out.
	var left []string
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		left = servesGoroutines()
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	if len(left) > 0 {
		t.Fatalf("%d goroutine(s) of serve outlived it:\n%s", len(left), strings.Join(left, "\n\n"))
	}
}

// servesGoroutines are the stacks of live goroutines that run code of
// this module's packages outside tests.
func servesGoroutines() []string {
	var b bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&b, 2)
	var out []string
	for _, g := range strings.Split(b.String(), "\n\n") {
		if !strings.Contains(g, "github.com/gitlab-chatops/gitlab-chatops/") || strings.Contains(g, "_test.go:") {
			continue
		}
		out = append(out, g)
	}
	return out
}
