package commands

import (
	"bytes"
	"cmp"
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

// anchorPoll is how often (real time) the anchor loop looks at the clock.
// The schedule is kept on Options.Clock, not on a timer: a bot restarted
// more often than AnchorEvery still anchors on time, and a suspended host
// catches up when it wakes.
const anchorPoll = time.Minute

// anchorLoop anchors the audit head every AnchorEvery (daily by default),
// counted from the last audit.anchored entry, whoever made it: at once if
// there is none or it is older than AnchorEvery, then AnchorEvery after
// each. A process's start does not reset the schedule.
func (r *Router) anchorLoop(ctx context.Context) {
	poll := cmp.Or(r.anchorPoll, anchorPoll)
	last, read, err := r.lastAnchor(ctx, 0)
	if err != nil {
		r.logger(ctx).Error("finding the last audit anchor; anchoring now", "err", err)
		read = 0
	}
	for {
		if due := last.Add(r.opt.AnchorEvery); !r.opt.Clock().Before(due) {
			// Someone may have anchored (`audit anchor`) since: the trail
			// says when the last anchor was, not this loop's memory. Only
			// the entries after those already read can hold a newer one.
			if l, seq, err := r.lastAnchor(ctx, read); err == nil {
				read = max(read, seq)
				if l.After(last) {
					last = l
					continue
				}
			}
			// The anchor's time is read before it is taken: read after, a
			// slow post (or a clock moved meanwhile, as tests do) would
			// push the next one late.
			at := r.opt.Clock()
			if _, err := r.Anchor(ctx, approvals.SystemUser(), "Daily anchor"); err != nil {
				r.logger(ctx).Error("anchoring the audit trail; retrying", "err", err)
			} else {
				last = at
			}
		}
		wait := min(poll, last.Add(r.opt.AnchorEvery).Sub(r.opt.Clock()))
		if err := sleepCtx(ctx, max(wait, time.Millisecond)); err != nil {
			return
		}
	}
}

// anchorPage is how many entries lastAnchor reads at a time.
const anchorPage = 1024

// lastAnchor returns the time of the newest audit.anchored entry numbered
// above after and no older than AnchorEvery, or the zero time if there is
// none (older ones do not change the schedule: an anchor is due at once);
// and the newest entry's seq, which a later call passes as after to read
// only what was appended since.
//
// It reads the trail backwards a page at a time and stops at the first
// page that reaches after or whose oldest entry is older than
// AnchorEvery, so its memory is one page however long the trail. It
// decodes only the entries whose stored bytes name the action, and each
// page's oldest: a trail of a million entries all younger than
// AnchorEvery costs one pass over the bytes, not a million decodes.
func (r *Router) lastAnchor(ctx context.Context, after uint64) (time.Time, uint64, error) {
	cutoff := r.opt.Clock().Add(-r.opt.AnchorEvery)
	action := []byte(ActionAuditAnchored)
	var newest uint64
	for before := uint64(0); ; {
		var found time.Time
		var oldest, n uint64
		stop := false
		err := r.opt.Audit.AuditPage(ctx, before, anchorPage, func(seq uint64, stored []byte) error {
			n++
			if n == 1 {
				oldest = seq
			}
			newest = max(newest, seq)
			if seq <= after {
				stop = true
				return nil
			}
			if n > 1 && !bytes.Contains(stored, action) {
				return nil
			}
			e, err := auditchain.Decode(stored)
			if err != nil {
				return fmt.Errorf("entry %d: %w", seq, err)
			}
			if e.Time.Before(cutoff) {
				stop = true // this page is the last one read
				return nil
			}
			if e.Action == ActionAuditAnchored {
				found = e.Time // entries come oldest first: the newest wins
			}
			return nil
		})
		if err != nil {
			return time.Time{}, newest, fmt.Errorf("reading the audit trail for the last anchor: %w", err)
		}
		if !found.IsZero() {
			return found, newest, nil
		}
		if stop || n < anchorPage || oldest <= 1 {
			return time.Time{}, newest, nil
		}
		before = oldest
	}
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
	r.logger(ctx).Info("audit anchor", "head", head.String(), "seq", head.Seq, "why", why)
	msg := anchorMessage(head, now, why)
	where := "the log only (no audit.channel configured)"
	if r.opt.AuditChannel != "" {
		where = r.opt.AuditChannel
		for _, chat := range r.allChats() {
			if _, err := chat.PostRoot(ctx, r.opt.AuditChannel, msg); err != nil {
				r.logger(ctx).Error("posting the audit anchor", "platform", chat.Platform(), "channel", r.opt.AuditChannel, "head", head.String(), "err", err)
				where += " (" + chat.Platform() + ": not posted: " + err.Error() + ")"
			}
		}
	}
	// Stamped with the router's clock, which schedules the next anchor
	// (anchorLoop).
	r.audit(ctx, approvals.AuditEntry{Time: now, Actor: by.ID, ActorName: by.Name, Action: ActionAuditAnchored,
		Detail: fmt.Sprintf("head %s anchored to %s: %s", head, where, why)})
	return msg, nil
}

// logHead logs the audit head. Logged at every stop and start, it shows a
// trail rewritten while the bot was not running: the head at the next
// start differs from the head at the last stop.
func (r *Router) logHead(ctx context.Context, when string) {
	head, err := r.opt.Audit.AuditHead(ctx)
	if err != nil {
		r.logger(ctx).Error("reading the audit head", "when", when, "err", err)
		return
	}
	r.logger(ctx).Info("audit head "+when, "head", head.String())
}

// anchorMessage is what the audit channel shows for an anchor.
func anchorMessage(head auditchain.Head, at time.Time, why string) bot.Message {
	return bot.Message{
		Title: bot.Plain("Audit anchor"),
		Fields: []bot.Field{
			{Label: "Head (entry:hash)", Value: bot.Code(head.String())},
			{Label: "Entries", Value: bot.Plain(fmt.Sprint(head.Seq)), Short: true},
			{Label: "Taken", Value: bot.Time(at, bot.DateClock), Short: true},
		},
		Text: bot.Textf("%s. To prove later that the audit trail up to this entry was not rewritten:\n%s", why, bot.Code(fmt.Sprintf("gitlab-chatops audit verify --config FILE --anchor %s", head))),
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
