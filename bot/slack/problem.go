package slack

import (
	"context"
	"errors"
	"net"
	"net/url"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// readable wraps an error of a Web API call in a bot.UserError: a sentence
// with the next step for the person who asked, the Slack error for the
// log. Slack's own error strings (`not_in_channel`) and transport errors
// (`Post "https://slack.com/api/…": dial tcp …`) never reach a person.
func readable(err error) error {
	if err == nil {
		return nil
	}
	var r bot.Readable
	if errors.As(err, &r) {
		return err
	}
	return &bot.UserError{Text: problemText(err), Err: err}
}

// problemText says what a failed Web API call means for the person who
// asked, by Slack's error code (docs.slack.dev, "Errors" of each method)
// or the kind of transport failure.
func problemText(err error) string {
	var (
		se  slackgo.SlackErrorResponse
		rl  *slackgo.RateLimitedError
		sc  slackgo.StatusCodeError
		ue  *url.Error
		ne  net.Error
		ope *net.OpError
	)
	switch {
	case errors.As(err, &se):
		switch se.Err {
		case "not_in_channel", "channel_not_found":
			return "The bot is not a member of this channel; invite it with `/invite @gitlab-chatops`, then try again."
		case "is_archived":
			return "This channel is archived, so I cannot post in it; ask in another channel."
		case "user_not_in_channel":
			return "You are not a member of this channel, so I cannot show you a message here; join it or ask in a channel you are in."
		case "not_authed", "invalid_auth", "token_revoked", "token_expired", "account_inactive":
			return "Slack refused the bot's token, so I cannot post; whoever runs the bot must check slack.bot_token (or SLACK_BOT_TOKEN)."
		case "missing_scope", "no_permission", "restricted_action":
			return "The Slack app may not do this here; whoever runs the bot must give it the scopes listed in docs/slack.md and reinstall it."
		case "ratelimited":
			return "Slack is rate-limiting the bot; try again in a minute."
		}
		return "Slack refused my message; the bot's log has the reason. Try again, and if it happens again, ask whoever runs the bot."
	case errors.As(err, &rl):
		return "Slack is rate-limiting the bot; try again in a minute."
	case errors.As(err, &sc) && sc.Code >= 500:
		return "Slack is having trouble right now; try again in a minute."
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return "Slack did not answer in time; try again in a minute."
	case errors.As(err, &ope), errors.As(err, &ue):
		return "I could not reach Slack; try again in a minute, and if it happens again, ask whoever runs the bot to check its network."
	}
	return "Slack refused my message; the bot's log has the reason. Try again, and if it happens again, ask whoever runs the bot."
}
