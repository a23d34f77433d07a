package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// otherAdapter is a platform serve has never heard of: wiring it needs
// nothing but the interfaces it implements.
type otherAdapter struct {
	ran     atomic.Bool
	reached atomic.Bool
	waited  atomic.Bool
	served  atomic.Bool
}

func (a *otherAdapter) Name() string                   { return "other" }
func (a *otherAdapter) Chat() bot.Chat                 { return nil }
func (a *otherAdapter) Groups() bot.GroupResolver      { return nil }
func (a *otherAdapter) Capabilities() bot.Capabilities { return bot.Capabilities{} }
func (a *otherAdapter) HTTPPrefix() string             { return "/other/" }
func (a *otherAdapter) HTTPListen() string             { return "" }
func (a *otherAdapter) ReachCall() string              { return "ping" }
func (a *otherAdapter) Wait()                          { a.waited.Store(true) }
func (a *otherAdapter) Reach(context.Context) error    { a.reached.Store(true); return nil }
func (a *otherAdapter) Run(ctx context.Context, _ bot.Handler) error {
	a.ran.Store(true)
	<-ctx.Done()
	return nil
}
func (a *otherAdapter) HTTPHandler(bot.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		a.served.Store(true)
		w.WriteHeader(http.StatusNoContent)
	})
}

// TestWireAdapterIsGeneric: an adapter of an unknown platform is wired
// like Slack and Mattermost: its endpoints on serve's mux, its start
// check in /readyz and the group, its Run in the group, its Wait in the
// shutdown.
func TestWireAdapterIsGeneric(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	ctx, cancel := context.WithCancel(context.Background())
	grp := newGroup(ctx, log)
	mux := http.NewServeMux()
	ready := &readiness{}
	var closing stack
	a := &otherAdapter{}
	wireAdapter(ctx, a, wiring{h: nil, mux: mux, grp: grp, ready: ready, closing: &closing, grace: time.Second, log: log})

	rr := httptest.NewRecorder()
	mux.ServeHTTP(rr, httptest.NewRequest(http.MethodPost, "/other/hook", nil))
	if rr.Code != http.StatusNoContent || !a.served.Load() {
		t.Errorf("POST /other/hook: %d, served %v; want the adapter's handler on serve's mux", rr.Code, a.served.Load())
	}
	if len(ready.platforms) != 1 || ready.platforms[0].name != "other" || ready.platforms[0].call != "ping" {
		t.Fatalf("readiness platforms = %+v, want the adapter's start check", ready.platforms)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !(a.ran.Load() && a.reached.Load()) {
		if time.Now().After(deadline) {
			t.Fatalf("Run %v, Reach %v: want both started by the group", a.ran.Load(), a.reached.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if why := ready.platforms[0].why(); why != "" {
		t.Errorf("reached, but /readyz says %q", why)
	}
	cancel()
	if err := grp.Wait(); err != nil {
		t.Errorf("group: %v", err)
	}
	closing.run()
	if !a.waited.Load() {
		t.Error("the adapter's Wait was not part of the shutdown")
	}
}
