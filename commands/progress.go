package commands

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// progressView is what a progress message shows: a snapshot the stream
// reader hands over without waiting.
type progressView struct {
	lines    int64
	lastLine string
	jobID    string
	// problem, when set, replaces the "running" headline: the bot lost
	// contact with the agent and says so.
	problem string
}

// progressBox is a latest-value mailbox between the goroutine that reads
// an agent's stream and the chat. put never blocks: it replaces the value
// waiting to be shown. A goroutine of its own renders the latest value at
// most once per `every` (measured from the start of one edit to the start
// of the next) and never two edits at a time, so a slow chat (Slack's
// 1 s per-channel queue) costs skipped intermediate values, never the
// reading of the stream.
type progressBox struct {
	mu      sync.Mutex
	latest  progressView
	pending bool
	wake    chan struct{} // capacity 1: "there is a new value"
	quit    chan struct{}
	done    chan struct{}
	once    sync.Once
}

// newProgress starts the renderer of the progress message ref for cmd on
// host. A zero ref (the message could not be posted) gives a box that
// only discards. Call stop before writing the final message to ref.
func (r *Router) newProgress(ctx context.Context, chat bot.Chat, ref bot.Ref, cmd, host string) *progressBox {
	b := &progressBox{wake: make(chan struct{}, 1), quit: make(chan struct{}), done: make(chan struct{})}
	if ref.IsZero() {
		close(b.done)
		return b
	}
	start := r.opt.Clock()
	every := r.progressEvery(chat)
	go b.run(func(v progressView) {
		if err := chat.Update(ctx, ref, progressMessage(cmd, host, r.opt.Clock().Sub(start), v)); err != nil {
			r.logger(ctx).Warn("updating progress", "err", err)
		}
	}, every)
	return b
}

// progressEvery is the least time between two progress messages on chat:
// ProgressEvery, or sparseProgressEvery where the platform cannot edit
// (each value is a new post there, degrade.go).
func (r *Router) progressEvery(chat bot.Chat) time.Duration {
	if !bot.CapabilitiesOf(chat).Edits {
		return max(r.opt.ProgressEvery, sparseProgressEvery)
	}
	return r.opt.ProgressEvery
}

// put offers v to the renderer; it never waits. A nil box discards.
func (b *progressBox) put(v progressView) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.latest, b.pending = v, true
	b.mu.Unlock()
	select {
	case b.wake <- struct{}{}:
	default: // a wake-up is already pending; it will see v
	}
}

// update changes the latest value with fn (for fields the stream does
// not know, such as a connection problem) and offers it.
func (b *progressBox) update(fn func(*progressView)) {
	if b == nil {
		return
	}
	b.mu.Lock()
	v := b.latest
	b.mu.Unlock()
	fn(&v)
	b.put(v)
}

func (b *progressBox) take() (progressView, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	v, ok := b.latest, b.pending
	b.pending = false
	return v, ok
}

func (b *progressBox) run(edit func(progressView), every time.Duration) {
	defer close(b.done)
	var next time.Time // earliest start of the next edit
	for {
		select {
		case <-b.quit:
			return
		case <-b.wake:
		}
		if wait := time.Until(next); wait > 0 {
			t := time.NewTimer(wait)
			select {
			case <-b.quit:
				t.Stop()
				return
			case <-t.C:
			}
		}
		v, ok := b.take()
		if !ok {
			continue
		}
		next = time.Now().Add(every)
		edit(v)
	}
}

// stop ends the renderer and waits for an edit in flight, so that the
// caller's final message is not overwritten by a late progress edit.
func (b *progressBox) stop() {
	if b == nil {
		return
	}
	b.once.Do(func() { close(b.quit) })
	<-b.done
}

// progressMessage is the progress line of cmd on host, elapsed after its
// start: running with its line count and last line, or the problem that
// replaces the headline.
func progressMessage(cmd, host string, elapsed time.Duration, v progressView) bot.Message {
	text := bot.Textf("⏳ Running %s on %s: %s elapsed, %d lines", bot.Code(cmd), host, elapsed.Round(time.Second), v.lines)
	tone := bot.ToneInfo
	if v.problem != "" {
		text = bot.Textf("⚠️ %s on %s: %s (%d lines so far)", bot.Code(cmd), host, bot.Sentence(v.problem), v.lines)
		tone = bot.ToneWarning
	}
	if v.lastLine != "" {
		text = bot.Join(text, bot.Plain("\nLast line: "), bot.Code(truncate(strings.TrimSpace(v.lastLine), 200)))
	}
	if v.jobID != "" {
		text = bot.Join(text, bot.Plain("\nagent job "+v.jobID))
	}
	return bot.Message{Text: text, Tone: tone}
}
