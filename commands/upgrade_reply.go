package commands

import (
	"context"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// upgradeCheckCommands are the commands an upgrade-check runs, for its
// root post.
func upgradeCheckCommands() bot.Text {
	return bot.JoinWith(" · ", bot.Code("gitlab-ctl status"), bot.Code("gitlab-rake gitlab:background_migrations:status"), bot.Code("gitlab-rake db:migrate:status"))
}

// runUpgradeCheck answers `upgrade-check` in chat: a root post, then the
// verdict as a thread reply (upgradeMessage).
func (r *Router) runUpgradeCheck(ctx context.Context, chat bot.Chat, cmd bot.Command, host Host) {
	root, err := chat.PostRoot(ctx, cmd.Channel, bot.Message{
		Text:    bot.Textf("%s on %s, asked by %s", bot.Bold("upgrade-check"), bot.Bold(host.Name), cmd.User.Name),
		Context: upgradeCheckCommands(),
	})
	if err != nil {
		r.logger(ctx).Error("posting root message", "err", err)
		_ = chat.Notify(ctx, cmd.Channel, cmd.User, couldNotPost(err))
		return
	}
	busy := func() {
		if _, err := chat.Reply(ctx, root, busyMessage(host.Name, r.opt.BusyWait)); err != nil {
			r.logger(ctx).Error("replying in thread", "err", err)
		}
	}
	v, err := r.upgradeCheck(ctx, host, qualifiedUser(cmd.Platform, cmd.User), busy)
	if err != nil {
		r.logger(ctx).Info("upgrade-check stopped", "host", host.Name, "err", err)
		return
	}
	if _, err := chat.Reply(ctx, root, upgradeMessage(v)); err != nil {
		r.logger(ctx).Error("replying in thread", "err", err)
	}
}
