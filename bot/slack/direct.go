package slack

import (
	"context"
	"errors"
	"fmt"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// sendDirect sends files to user alone: conversations.open gives the
// bot's direct message channel with them (the im:write scope), and each
// file is uploaded there with the external upload flow, like a job's
// output into a thread. Nobody else is in that channel, so an enrolment's
// QR code is seen by its user only.
func (a *Adapter) sendDirect(ctx context.Context, user bot.User, files []bot.File) error {
	if user.ID == "" {
		return errors.New("slack: no user to send files to")
	}
	ctx, cancel := context.WithTimeout(ctx, a.opt.sendTimeout)
	defer cancel()
	dm, err := a.retry.do(ctx, "conversations.open", func(ctx context.Context) (string, error) {
		ch, _, _, err := a.api.OpenConversationContext(ctx, &slackgo.OpenConversationParameters{Users: []string{user.ID}})
		if err != nil {
			return "", err
		}
		if ch == nil || ch.ID == "" {
			return "", errors.New("Slack answered without a channel")
		}
		return ch.ID, nil
	})
	if err != nil {
		return fmt.Errorf("slack: opening a direct message with %s: %w", user.ID, readable(err))
	}
	var errs []error
	for _, f := range files {
		if err := a.upload(ctx, dm, "", f, ""); err != nil {
			errs = append(errs, fmt.Errorf("sending %q to %s: %w", f.Name, user.ID, err))
		}
	}
	return errors.Join(errs...)
}
