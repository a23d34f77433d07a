package main

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// wiring is what serve gives each adapter to run in: the handler (the
// router, counted for the drain), serve's mux, the adapter's own listener
// if it has one, the group, readiness and the shutdown stack.
type wiring struct {
	h       bot.Handler
	mux     *http.ServeMux
	own     net.Listener // nil: the adapter's endpoints go on mux
	grp     *group
	ready   *readiness
	closing *stack
	grace   time.Duration
	log     *slog.Logger
}

// wireAdapter joins a to serve the same way for every platform: its HTTP
// endpoints (bot.HTTPServed) on serve's mux or on its own listener, its
// start check (bot.Reacher) in /readyz and the group (a refused
// credential stops serve), its Run as a member of the group, and its Wait
// (bot.Drainer) in the shutdown, after the listeners stopped and before
// the router closes.
func wireAdapter(ctx context.Context, a bot.Adapter, w wiring) {
	name := a.Name()
	if hs, ok := a.(bot.HTTPServed); ok {
		if w.own != nil {
			srv := newHTTPServer(ctx, hs.HTTPHandler(w.h), w.log)
			ln := w.own
			w.grp.Serve(name+" listener", func(ctx context.Context) error { return serveHTTP(ctx, srv, ln, w.grace) })
		} else {
			w.mux.Handle(hs.HTTPPrefix(), hs.HTTPHandler(w.h))
		}
	}
	if rc, ok := a.(bot.Reacher); ok {
		reach := &reached{name: name, call: rc.ReachCall()}
		w.ready.platforms = append(w.ready.platforms, reach)
		w.grp.Go(name+" start check", func(ctx context.Context) error { return reach.run(ctx, rc.Reach, w.log) })
	}
	// Socket Mode and the like; an adapter whose input is HTTP waits for
	// the group.
	w.grp.Serve(name, func(ctx context.Context) error { return a.Run(ctx, w.h) })
	if d, ok := a.(bot.Drainer); ok {
		w.closing.push(d.Wait) // replies that outlived their ack, queued messages
	}
}

// adapterNames are the adapters' names, for the log.
func adapterNames(as []bot.Adapter) []string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.Name()
	}
	return out
}
