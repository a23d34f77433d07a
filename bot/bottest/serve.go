package bottest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Serve runs a as serve does (cmd/gitlab-chatops/adapters.go), on
// loopback, until the test ends: its HTTP endpoints (bot.HTTPServed)
// under their prefix on ln (nil: a new 127.0.0.1 listener), its Run
// with h, and at the end the server stopped, Run's ctx ended (Run must
// then return nil) and its Wait (bot.Drainer). It returns the server's
// base URL ("" when a serves no HTTP).
func Serve(t *testing.T, a bot.Adapter, h bot.Handler, ln net.Listener) string {
	t.Helper()
	var base string
	var srv *http.Server
	served := make(chan error, 1)
	if hs, ok := a.(bot.HTTPServed); ok {
		if ln == nil {
			var err error
			if ln, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
				t.Fatalf("listening: %v", err)
			}
		}
		mux := http.NewServeMux()
		mux.Handle(hs.HTTPPrefix(), hs.HTTPHandler(h))
		srv = &http.Server{Handler: mux, ReadHeaderTimeout: patience}
		go func() { served <- srv.Serve(ln) }()
		base = "http://" + ln.Addr().String()
	}
	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- a.Run(ctx, h) }()
	t.Cleanup(func() {
		if srv != nil {
			sctx, scancel := context.WithTimeout(context.Background(), patience)
			if err := srv.Shutdown(sctx); err != nil {
				t.Errorf("stopping %s's endpoints: %v", a.Name(), err)
			}
			scancel()
			if err := <-served; !errors.Is(err, http.ErrServerClosed) {
				t.Errorf("serving %s: %v", a.Name(), err)
			}
		}
		cancel()
		select {
		case err := <-ran:
			if err != nil {
				t.Errorf("%s's Run returned %v when its context ended; want nil", a.Name(), err)
			}
		case <-time.After(patience):
			t.Errorf("%s's Run did not return within %s of its context ending", a.Name(), patience)
		}
		if d, ok := a.(bot.Drainer); ok {
			d.Wait()
		}
	})
	return base
}
