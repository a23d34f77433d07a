package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// TestGroupStopsTheOthers: a member that fails, or that returns while the
// group still runs, stops every other member (their context ends), and
// Wait returns that member's reason, named; a member allowed to finish
// early (Go) does not stop anyone.
func TestGroupStopsTheOthers(t *testing.T) {
	cases := []struct {
		name string
		add  func(g *group)
		want string
	}{
		{"a member fails", func(g *group) {
			g.Serve("listen :8080", func(context.Context) error { return errors.New("accept: too many open files") })
		}, "listen :8080: accept: too many open files"},
		{"a member stops by itself", func(g *group) {
			g.Serve("scheduler", func(context.Context) error { return nil })
		}, "scheduler: stopped by itself"},
		{"a start check fails", func(g *group) {
			g.Go("slack start check", func(context.Context) error { return errors.New("token refused") })
		}, "slack start check: token refused"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			g := newGroup(context.Background(), slog.New(slog.NewTextHandler(io.Discard, nil)))
			stopped := make(chan struct{})
			g.Serve("other", func(ctx context.Context) error {
				<-ctx.Done()
				close(stopped)
				return nil
			})
			g.Go("check that passes", func(context.Context) error { return nil })
			c.add(g)
			done := make(chan error, 1)
			go func() { done <- g.Wait() }()
			select {
			case err := <-done:
				if err == nil || !strings.Contains(err.Error(), c.want) {
					t.Fatalf("Wait = %v, want %q", err, c.want)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the group kept running")
			}
			select {
			case <-stopped:
			default:
				t.Error("the other member was not stopped")
			}
		})
	}
	// Nothing failing: the group runs until its parent context ends, and
	// a check that finished early stops nobody.
	ctx, cancel := context.WithCancel(context.Background())
	g := newGroup(ctx, slog.New(slog.NewTextHandler(io.Discard, nil)))
	g.Serve("listener", func(ctx context.Context) error { <-ctx.Done(); return nil })
	g.Go("start check", func(context.Context) error { return nil })
	done := make(chan error, 1)
	go func() { done <- g.Wait() }()
	select {
	case err := <-done:
		t.Fatalf("the group stopped by itself: %v", err)
	case <-time.After(100 * time.Millisecond):
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Wait after the parent ended = %v, want nil", err)
	}
}
