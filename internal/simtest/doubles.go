package simtest

import (
	"bytes"
	"context"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// CountingHandler passes calls to the real handler and counts them, so an
// adapter test can tell that a refused request never reached the router.
type CountingHandler struct {
	H                 bot.Handler
	Commands, Actions atomic.Int64
}

// HandleCommand implements bot.Handler.
func (c *CountingHandler) HandleCommand(ctx context.Context, cmd bot.Command) bot.Reply {
	c.Commands.Add(1)
	return c.H.HandleCommand(ctx, cmd)
}

// HandleAction implements bot.Handler.
func (c *CountingHandler) HandleAction(ctx context.Context, act bot.Action) bot.Reply {
	c.Actions.Add(1)
	return c.H.HandleAction(ctx, act)
}

// Refusals records the reasons an adapter's OnRefused hook reports.
type Refusals struct {
	mu      sync.Mutex
	reasons []string
}

// Hook is the OnRefused function to give the adapter.
func (r *Refusals) Hook(_ context.Context, reason string, _ *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.reasons = append(r.reasons, reason)
}

// List returns the reasons so far.
func (r *Refusals) List() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.reasons)
}

// ApproversRefusal is a Handler refusal that names who may approve
// (bot.ApproversNamer), for adapter tests.
type ApproversRefusal struct {
	Msg string
	Who []string
}

func (e *ApproversRefusal) Error() string { return e.Msg }

// UserText implements bot.Readable.
func (e *ApproversRefusal) UserText() string { return e.Msg }

// Approvers implements bot.ApproversNamer.
func (e *ApproversRefusal) Approvers() []string { return e.Who }

// LockedBuffer is a bytes.Buffer that goroutines (log handlers, a server
// under test) and the test may use at once.
type LockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *LockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns what was written so far.
func (l *LockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
