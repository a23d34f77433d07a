package commands

import (
	"context"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// expireLoop expires pending requests past their TTL and takes the buttons
// off their messages. Approve also refuses expired requests by itself; the
// loop is what makes the channel show it.
func (r *Router) expireLoop(ctx context.Context) {
	t := time.NewTicker(r.opt.ExpireEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.ExpireNow(ctx)
		}
	}
}

// ExpireNow expires due requests at once and updates their messages.
func (r *Router) ExpireNow(ctx context.Context) {
	expired, err := r.opt.Approvals.ExpireDue(ctx)
	if err != nil {
		r.log.Error("expiring requests", "err", err)
	}
	for _, req := range expired {
		chat, ok := r.chat(req.Platform)
		if !ok {
			continue
		}
		r.updateRoot(ctx, chat, bot.Ref{Channel: req.Channel, ID: req.Thread}, requestMessage(req, r.opt.Clock()))
	}
}
