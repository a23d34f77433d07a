package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Notify implements bot.Chat: m is shown to user alone.
//
// A handler's answer to the user who typed or clicked is its Reply, which
// rides on that request's own response (an ephemeral command response, or
// a callback's ephemeral_text) and needs no permission. Notify is for
// background work, when there is no response left to use: the bot creates an ephemeral post (CreatePostEphemeral), which needs the
// create_post_ephemeral permission that Mattermost's default roles give to
// system admins only. Without it, and unless Config.NotifyFallback is
// "none", the message goes to the user as a direct message from the bot;
// if that fails too, the error says what to grant.
func (a *Adapter) Notify(ctx context.Context, channel string, user bot.User, m bot.Message) error {
	err := a.notifyLater(ctx, channel, user, m)
	if err != nil {
		a.log.Error("could not show a message to one user", "user", user.ID, "channel", channel, "err", err)
	}
	return err
}

func (a *Adapter) notifyLater(ctx context.Context, channel string, user bot.User, m bot.Message) error {
	if !model.IsValidId(user.ID) {
		return fmt.Errorf("mattermost: cannot notify %q: not a user ID", user.ID)
	}
	m.Buttons = nil // an ephemeral post is never edited, so it carries no buttons
	r, err := a.render(ctx, m, nil)
	if err != nil {
		return err
	}
	post := newPost(channel, r)
	resp, err := a.call(ctx, "create ephemeral post", retryRateLimit, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		_, resp, err := a.client.CreatePostEphemeral(ctx, &model.PostEphemeral{UserID: user.ID, Post: post})
		return resp, err
	})
	if err == nil {
		return nil
	}
	if statusOf(resp) != http.StatusForbidden {
		return err
	}
	err = fmt.Errorf("the bot may not post ephemeral messages; grant its role the create_post_ephemeral permission (or make it a system admin): %w", err)
	if a.cfg.NotifyFallback == "none" {
		return err
	}
	if dmErr := a.direct(ctx, channel, user.ID, r); dmErr != nil {
		return errors.Join(err, fmt.Errorf("and the direct message that stands in for it failed: %w", dmErr))
	}
	return nil
}

// direct sends r, meant for userID alone in channel, to them in the bot's
// direct channel with them. It names channel: in the DM, "this channel"
// would be the DM itself.
func (a *Adapter) direct(ctx context.Context, channel, userID string, r rendered) error {
	ch, err := a.directChannel(ctx, userID)
	if err != nil {
		return err
	}
	r.message = joinNonEmpty("\n", "_Only you were meant to see this, in "+a.channelName(ctx, channel)+"; I may not show messages to one person there, so they come here._", r.message)
	post := newPost(ch.Id, r)
	post.PendingPostId = model.NewId()
	_, err = a.call(ctx, "create direct post", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		_, resp, err := a.client.CreatePost(ctx, post)
		return resp, err
	})
	return err
}

// directChannel is the bot's direct channel with userID (created by the
// server if it does not exist yet).
func (a *Adapter) directChannel(ctx context.Context, userID string) (*model.Channel, error) {
	botID, err := a.me.id(ctx, a)
	if err != nil {
		return nil, err
	}
	var ch *model.Channel
	if _, err := a.call(ctx, "create direct channel", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		var resp *model.Response
		var err error
		ch, resp, err = a.client.CreateDirectChannel(ctx, botID, userID)
		return resp, err
	}); err != nil {
		return nil, err
	}
	if ch == nil || !model.IsValidId(ch.Id) {
		return nil, errors.New("mattermost create direct channel: the server returned no channel")
	}
	return ch, nil
}

func newPost(channel string, r rendered) *model.Post {
	p := &model.Post{ChannelId: channel, Message: r.message}
	if len(r.attachments) > 0 {
		p.AddProp(model.PostPropsAttachments, r.attachments)
	}
	return p
}

// Reach asks the server who the bot is (GetMe): the server answers and
// takes the bot token. serve calls it at start, and reports the platform
// not ready until it succeeds. A refused token (HTTP 401) is
// bot.ErrCredentialsRefused: retrying cannot help.
func (a *Adapter) Reach(ctx context.Context) error {
	id, err := a.me.id(ctx, a)
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusUnauthorized {
		return fmt.Errorf("the Mattermost server refused mattermost.bot_token (or MATTERMOST_BOT_TOKEN); check the bot account's access token: %w (%w)", bot.ErrCredentialsRefused, err)
	}
	if err != nil {
		return err
	}
	a.log.Info("mattermost reached", "bot_user", id)
	return nil
}

// botIdentity is the bot account's user ID, asked once (GetMe).
type botIdentity struct {
	mu  sync.Mutex
	uid string
}

func (b *botIdentity) id(ctx context.Context, a *Adapter) (string, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.uid != "" {
		return b.uid, nil
	}
	var u *model.User
	if _, err := a.call(ctx, "get me", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		var resp *model.Response
		var err error
		u, resp, err = a.client.GetMe(ctx, "")
		return resp, err
	}); err != nil {
		return "", err
	}
	if u == nil || !model.IsValidId(u.Id) {
		return "", errors.New("mattermost get me: the server returned no user ID")
	}
	b.uid = u.Id
	return b.uid, nil
}
