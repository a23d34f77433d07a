package slack

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// This file turns authenticated Slack input (from HTTP or Socket Mode)
// into bot.Command and bot.Action values and calls the handler, answering
// within Slack's 3 seconds whatever the handler does.

// command hands a slash command to h and returns its Reply for the
// immediate response. The handler answers at once by contract (it does no
// network I/O before it returns); should it still be late (a stalled disk
// under its audit write), Slack is answered empty when the ack budget is
// spent and the Reply follows through response_url.
func (a *Adapter) command(base context.Context, h bot.Handler, sc slackgo.SlashCommand) bot.Reply {
	in, refusal := a.slashInput(sc)
	if !refusal.IsZero() {
		return refusal
	}
	a.logCommand(in)
	reply, done := a.inTime(base, func(ctx context.Context) bot.Reply {
		return h.HandleCommand(ctx, in.cmd)
	}, in.late(a))
	if !done {
		return bot.NoReply
	}
	return reply
}

// slashInput is a checked slash command: what the handler gets and where
// a late Reply goes.
type slashInput struct {
	cmd bot.Command
	rp  responder
}

// late delivers a Reply that missed the acknowledgement.
func (in slashInput) late(a *Adapter) func(context.Context, bot.Reply) {
	return func(ctx context.Context, reply bot.Reply) {
		a.deliver(ctx, in.rp, in.cmd.Channel, in.cmd.User, reply)
	}
}

// slashInput checks sc and turns it into a command; a command this app
// cannot take comes back as a refusal Reply instead.
func (a *Adapter) slashInput(sc slackgo.SlashCommand) (slashInput, bot.Reply) {
	if sc.Command != a.cfg.Command {
		a.log.Warn("unexpected slash command", "command", sc.Command)
		return slashInput{}, bot.ReplyFor(refusalText(fmt.Sprintf("This app answers %s, not %s.", a.cfg.Command, sc.Command)))
	}
	if sc.UserID == "" || sc.ChannelID == "" {
		return slashInput{}, bot.ReplyFor(refusalText("Slack sent this command without a user or channel; try again."))
	}
	user := bot.User{ID: sc.UserID, Name: displayName(sc.UserName, sc.UserID)}
	in := slashInput{
		cmd: bot.Command{Platform: Platform, User: user, Channel: sc.ChannelID, Text: strings.TrimSpace(unescapeText(sc.Text))},
		rp:  responder{url: sc.ResponseURL, user: sc.UserID, channel: sc.ChannelID, trigger: sc.TriggerID},
	}
	a.recent.put(in.rp)
	return in, bot.NoReply
}

// logCommand is the operations line of each slash command as typed
// ("slash command": user, channel, text, with a --code value hidden: a
// one-time code is never logged). Over HTTP it is written after
// the acknowledgement (or by the ack guard when the handler is late), so
// its write is not on the ack's path. LogAttrs spares the boxing of
// key-value arguments.
func (a *Adapter) logCommand(in slashInput) {
	a.log.LogAttrs(context.Background(), slog.LevelInfo, "slash command",
		slog.String("user", in.cmd.User.ID), slog.String("channel", in.cmd.Channel), slog.String("text", bot.RedactCommand(in.cmd.Text)))
}

// slackUnescaper undoes the only escaping Slack applies to the text it
// sends: &, < and > arrive as &amp;, &lt; and &gt; (Slack's message
// formatting docs, "escape only these three"). It replaces in one pass,
// left to right, and never rescans what it wrote, so "&amp;lt;" becomes
// "&lt;" once (as if &lt; and &gt; were replaced first and &amp; last)
// and no other entity is touched.
var slackUnescaper = strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&")

// unescapeText returns slash-command text as the user typed it.
func unescapeText(s string) string { return slackUnescaper.Replace(s) }

// interaction hands each button of a block_actions payload to h. Slack
// ignores the body of the answer to a click, so the handler always runs
// after the acknowledgement and refusals go through response_url.
func (a *Adapter) interaction(base context.Context, h bot.Handler, ic slackgo.InteractionCallback) {
	if ic.Type != slackgo.InteractionTypeBlockActions {
		a.log.Debug("ignoring interaction", "type", ic.Type)
		return
	}
	if ic.User.ID == "" {
		a.log.Warn("block_actions without a user; ignored")
		return
	}
	channel := ic.Channel.ID
	if channel == "" {
		channel = ic.Container.ChannelID
	}
	ts := ic.Container.MessageTs
	if ts == "" {
		ts = ic.Message.Timestamp
	}
	user := bot.User{ID: ic.User.ID, Name: displayName(ic.User.Name, ic.User.ID)}
	rp := responder{url: ic.ResponseURL, user: ic.User.ID, channel: channel, trigger: ic.TriggerID}
	a.recent.put(rp)
	if len(ic.ActionCallback.BlockActions) == 0 {
		a.log.Warn("block_actions payload without block actions; ignored", "user", user.ID)
	}
	for _, ba := range ic.ActionCallback.BlockActions {
		if ba == nil {
			continue
		}
		act := bot.Action{Platform: Platform, User: user, Message: bot.Ref{Channel: channel, ID: ts}, ActionID: ba.ActionID, Value: ba.Value}
		a.log.Info("button click", "request_id", ba.Value, "user", user.ID, "channel", channel, "action", ba.ActionID)
		a.background(base, func(ctx context.Context) bot.Reply {
			return h.HandleAction(ctx, act)
		}, func(ctx context.Context, reply bot.Reply) {
			a.deliver(ctx, rp, channel, user, reply)
		})
	}
}

// inTime runs fn in the background and waits for its Reply up to the ack
// budget. It reports whether fn finished in time, and its Reply if so;
// when fn finishes later, its Reply goes to late.
func (a *Adapter) inTime(base context.Context, fn func(context.Context) bot.Reply, late func(context.Context, bot.Reply)) (bot.Reply, bool) {
	res := make(chan bot.Reply, 1)
	a.background(base, fn, func(_ context.Context, reply bot.Reply) { res <- reply })
	t := time.NewTimer(a.opt.ackBudget)
	defer t.Stop()
	select {
	case reply := <-res:
		return reply, true
	case <-t.C:
	}
	a.log.Warn("handler answered after the ack budget; its reply follows through response_url")
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		reply := <-res
		ctx, cancel := context.WithTimeout(context.WithoutCancel(base), a.opt.sendTimeout)
		defer cancel()
		late(ctx, reply)
	}()
	return bot.NoReply, false
}

// background runs fn in a goroutine with its own deadline, detached from
// the inbound request (which ends with the acknowledgement), then passes
// its Reply to after. A panic in fn is logged and becomes bot.FailedText
// rather than ending the process.
func (a *Adapter) background(base context.Context, fn func(context.Context) bot.Reply, after func(context.Context, bot.Reply)) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		a.run(base, fn, after)
	}()
}

// run calls fn with its own deadline, detached from the inbound request's
// cancellation, then passes its Reply to after. A panic in fn is logged
// and becomes bot.FailedText rather than ending the process.
func (a *Adapter) run(base context.Context, fn func(context.Context) bot.Reply, after func(context.Context, bot.Reply)) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(base), a.opt.handlerTimeout)
	defer cancel()
	reply := func() (reply bot.Reply) {
		defer func() {
			if p := recover(); p != nil {
				a.log.Error("handler panicked", "panic", p)
				reply = bot.ReplyFor(refusalText(bot.FailedText))
			}
		}()
		return fn(ctx)
	}()
	if after != nil {
		after(ctx, reply)
	}
}

// deliver shows a Reply that could not ride on the request's own answer
// (a click's, or one later than the ack budget) to its user alone: its
// Form opened with the request's trigger_id, else its Message through the
// request's response_url, which works in channels the bot has not joined,
// else through Notify; then its Files by direct message.
func (a *Adapter) deliver(ctx context.Context, rp responder, channel string, user bot.User, reply bot.Reply) {
	if reply.Form != nil {
		if err := a.openForm(ctx, rp.trigger, channel, user, *reply.Form); err != nil {
			a.log.Warn("could not open a form; showing its message instead", "user", user.ID, "err", err)
		} else {
			reply.Message = nil
		}
	}
	if !reply.IsZero() {
		a.showReply(ctx, rp, channel, user, reply)
	}
	if len(reply.Files) > 0 {
		if err := a.sendDirect(ctx, user, reply.Files); err != nil {
			a.log.Error("could not send files to their user by direct message", "user", user.ID, "err", err)
		}
	}
}

func (a *Adapter) showReply(ctx context.Context, rp responder, channel string, user bot.User, reply bot.Reply) {
	m := a.replyMessage(reply)
	if rp.url != "" {
		err := a.respond(ctx, rp.url, m)
		if err == nil {
			return
		}
		a.log.Warn("response_url failed; trying chat.postEphemeral", "user", user.ID, "err", err)
	}
	if err := a.Notify(ctx, channel, user, m); err != nil {
		a.log.Error("could not show a reply to its user", "user", user.ID, "channel", channel, "err", err)
	}
}

// splitReply divides a Reply answered in the acknowledgement itself (a
// slash command's) into what rides on the ack (its Message, unless a Form
// is to be opened instead) and what follows it (the Form, with the
// Message kept for when it cannot be opened, and the Files); later is
// zero when nothing follows.
func splitReply(reply bot.Reply) (now, later bot.Reply, follows bool) {
	if reply.Form == nil && len(reply.Files) == 0 {
		return reply, bot.Reply{}, false
	}
	now, later = reply, reply
	now.Form, now.Files = nil, nil
	if reply.Form != nil {
		now = bot.NoReply
	} else {
		later.Message, later.Err = nil, nil
	}
	return now, later, true
}

// refusalText is a refusal the adapter itself writes for people; it reads
// as a sentence, unlike Go error strings.
type refusalText string

func (r refusalText) Error() string { return string(r) }

// UserText implements bot.Readable.
func (r refusalText) UserText() string { return string(r) }

// replyMessage is how a handler's Reply looks to its user: its message,
// with who may approve instead as mentions (Text is escaped) in the
// context line under it. The bot's own failure (Reply.Err) is logged here;
// the Reply shows bot.FailedText only, so no Go error text ever reaches
// the HTTP answer or the response_url.
func (a *Adapter) replyMessage(reply bot.Reply) bot.Message {
	if reply.Err != nil {
		a.log.Error("handler failed", "err", reply.Err)
	}
	return reply.WithApprovers()
}

func displayName(name, id string) string {
	if name != "" {
		return name
	}
	return id
}
