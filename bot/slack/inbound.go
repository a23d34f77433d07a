package slack

import (
	"context"
	"fmt"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// This file turns authenticated Slack input (from HTTP or Socket Mode)
// into bot.Command and bot.Action values and calls the handler, answering
// within Slack's 3 seconds whatever the handler does.

// command hands a slash command to h. If h answers within the ack budget
// its refusal (or nil) is returned for the immediate response; if not,
// nil is returned, the handler keeps running, and a later refusal is
// shown through response_url.
func (a *Adapter) command(base context.Context, h bot.Handler, sc slackgo.SlashCommand) error {
	if sc.Command != a.cfg.Command {
		a.log.Warn("unexpected slash command", "command", sc.Command)
		return refusalText(fmt.Sprintf("This app answers %s, not %s.", a.cfg.Command, sc.Command))
	}
	if sc.UserID == "" || sc.ChannelID == "" {
		return refusalText("Slack sent this command without a user or channel; try again.")
	}
	user := bot.User{ID: sc.UserID, Name: displayName(sc.UserName, sc.UserID)}
	cmd := bot.Command{Platform: Platform, User: user, Channel: sc.ChannelID, Text: strings.TrimSpace(unescapeText(sc.Text))}
	rp := responder{url: sc.ResponseURL, user: sc.UserID, channel: sc.ChannelID}
	a.recent.put(rp)
	a.log.Info("slash command", "user", sc.UserID, "channel", sc.ChannelID, "text", cmd.Text)
	done, err := a.inTime(base, rp, func(ctx context.Context) error {
		return h.HandleCommand(ctx, a, cmd)
	}, func(ctx context.Context, err error) {
		a.refuse(ctx, rp, sc.ChannelID, user, err)
	})
	if !done {
		return nil
	}
	return err
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
	rp := responder{url: ic.ResponseURL, user: ic.User.ID, channel: channel}
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
		a.background(base, rp, func(ctx context.Context) error {
			return h.HandleAction(ctx, a, act)
		}, func(ctx context.Context, err error) {
			a.refuse(ctx, rp, channel, user, err)
		})
	}
}

// inTime runs fn in the background and waits for it up to the ack
// budget. It reports whether fn finished in time, and fn's error if so;
// when fn finishes later, a non-nil error goes to late.
func (a *Adapter) inTime(base context.Context, rp responder, fn func(context.Context) error, late func(context.Context, error)) (bool, error) {
	res := make(chan error, 1)
	a.background(base, rp, fn, func(_ context.Context, err error) { res <- err })
	t := time.NewTimer(a.opt.ackBudget)
	defer t.Stop()
	select {
	case err := <-res:
		return true, err
	case <-t.C:
	}
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		if err := <-res; err != nil {
			ctx, cancel := context.WithTimeout(context.WithoutCancel(base), a.opt.sendTimeout)
			defer cancel()
			late(withResponder(ctx, rp), err)
		}
	}()
	return false, nil
}

// background runs fn in a goroutine with its own deadline, detached from
// the inbound request (which ends with the acknowledgement) and carrying
// the responder for Notify; then passes its result to after. A panic in
// fn is logged and becomes a refusal rather than ending the process.
func (a *Adapter) background(base context.Context, rp responder, fn func(context.Context) error, after func(context.Context, error)) {
	a.bg.Add(1)
	go func() {
		defer a.bg.Done()
		ctx, cancel := context.WithTimeout(context.WithoutCancel(base), a.opt.handlerTimeout)
		defer cancel()
		ctx = withResponder(ctx, rp)
		err := func() (err error) {
			defer func() {
				if p := recover(); p != nil {
					a.log.Error("handler panicked", "panic", p)
					err = refusalText(bot.FailedText)
				}
			}()
			return fn(ctx)
		}()
		if after != nil {
			after(ctx, err)
		}
	}()
}

// refuse shows a handler's refusal to the one user concerned, through
// Notify with the request's response_url.
func (a *Adapter) refuse(ctx context.Context, rp responder, channel string, user bot.User, err error) {
	if err == nil {
		return
	}
	if nerr := a.Notify(withResponder(ctx, rp), channel, user, a.refusalMessage(err)); nerr != nil {
		a.log.Error("could not show a refusal to its user", "user", user.ID, "channel", channel, "err", nerr)
	}
}

// refusalText is a refusal the adapter itself writes for people; it reads
// as a sentence, unlike Go error strings.
type refusalText string

func (r refusalText) Error() string { return string(r) }

// UserText implements bot.Readable.
func (r refusalText) UserText() string { return string(r) }

// refusalMessage is how a handler's error looks to its user: a Readable
// error's sentence; anything else is the bot's own failure, shown as
// bot.FailedText and logged here, so no Go error text ever reaches the
// HTTP answer or the response_url.
func (a *Adapter) refusalMessage(err error) bot.Message {
	m, approvers, ok := bot.Refusal(err)
	if !ok {
		a.log.Error("handler failed", "err", err)
	}
	// Who may approve instead is shown as mentions (Text is escaped), in
	// the context line under the refusal.
	m.Mentions = approvers
	return m
}

func displayName(name, id string) string {
	if name != "" {
		return name
	}
	return id
}
