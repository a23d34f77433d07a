package slack

import (
	"context"
	"net/http"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// commandHTTP answers a slash command over HTTP. The handler runs inline,
// in the request's goroutine: it answers at once by contract, so most
// acks cost no extra goroutine. The 3 s guarantee is kept by a guard armed
// with time.AfterFunc: should the handler still be working when the ack
// budget is spent (a stalled disk under its audit write), the guard writes
// a complete empty 200 (Content-Length 0, flushed) so Slack is answered,
// and the handler's Reply then follows through response_url. The
// command's log line is written after the ack is flushed (logCommand).
//
// Invariant: exactly one of the guard and the request goroutine writes to
// w; ackOnce decides under its lock, and the guard's write happens under
// that lock, so the loser never touches w while the winner writes.
func (a *Adapter) commandHTTP(w http.ResponseWriter, r *http.Request, h bot.Handler, sc slackgo.SlashCommand) {
	in, refusal := a.slashInput(sc)
	if !refusal.IsZero() {
		writeJSON(w, ephemeralBody(a.replyMessage(refusal)))
		return
	}
	var once ackOnce
	guard := time.AfterFunc(a.opt.ackBudget, func() {
		if once.do(func() {
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			flush(w)
		}) {
			// A stalled command shows in the log now, not when it ends.
			a.logCommand(in)
		}
	})
	a.bg.Add(1)
	defer a.bg.Done()
	a.run(r.Context(), func(ctx context.Context) bot.Reply {
		return h.HandleCommand(ctx, in.cmd)
	}, func(ctx context.Context, reply bot.Reply) {
		guard.Stop()
		now, later, follows := splitReply(reply)
		if once.do(func() {
			writeReply(a, w, now)
			flush(w)
		}) {
			a.logCommand(in)
			if follows {
				// After the ack is flushed: a form is opened (its
				// trigger_id is good for 3 s from the command), files go
				// by direct message.
				a.deliver(ctx, in.rp, in.cmd.Channel, in.cmd.User, later)
			}
			return
		}
		a.log.Warn("handler answered after the ack budget; its reply follows through response_url")
		lctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), a.opt.sendTimeout)
		defer cancel()
		in.late(a)(lctx, reply)
	})
}

// writeReply is a slash command's immediate answer: the Reply as an
// ephemeral message, or an empty 200.
func writeReply(a *Adapter, w http.ResponseWriter, reply bot.Reply) {
	if !reply.IsZero() {
		writeJSON(w, ephemeralBody(a.replyMessage(reply)))
		return
	}
	w.Header().Set("Content-Length", "0")
	w.WriteHeader(http.StatusOK)
}

// ackOnce lets exactly one of two parties answer a request.
type ackOnce struct {
	mu   sync.Mutex
	done bool
}

// do runs write, under the lock, if nobody answered yet, and reports
// whether it did.
func (o *ackOnce) do(write func()) bool {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.done {
		return false
	}
	o.done = true
	write()
	return true
}

// flush sends what w holds now. The writers net/http gives handlers are
// http.Flushers; a type assertion, unlike http.NewResponseController,
// allocates nothing.
func flush(w http.ResponseWriter) {
	if f, ok := w.(http.Flusher); ok {
		f.Flush()
	}
}
