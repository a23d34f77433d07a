package commands

import (
	"context"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// expireLoop expires pending requests past their TTL and takes the buttons
// off their messages, ends approved requests left unstarted (see
// approvals.Service.ExpireDue), and adopts running requests that no
// follower of this process holds (see owner.go). Approve also refuses expired requests by
// itself; the loop is what makes the channel show it.
func (r *Router) expireLoop(ctx context.Context) {
	every(ctx, r.opt.ExpireEvery, r.ExpireNow)
}

// every calls fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func(context.Context)) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			fn(ctx)
		}
	}
}

// ExpireNow is the sweep, at once: it expires due requests and updates
// their messages, ends approved requests left unstarted, gives every
// running request an owner and a deadline (sweepRunning), and reminds the
// audit channel of overdue post-incident reviews, once each
// (remindReviews).
func (r *Router) ExpireNow(ctx context.Context) {
	defer r.sweepRunning(ctx)
	defer r.remindReviews(ctx)
	expired, err := r.opt.Approvals.ExpireDue(ctx)
	if err != nil {
		r.logger(ctx).Error("expiring requests", "err", err)
	}
	for _, req := range expired {
		ctx := r.withRequestLog(ctx, req.ID)
		chat, ok := r.chat(req.Platform)
		if !ok {
			continue
		}
		if req.State == approvals.StateInterrupted {
			r.reportAbandoned(ctx, chat, req)
			continue
		}
		root := bot.Ref{Channel: req.Channel, ID: req.Thread}
		r.updateRoot(ctx, chat, root, requestMessage(req, r.opt.Clock()))
		// Like deny and cancel, expiry says so in the thread.
		if _, err := chat.Reply(ctx, root, expiredReply(req)); err != nil {
			r.logger(ctx).Error("replying in thread", "err", err)
		}
	}
}

// expiredReply is what the thread of an expired request is told.
func expiredReply(req *approvals.Request) bot.Message {
	return bot.Message{Text: bot.Textf("Expired: no approval within %s. Nothing ran. Open a new request if it is still needed.", req.ExpiresAt.Sub(req.CreatedAt).Round(time.Minute)), Tone: bot.ToneDanger}
}
