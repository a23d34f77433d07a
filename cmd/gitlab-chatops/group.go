package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"
)

// group is serve's one errgroup: every goroutine that lives as long as
// serve (the HTTP listeners, Slack Socket Mode, the platform start checks,
// the scheduler) runs in it. The first member to fail cancels the group's
// context, which stops the others the way SIGTERM does, and serve returns
// that member's error. The router's own loops are not members: they must
// outlive the group (a click still being handled after SIGTERM needs its
// router), so serve closes the router after the group has stopped.
type group struct {
	g   *errgroup.Group
	ctx context.Context
	log *slog.Logger

	mu      sync.Mutex
	stopped time.Time // when ctx ended: the start of the shutdown
}

func newGroup(ctx context.Context, log *slog.Logger) *group {
	g, gctx := errgroup.WithContext(ctx)
	gr := &group{g: g, ctx: gctx, log: log}
	context.AfterFunc(gctx, func() {
		gr.mu.Lock()
		gr.stopped = time.Now()
		gr.mu.Unlock()
	})
	return gr
}

// Serve runs fn until the group stops: fn must return only once ctx
// ended (and what it started is done), so returning earlier, even
// without an error, is a failure that stops the group.
func (g *group) Serve(name string, fn func(ctx context.Context) error) {
	g.g.Go(func() error {
		err := fn(g.ctx)
		if err == nil && g.ctx.Err() == nil {
			err = errors.New("stopped by itself")
		}
		return g.failed(name, err)
	})
}

// Go runs fn, which may finish early (a check at start); only its error
// stops the group.
func (g *group) Go(name string, fn func(ctx context.Context) error) {
	g.g.Go(func() error { return g.failed(name, fn(g.ctx)) })
}

func (g *group) failed(name string, err error) error {
	if err == nil {
		return nil
	}
	if g.ctx.Err() == nil {
		g.log.Error("stopping: part of serve failed", "part", name, "err", err)
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Wait waits for every member and returns the first failure.
func (g *group) Wait() error { return g.g.Wait() }

// left is what remains of grace since the group's context ended (all of it
// if it has not).
func (g *group) left(grace time.Duration) time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped.IsZero() {
		return grace
	}
	return grace - time.Since(g.stopped)
}
