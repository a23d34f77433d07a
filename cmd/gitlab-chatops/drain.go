package main

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
)

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

func (d *drainingHandler) HandleCommand(ctx context.Context, cmd bot.Command) bot.Reply {
	if !d.calls.enter() {
		return bot.ReplyFor(errStopping)
	}
	defer d.calls.leave()
	return d.h.HandleCommand(ctx, cmd)
}

func (d *drainingHandler) HandleAction(ctx context.Context, act bot.Action) bot.Reply {
	if !d.calls.enter() {
		return bot.ReplyFor(errStopping)
	}
	defer d.calls.leave()
	return d.h.HandleAction(ctx, act)
}

// stack is what serve has opened, closed in reverse order of opening:
// at once by run (an early return), or bounded by runWithin (the end of
// the shutdown). It runs once either way.
type stack struct {
	fns     []func()
	started atomic.Bool
}

func (s *stack) push(f func()) { s.fns = append(s.fns, f) }

// run closes everything unless that has begun already.
func (s *stack) run() {
	if !s.started.Swap(true) {
		s.closeAll()
	}
}

func (s *stack) closeAll() {
	for i := len(s.fns) - 1; i >= 0; i-- {
		s.fns[i]()
	}
}

// runWithin runs the stack and reports whether it was done within d;
// if not, it stops waiting and leaves it running (a later run returns at
// once).
func (s *stack) runWithin(d time.Duration) bool {
	if s.started.Swap(true) {
		return true
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.closeAll()
	}()
	t := time.NewTimer(max(d, 0))
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		select {
		case <-done: // finished as the time ran out
			return true
		default:
			return false
		}
	}
}
