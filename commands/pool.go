package commands

import (
	"context"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// pool runs the router's queueable background work (read-only runs and
// the opening of approval requests: commands a person typed) so that it
// never starves the acknowledgement of the next commands:
//   - at most `workers` tasks run at once; the others wait in FIFO order;
//   - background work yields to arriving commands: while they arrive
//     less than `settle` apart (a burst being acknowledged), tasks start
//     only once per 1/rate; between bursts, while commands keep arriving
//     (less than `quiet` apart), tasks start at a bounded rate (a token
//     bucket: `burst` at once, then `rate` per second); once no command
//     arrived for `quiet`, waiting tasks start one per `gap` (quickly, but
//     spread, so that a backlog released in a pause does not land all at
//     once on the commands that follow it). A burst of commands is thus
//     acknowledged first, and its posts, agent calls (the agent and the
//     program it runs share the bot's CPUs when on one machine), TLS and
//     audit writes follow instead of competing with those acks for the
//     CPU. A lone command starts `settle` (3 ms) after it arrived.
//
// Nothing is dropped while the router runs.
//
// What never queues (Router.background, unbounded): approvals and their
// executions, denials and cancellations, restart recovery and adoption by
// the sweep. An approved request must start at once (its statement and
// its approval deadline are short), and a running request's follower must
// not wait behind status traffic.
//
// Invariants: running ≤ workers; a task is either running, queued, or done;
// a worker exits only when the queue is empty; one worker at a time waits
// for its start (gate), so waiting costs one timer, not one per worker.
type pool struct {
	workers int
	rate    float64 // starts per second while commands arrive
	burst   float64
	settle  time.Duration // commands closer than this are one burst
	quiet   time.Duration
	gap     time.Duration // between two starts without tokens in a pause
	now     func() time.Time
	sleep   func(time.Duration)

	gate sync.Mutex // held by the worker waiting for its start

	mu          sync.Mutex
	running     int
	queue       []func()
	tokens      float64
	last        time.Time // when tokens were last counted
	lastSubmit  time.Time // when the last command arrived
	streamStart time.Time // when the commands arriving less than settle apart began
	lastStart   time.Time // when the last task was admitted
}

// poolSettle is how far apart commands must be not to count as one
// burst (200 clients at once arrive microseconds apart; a person's next
// command, seconds); poolQuiet is how long without a new command counts as
// a pause; poolGap spaces the starts of a backlog released in a pause.
const (
	poolSettle = 3 * time.Millisecond
	poolQuiet  = 20 * time.Millisecond
	poolGap    = 2 * time.Millisecond
)

func newPool(workers int, rate float64, burst int) *pool {
	return &pool{workers: workers, rate: rate, burst: float64(burst), tokens: float64(burst), settle: poolSettle, quiet: poolQuiet, gap: poolGap, now: time.Now, sleep: time.Sleep}
}

// submit runs fn on a free worker, or queues it. ahead is how many tasks
// wait before it (-1: it has a worker now).
func (p *pool) submit(fn func()) (ahead int) {
	p.mu.Lock()
	p.arrived(p.now())
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

// work runs fn, then queued tasks until the queue is empty, each after
// its start was admitted.
func (p *pool) work(fn func()) {
	for {
		p.admit()
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

// admit returns when the caller may start:
//   - while commands arrive less than p.settle apart (a burst being
//     acknowledged), only once per 1/rate, counted from the burst's first
//     command and from the previous start: a burst's acks get the CPU, and
//     a stream that never pauses still makes progress;
//   - else at once while a token is left;
//   - else, once no command arrived for p.quiet, p.gap after the previous
//     start;
//   - else when a token comes.
//
// A lone command thus starts p.settle after it arrived.
func (p *pool) admit() {
	if p.rate <= 0 {
		return
	}
	p.gate.Lock()
	defer p.gate.Unlock()
	every := time.Duration(float64(time.Second) / p.rate)
	for {
		p.mu.Lock()
		now := p.now()
		if !p.last.IsZero() {
			p.tokens = min(p.burst, p.tokens+now.Sub(p.last).Seconds()*p.rate)
		}
		p.last = now
		sinceCommand, sinceStart := now.Sub(p.lastSubmit), now.Sub(p.lastStart)
		var wait time.Duration
		switch {
		case sinceCommand < p.settle:
			since := now.Sub(later(p.streamStart, p.lastStart))
			if since >= every {
				p.tokens = max(0, p.tokens-1)
				p.lastStart = now
				p.mu.Unlock()
				return
			}
			wait = min(p.settle-sinceCommand, every-since)
		case p.tokens >= 1 || (sinceCommand >= p.quiet && sinceStart >= p.gap):
			if p.tokens >= 1 {
				p.tokens--
			}
			p.lastStart = now
			p.mu.Unlock()
			return
		default:
			wait = time.Duration((1 - p.tokens) / p.rate * float64(time.Second))
			if sinceCommand < p.quiet {
				wait = min(wait, p.quiet-sinceCommand)
			} else {
				wait = min(wait, p.gap-sinceStart)
			}
		}
		p.mu.Unlock()
		p.sleep(wait)
	}
}

// arrived records a command's arrival at now: it starts a stream when the
// previous one came p.settle or more before. p.mu is held.
func (p *pool) arrived(now time.Time) {
	if now.Sub(p.lastSubmit) >= p.settle {
		p.streamStart = now
	}
	p.lastSubmit = now
}

// later returns the later of a and b (the zero time is the earliest).
func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// queued runs fn for cmd on the router's pool and returns the handler's
// Reply: nothing, or, when QueueNotice or more commands wait before it,
// that it is queued and that the answer will come. The notice rides on
// the acknowledgement itself (no chat call). ctx is the handler's: only
// its values are kept.
func (r *Router) queued(ctx context.Context, cmd bot.Command, name string, fn func(ctx context.Context)) bot.Reply {
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
		return bot.NoReply
	}
	r.logger(ctx).Warn("background work queued", "work", name, "ahead", ahead, "workers", r.opt.Workers)
	return bot.Say(queuedMessage(ahead))
}

// queuedMessage tells a user that their command waits behind others.
func queuedMessage(ahead int) bot.Message {
	return bot.Message{Tone: bot.ToneInfo,
		Text: bot.Textf("⏳ Many commands are being answered right now: yours is queued behind %d others and will run; its answer follows in the channel.", ahead)}
}
