package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
)

// shutdownGrace bounds how long a stopping listener waits for its
// in-flight requests before closing their connections. Handlers answer
// within seconds (slow work runs in the router's background), so this is
// generous.
const shutdownGrace = 30 * time.Second

// inflight counts the calls adapters make into the router, so that serve
// closes the router only after the last one returned. Once drain has
// begun, a new call is refused instead of started: nothing may reach the
// router after it closed.
type inflight struct {
	mu       sync.Mutex
	draining bool
	wg       sync.WaitGroup
}

func (f *inflight) enter() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.draining {
		return false
	}
	f.wg.Add(1)
	return true
}

func (f *inflight) leave() { f.wg.Done() }

// drain refuses new calls and waits for those in flight.
func (f *inflight) drain() {
	f.mu.Lock()
	f.draining = true
	f.mu.Unlock()
	f.wg.Wait()
}

// errStopping is what a user hears who clicks or types while the bot stops.
var errStopping = &commands.Refusal{Msg: "The bot is restarting, so this was not done; try again in a minute."}

// drainingHandler is the router as the adapters see it: every call is
// counted by calls.
type drainingHandler struct {
	h     bot.Handler
	calls *inflight
}

func (d *drainingHandler) HandleCommand(ctx context.Context, chat bot.Chat, cmd bot.Command) error {
	if !d.calls.enter() {
		return errStopping
	}
	defer d.calls.leave()
	return d.h.HandleCommand(ctx, chat, cmd)
}

func (d *drainingHandler) HandleAction(ctx context.Context, chat bot.Chat, act bot.Action) error {
	if !d.calls.enter() {
		return errStopping
	}
	defer d.calls.leave()
	return d.h.HandleAction(ctx, chat, act)
}

// adapterRun is one chat platform's serving loop: it returns once ctx
// ended and its in-flight handlers finished, or when it fails.
type adapterRun struct {
	name string
	run  func(ctx context.Context) error
}

// runAdapters runs every adapter until ctx ends. If one fails (or stops
// by itself), the others are stopped, and its error is returned once all
// have drained.
func runAdapters(ctx context.Context, log *slog.Logger, adapters []adapterRun) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, a := range adapters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := a.run(ctx)
			if err == nil && ctx.Err() == nil {
				err = errors.New("stopped by itself")
			}
			if err == nil {
				return
			}
			once.Do(func() {
				first = fmt.Errorf("%s: %w", a.name, err)
				log.Error("adapter failed; stopping the others", "adapter", a.name, "err", err)
				cancel()
			})
		}()
	}
	wg.Wait()
	return first
}

// serveHTTP serves srv until ctx ends, then stops accepting and waits for
// the requests in flight (up to grace, after which their connections are
// closed). Unlike ListenAndServe, it returns only once they are done.
func serveHTTP(ctx context.Context, srv *http.Server, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.ListenAndServe() }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving http on %s: %w", srv.Addr, err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		_ = srv.Close()
		err = fmt.Errorf("requests still running %s after shutdown began were cut off: %w", grace, err)
	}
	if serr := <-errc; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	return err
}
