package commands

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// pool runs the router's queueable background work (read-only runs and
// the opening of approval requests: commands a person typed) on at most
// `workers` goroutines, so that a burst of commands cannot fill the CPU
// with hundreds of concurrent agent calls, chat calls and TLS handshakes
// while the next commands wait to be acknowledged. Work beyond the workers
// waits in FIFO order; nothing is dropped while the router runs.
//
// What never queues (Router.background, unbounded): approvals and their
// executions, denials and cancellations, restart recovery and adoption by
// the sweep. An approved request must start at once (its statement and
// its approval deadline are short), and a running request's follower must
// not wait behind status traffic.
//
// Invariants: running ≤ workers; a task is either running, queued, or done;
// a worker exits only when the queue is empty.
type pool struct {
	workers int

	mu      sync.Mutex
	running int
	queue   []func()
}

func newPool(workers int) *pool { return &pool{workers: workers} }

// submit runs fn on a free worker, or queues it. ahead is how many tasks
// wait before it (-1: it started at once).
func (p *pool) submit(fn func()) (ahead int) {
	p.mu.Lock()
	if p.running < p.workers {
		p.running++
		p.mu.Unlock()
		go p.work(fn)
		return -1
	}
	p.queue = append(p.queue, fn)
	ahead = len(p.queue) - 1
	p.mu.Unlock()
	return ahead
}

// work runs fn, then queued tasks until the queue is empty.
func (p *pool) work(fn func()) {
	for {
		fn()
		p.mu.Lock()
		if len(p.queue) == 0 {
			p.running--
			p.mu.Unlock()
			return
		}
		fn = p.queue[0]
		p.queue[0] = nil
		p.queue = p.queue[1:]
		p.mu.Unlock()
	}
}

// waiting is how many tasks wait for a worker.
func (p *pool) waiting() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.queue)
}

// queued runs fn for cmd on the router's pool. The command is already
// acknowledged; when QueueNotice or more commands wait before it, its user
// is told that it is queued and that the answer will come (in a goroutine
// of its own: the acknowledgement never waits for chat). ctx is the
// handler's: only its values (the adapter's reply route) are kept.
func (r *Router) queued(ctx context.Context, chat bot.Chat, cmd bot.Command, name string, fn func(ctx context.Context)) {
	base := r.baseContext()
	r.work.Add(1)
	ahead := r.pool.submit(func() {
		defer r.work.Done()
		if base.Err() != nil {
			// Close was called before its turn; nothing of it ran.
			r.logger(ctx).Warn("queued command not run: the bot stopped before its turn", "work", name, "user", cmd.User.ID, "channel", cmd.Channel)
			return
		}
		r.guarded(base, name, fn)
	})
	if ahead < r.opt.QueueNotice {
		return
	}
	r.logger(ctx).Warn("background work queued", "work", name, "ahead", ahead, "workers", r.opt.Workers)
	nctx := context.WithoutCancel(ctx)
	r.background("queued notice", func(context.Context) {
		ctx, cancel := context.WithTimeout(nctx, 30*time.Second)
		defer cancel()
		if err := chat.Notify(ctx, cmd.Channel, cmd.User, queuedMessage(ahead)); err != nil {
			r.logger(ctx).Error("telling a user their command is queued", "user", cmd.User.ID, "err", err)
		}
	})
}

// queuedMessage tells a user that their command waits behind others.
func queuedMessage(ahead int) bot.Message {
	return bot.Message{Tone: bot.ToneInfo,
		Text: fmt.Sprintf("⏳ Many commands are being answered right now: yours is queued behind %d others and will run; its answer follows in the channel.", ahead)}
}
