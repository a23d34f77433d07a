package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// askForReview tells emergency request req's thread, once it ran, that an
// admin must acknowledge its post-incident review.
func (r *Router) askForReview(ctx context.Context, chat bot.Chat, req *approvals.Request) {
	m := bot.Message{Tone: bot.ToneWarning, Title: bot.Plain("Post-incident review needed"),
		Text: bot.Textf("This emergency request ran. An admin must acknowledge its post-incident review by %s: %s. Until then it is listed in %s.",
			bot.Time(req.ReviewDue, bot.DateClock), bot.Code("/gitlab-migrations review "+req.ID+" -- <what was learnt, or a link to the write-up>"), bot.Code("/gitlab-migrations pending")),
		Mentions: mentionable(req.Platform, r.opt.Approvals.Policy().Admins)}
	if _, err := chat.Reply(ctx, bot.Ref{Channel: req.Channel, ID: req.Thread}, m); err != nil {
		r.logger(ctx).Error("replying in thread", "err", err)
	}
}

// review handles `review <request-id> -- <note>`: an admin acknowledges
// an emergency request's post-incident review (the Service checks who may
// and audits both the acknowledgement and a refusal).
func (r *Router) review(ctx context.Context, cmd bot.Command, inv Invocation) (bot.Reply, error) {
	id, err := parseID(inv.Args[0])
	if err != nil {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, &UsageError{Msg: err.Error(), Usage: subcommands[inv.Sub].usage})
	}
	ctx = r.withRequestLog(ctx, id)
	user := qualifiedUser(cmd.Platform, cmd.User)
	req, err := r.opt.Approvals.Review(ctx, id, user, inv.Reason)
	if err != nil {
		if !approvals.IsRefusal(err) {
			r.logger(ctx).Error("recording a review", "err", err)
		}
		return bot.NoReply, &Refusal{Msg: workflowText(err, fmt.Sprintf("The review of %s was not recorded: the bot could not store it; its log has the details. Try again.", id))}
	}
	r.logger(ctx).Info("post-incident review acknowledged", "by", user.ID)
	r.background("review "+id, func(ctx context.Context) {
		ctx = r.withRequestLog(ctx, id)
		chat, ok := r.chat(req.Platform)
		if !ok {
			return
		}
		root := bot.Ref{Channel: req.Channel, ID: req.Thread}
		r.updateRoot(ctx, chat, root, requestMessage(req, r.opt.Clock()))
		if _, err := chat.Reply(ctx, root, reviewedReply(req)); err != nil {
			r.logger(ctx).Error("replying in thread", "err", err)
		}
	})
	return bot.Say(bot.Message{Tone: bot.ToneSuccess, Text: bot.Textf("Post-incident review of %s acknowledged.", bot.Code(req.ID))}), nil
}

// reviewedReply is what the thread of an emergency request is told when
// its review was acknowledged.
func reviewedReply(req *approvals.Request) bot.Message {
	return bot.Message{Tone: bot.ToneSuccess, Text: bot.Textf("Post-incident review acknowledged by %s: %s", req.Review.By, oneLine(req.Review.Note))}
}

// remindReviews is the sweep's part for post-incident reviews: each
// overdue one is reminded in the audit channel, once (MarkReviewReminded
// lets one caller through, so a second sweep or replica stays quiet).
func (r *Router) remindReviews(ctx context.Context) {
	open, err := r.opt.Approvals.OpenReviews(ctx)
	if err != nil {
		r.logger(ctx).Error("listing open post-incident reviews", "err", err)
		return
	}
	now := r.opt.Clock()
	for _, req := range open {
		if !req.ReviewOverdue(now) || !req.ReviewReminded.IsZero() {
			continue
		}
		ctx := r.withRequestLog(ctx, req.ID)
		marked, err := r.opt.Approvals.MarkReviewReminded(ctx, req.ID)
		if err != nil {
			if !approvals.IsRefusal(err) {
				r.logger(ctx).Error("recording a review reminder", "err", err)
			}
			continue
		}
		chat, ok := r.chat(marked.Platform)
		if !ok {
			chats := r.allChats()
			if len(chats) == 0 {
				continue
			}
			chat = chats[0]
		}
		r.logger(ctx).Warn("post-incident review overdue; reminding the audit channel")
		r.postAuditChannel(ctx, chat, marked.Channel, reviewReminder(marked), r.opt.Approvals.Policy().Admins, "review reminder")
	}
}

// reviewReminder is the audit channel's reminder of an overdue review.
func reviewReminder(req *approvals.Request) bot.Message {
	return bot.Message{
		Tone:  bot.ToneDanger,
		Title: bot.Textf("⏰ Post-incident review overdue: emergency %s on %s", req.Operation, req.Host),
		Text: bot.Textf("Emergency request %s (reason: %s) ran %s; its review was due by %s and no admin has acknowledged it. An admin: %s",
			bot.Code(req.ID), oneLine(req.Reason), stamp(req.EndedAt), bot.Time(req.ReviewDue, bot.DateClock), bot.Code("/gitlab-migrations review "+req.ID+" -- <note>")),
		Context: bot.Textf("request %s · reminded once", req.ID),
	}
}

// reviewLines are pending's lines for open post-incident reviews.
func reviewLines(reviews []*approvals.Request, now time.Time) []bot.Text {
	lines := make([]bot.Text, 0, len(reviews))
	for _, q := range reviews {
		due := bot.Textf("due by %s", bot.Time(q.ReviewDue, bot.DateClock))
		if q.ReviewOverdue(now) {
			due = bot.Join(bot.Bold("OVERDUE"), bot.Textf(" since %s", bot.Time(q.ReviewDue, bot.DateClock)))
		}
		lines = append(lines, bot.Textf("• %s emergency %s on %s by %s (%s), %s", bot.Code(q.ID), q.Operation, q.Host, q.Requester, oneLine(q.Reason), due))
	}
	return lines
}
