package commands_test

import (
	"context"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// replyError is a refusal (or the bot's own failure) a handler replied
// with, as the error the tests check.
type replyError struct{ bot.Reply }

func (e replyError) Error() string { return e.Message.Text.String() }

// UserText implements bot.Readable: the reply's text is for people.
func (e replyError) UserText() string { return e.Message.Text.String() }

// Approvers implements bot.ApproversNamer with the Reply's approvers.
func (e replyError) Approvers() []string { return e.Reply.Approvers }

// deliver does with a handler's Reply what an adapter does: nothing for
// NoReply, the message shown to the user alone (chat.Notify) for an
// answer; a refusal or failure is returned as an error instead, so that
// tests check it where they check the handler's answer.
func deliver(ctx context.Context, chat bot.Chat, channel string, u bot.User, rp bot.Reply) error {
	switch {
	case rp.IsZero():
		return nil
	case rp.Refused || rp.Err != nil:
		return replyError{rp}
	}
	return chat.Notify(ctx, channel, u, rp.WithApprovers())
}

// handle hands cmd to h as an adapter would and delivers its Reply.
func handle(ctx context.Context, h bot.Handler, chat bot.Chat, cmd bot.Command) error {
	return deliver(ctx, chat, cmd.Channel, cmd.User, h.HandleCommand(ctx, cmd))
}

// click hands act to h as an adapter would and delivers its Reply.
func click(ctx context.Context, h bot.Handler, chat bot.Chat, act bot.Action) error {
	return deliver(ctx, chat, act.Message.Channel, act.User, h.HandleAction(ctx, act))
}
