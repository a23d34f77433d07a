package slack

import (
	"context"
	"errors"
	"fmt"
	"net/url"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// responder is the response_url of the slash command or click being
// handled, with whom and where it was for. Notify uses it while the
// handler runs: unlike chat.postEphemeral it works in channels the bot has
// not joined, so `help` answers before anyone has invited the bot.
type responder struct {
	url     string
	user    string
	channel string
}

type responderKey struct{}

func withResponder(ctx context.Context, r responder) context.Context {
	if r.url == "" {
		return ctx
	}
	return context.WithValue(ctx, responderKey{}, r)
}

func responderFrom(ctx context.Context) (responder, bool) {
	r, ok := ctx.Value(responderKey{}).(responder)
	return r, ok
}

// respond posts m to a response_url as an ephemeral message for its user
// alone. replace_original stays false (slack-go always sends it), so the
// message carrying a clicked button is never overwritten by a refusal.
func (a *Adapter) respond(ctx context.Context, rawURL string, m bot.Message) error {
	u, err := url.Parse(rawURL)
	if err != nil || !a.opt.responseURLOK(u) {
		// Never log the URL: it is a bearer credential for 30 minutes.
		return errors.New("slack: response_url is not a Slack hooks URL; not posting to it")
	}
	r := Render(m)
	msg := &slackgo.WebhookMessage{
		ResponseType: slackgo.ResponseTypeEphemeral,
		Text:         r.Text,
		Blocks:       &slackgo.Blocks{BlockSet: r.Blocks},
	}
	ctx, cancel := context.WithTimeout(ctx, a.opt.sendTimeout)
	defer cancel()
	_, err = a.retry.do(ctx, "response_url", func(ctx context.Context) (string, error) {
		return "", redactURL(slackgo.PostWebhookCustomHTTPContext(ctx, rawURL, a.opt.httpClient, msg))
	})
	if err != nil {
		return fmt.Errorf("posting to response_url: %w", err)
	}
	return nil
}

// redactURL takes the URL out of a transport error, which would otherwise
// carry the response_url into logs.
func redactURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		ue.URL = "(response_url)"
	}
	return err
}
