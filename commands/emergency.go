package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// checkEmergency is the quick check of a destructive command before
// anything waits on the agent: a break-glass request needs a reason, and
// an ordinary one must be inside the change windows (the Service checks
// both again when it opens the request, and the window once more at the
// approval that would start it).
func (r *Router) checkEmergency(inv Invocation, operation string) error {
	if inv.Emergency && inv.Reason == "" {
		return &UsageError{Msg: fmt.Sprintf("breaking glass needs a reason: add it after --, e.g. /gitlab-migrations %s --emergency -- INC-1234 deploy blocked", inv.Sub), Usage: subcommands[inv.Sub].usage}
	}
	return r.opt.Approvals.CheckWindow(operation, inv.Emergency)
}

// emergencyNotice posts the loud notice of emergency request req (what:
// "opened" or "running") to the audit channel on every connected
// platform, mentioning the approvers who can approve it. Without an audit
// channel it goes to the request's own channel as a root post, so that it
// is never only in a thread.
func (r *Router) emergencyNotice(ctx context.Context, chat bot.Chat, req *approvals.Request, what string) {
	var mentions []string
	if what == "opened" {
		mentions = approversOf(req)
	}
	r.postAuditChannel(ctx, chat, req.Channel, emergencyMessage(req, what), mentions, "emergency notice")
}

// postAuditChannel posts msg to the audit channel on every connected
// platform, each mentioning those of mentions (qualified IDs) on its own
// platform, or, when no audit channel is configured, to fallback on chat;
// failures are logged (what names the message there).
func (r *Router) postAuditChannel(ctx context.Context, chat bot.Chat, fallback string, msg bot.Message, mentions []string, what string) {
	if r.opt.AuditChannel == "" {
		r.logger(ctx).Warn("no audit.channel configured; posting the "+what+" in the request's channel", "channel", fallback)
		msg.Mentions = mentionable(chat.Platform(), mentions)
		if _, err := chat.PostRoot(ctx, fallback, msg); err != nil {
			r.logger(ctx).Error("posting the "+what, "channel", fallback, "err", err)
		}
		return
	}
	for _, c := range r.allChats() {
		msg.Mentions = mentionable(c.Platform(), mentions)
		if _, err := c.PostRoot(ctx, r.opt.AuditChannel, msg); err != nil {
			r.logger(ctx).Error("posting the "+what, "platform", c.Platform(), "channel", r.opt.AuditChannel, "err", err)
		}
	}
}

// emergencyMessage is the audit channel's notice of a break-glass request
// opened or now running.
func emergencyMessage(req *approvals.Request, what string) bot.Message {
	m := bot.Message{
		Tone: bot.ToneDanger,
		Fields: []bot.Field{
			{Label: "Command", Value: commandText(req.Argv)},
			{Label: "Host", Value: bot.Plain(req.Host), Short: true},
			{Label: "Requested by", Value: bot.Plain(req.Requester.String()), Short: true},
			{Label: "Reason", Value: bot.Plain(oneLine(req.Reason))},
		},
		Context: bot.Textf("request %s · %s has its history", req.ID, bot.Code("/gitlab-migrations show "+req.ID)),
	}
	switch what {
	case "opened":
		m.Title = bot.Textf("🚨 BREAK-GLASS: emergency %s on %s requested", req.Operation, req.Host)
		m.Text = bot.Textf("%s broke glass: this request bypasses the change windows and freezes. It needs %s.", req.Requester, bot.Bold(emergencyNeeds(req)))
	default:
		m.Title = bot.Textf("🚨 BREAK-GLASS: emergency %s on %s is running now", req.Operation, req.Host)
		m.Text = bot.Textf("Approved by %s. Once it ends, an admin must acknowledge its post-incident review within %s: %s.",
			names(req.Approvals()), durationWords(approvals.ReviewWithin), bot.Code("/gitlab-migrations review "+req.ID+" -- <note>"))
	}
	return m
}

// emergencyNeeds says what approves an emergency request: its count, or
// one member of an emergency approver group.
func emergencyNeeds(req *approvals.Request) string {
	needs := plural(req.Required, "approval") + " (one more than usual)"
	if len(req.EmergencyApprovers) > 0 {
		needs += ", or one from an emergency approver"
	}
	return needs
}

// durationWords writes 24h as "24 hours".
func durationWords(d time.Duration) string {
	return fmt.Sprintf("%.0f hours", d.Hours())
}

// emergencyCard marks the card m of emergency request req: a title that
// says so, what approves it, and its post-incident review once it ran.
func emergencyCard(m bot.Message, req *approvals.Request, now time.Time) bot.Message {
	if !req.Emergency {
		return m
	}
	m.Title = bot.Join(bot.Plain("🚨 EMERGENCY · "), m.Title)
	if req.State == approvals.StatePending {
		m.Tone = bot.ToneDanger
		m.Fields = append(m.Fields, bot.Field{Label: "Break-glass", Value: bot.Plain("Bypasses the change windows and freezes; needs " + emergencyNeeds(req) + ".")})
	}
	switch {
	case req.Review != nil:
		m.Fields = append(m.Fields, bot.Field{Label: "Post-incident review", Value: bot.Textf("acknowledged by %s %s: %s", req.Review.By, stamp(req.Review.At), oneLine(req.Review.Note))})
	case req.ReviewOverdue(now):
		m.Fields = append(m.Fields, bot.Field{Label: "Post-incident review", Value: bot.Textf("OVERDUE since %s: an admin acknowledges it with %s", bot.Time(req.ReviewDue, bot.DateClock), bot.Code("/gitlab-migrations review "+req.ID+" -- <note>"))})
	case req.ReviewOpen():
		m.Fields = append(m.Fields, bot.Field{Label: "Post-incident review", Value: bot.Textf("due by %s: an admin acknowledges it with %s", bot.Time(req.ReviewDue, bot.DateClock), bot.Code("/gitlab-migrations review "+req.ID+" -- <note>"))})
	}
	return m
}
