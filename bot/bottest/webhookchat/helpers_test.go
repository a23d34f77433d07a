package webhookchat

import (
	"context"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// handlerFunc is a bot.Handler that only tells it was called.
type handlerFunc func()

func (f handlerFunc) HandleCommand(context.Context, bot.Chat, bot.Command) error { f(); return nil }
func (f handlerFunc) HandleAction(context.Context, bot.Chat, bot.Action) error   { f(); return nil }
