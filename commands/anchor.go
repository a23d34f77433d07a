package commands

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// ActionAuditAnchored is the audit action that records an anchor: the head
// the router posted to the audit channel and logged.
const ActionAuditAnchored = "audit.anchored"

// anchorLoop anchors the audit head every AnchorEvery (daily by default).
func (r *Router) anchorLoop(ctx context.Context) {
	every(ctx, r.opt.AnchorEvery, func(ctx context.Context) {
		if _, err := r.Anchor(ctx, approvals.SystemUser(), "Daily anchor"); err != nil {
			r.log.Error("anchoring the audit trail", "err", err)
		}
	})
}

// Anchor puts the audit trail's head outside the store, where whoever can
// rewrite the database file cannot reach: it logs it, posts it to the
// audit channel (Options.AuditChannel) on every connected platform, and
// records that it did. `gitlab-chatops audit verify --anchor SEQ:HASH`
// later proves that the trail up to the anchored entry is the one that was
// anchored. It returns the message it posted.
func (r *Router) Anchor(ctx context.Context, by approvals.User, why string) (bot.Message, error) {
	head, err := r.opt.Audit.AuditHead(ctx)
	if err != nil {
		return bot.Message{}, fmt.Errorf("reading the audit head: %w", err)
	}
	now := r.opt.Clock().UTC()
	r.log.Info("audit anchor", "head", head.String(), "seq", head.Seq, "why", why)
	msg := anchorMessage(head, now, why)
	where := "the log only (no audit.channel configured)"
	if r.opt.AuditChannel != "" {
		where = r.opt.AuditChannel
		for _, chat := range r.allChats() {
			if _, err := chat.PostRoot(ctx, r.opt.AuditChannel, msg); err != nil {
				r.log.Error("posting the audit anchor", "platform", chat.Platform(), "channel", r.opt.AuditChannel, "head", head.String(), "err", err)
				where += " (" + chat.Platform() + ": not posted: " + err.Error() + ")"
			}
		}
	}
	r.audit(ctx, approvals.AuditEntry{Actor: by.ID, ActorName: by.Name, Action: ActionAuditAnchored,
		Detail: fmt.Sprintf("head %s anchored to %s: %s", head, where, why)})
	return msg, nil
}

// logHead logs the audit head. Logged at every stop and start, it shows a
// trail rewritten while the bot was not running: the head at the next
// start differs from the head at the last stop.
func (r *Router) logHead(ctx context.Context, when string) {
	head, err := r.opt.Audit.AuditHead(ctx)
	if err != nil {
		r.log.Error("reading the audit head", "when", when, "err", err)
		return
	}
	r.log.Info("audit head "+when, "head", head.String())
}

// anchorMessage is what the audit channel shows for an anchor.
func anchorMessage(head auditchain.Head, at time.Time, why string) bot.Message {
	return bot.Message{
		Title: "Audit anchor",
		Fields: []bot.Field{
			{Label: "Head (entry:hash)", Value: "`" + head.String() + "`"},
			{Label: "Entries", Value: fmt.Sprint(head.Seq), Short: true},
			{Label: "Taken", Value: at.Format("2006-01-02 15:04:05 UTC"), Short: true},
		},
		Text: fmt.Sprintf("%s. To prove later that the audit trail up to this entry was not rewritten:\n`gitlab-chatops audit verify --config FILE --anchor %s`", why, head),
		Tone: bot.ToneInfo,
	}
}

// allChats returns the registered adapters, in platform order.
func (r *Router) allChats() []bot.Chat {
	r.mu.Lock()
	defer r.mu.Unlock()
	names := make([]string, 0, len(r.chats))
	for n := range r.chats {
		names = append(names, n)
	}
	slices.Sort(names)
	out := make([]bot.Chat, 0, len(names))
	for _, n := range names {
		out = append(out, r.chats[n])
	}
	return out
}
