package slack

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// responder is the response_url of a slash command or click, with whom
// and where it was for. A Reply that cannot ride on the request's own
// answer goes through it: unlike chat.postEphemeral it works in channels
// the bot has not joined, so `help` answers before anyone has invited the
// bot.
type responder struct {
	url     string
	user    string
	channel string
	// trigger is the request's trigger_id, with which a Reply's Form is
	// opened (3 seconds, once); "" where there is none.
	trigger string
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

// recentResponders keeps each user's latest response_url per channel for a
// while. Notify falls back to it when chat.postEphemeral fails, which it
// does in channels the bot has not joined: that is exactly when the bot
// must tell the user "I could not post here; invite me", and from
// background work that no longer has the request's context.
type recentResponders struct {
	mu  sync.Mutex
	ttl time.Duration
	max int
	now func() time.Time
	m   map[string]cached[string] // user + "/" + channel -> response_url
}

// responseURLLife is below Slack's 30 minutes, to leave room for the
// messages sent with it.
const responseURLLife = 25 * time.Minute

func newRecentResponders(now func() time.Time, max int) *recentResponders {
	return &recentResponders{ttl: responseURLLife, max: max, now: now, m: map[string]cached[string]{}}
}

func (c *recentResponders) put(rp responder) {
	if rp.url == "" || rp.user == "" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= c.max {
		for k, e := range c.m {
			if now.Sub(e.at) >= c.ttl {
				delete(c.m, k)
			}
		}
		if len(c.m) >= c.max {
			return // full of live entries: keep what we have
		}
	}
	c.m[rp.user+"/"+rp.channel] = cached[string]{val: rp.url, at: now}
}

func (c *recentResponders) get(user, channel string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[user+"/"+channel]
	if !ok || c.now().Sub(e.at) >= c.ttl {
		return "", false
	}
	return e.val, true
}
