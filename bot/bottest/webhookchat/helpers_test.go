package webhookchat

import (
	"context"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// handlerFunc is a bot.Handler that only tells it was called.
type handlerFunc func()

func (f handlerFunc) HandleCommand(context.Context, bot.Command) bot.Reply { f(); return bot.NoReply }
func (f handlerFunc) HandleAction(context.Context, bot.Action) bot.Reply   { f(); return bot.NoReply }
