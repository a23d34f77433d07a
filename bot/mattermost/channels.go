package mattermost

import (
	"context"
	"fmt"

	"github.com/mattermost/mattermost/server/public/model"
)

// channelName is how a message names a channel: ~name (a link for those
// who may see it) for public and private channels, the display name for
// direct and group messages, which have no ~name. A channel the bot cannot
// look up is named by its ID, so the message still goes out.
func (a *Adapter) channelName(ctx context.Context, id string) string {
	ch, err := a.channel(ctx, id)
	if err != nil {
		a.log.Warn("cannot look up a channel to name it; naming its ID", "channel", id, "err", err)
		return "channel `" + id + "`"
	}
	if m, ok := channelMention(ch); ok {
		return m
	}
	if ch.DisplayName != "" {
		return "“" + ch.DisplayName + "”"
	}
	return "channel `" + id + "`"
}

// channelMention is ~name for a public or private channel.
func channelMention(ch *model.Channel) (string, bool) {
	if (ch.Type == model.ChannelTypeOpen || ch.Type == model.ChannelTypePrivate) && ch.Name != "" {
		return "~" + ch.Name, true
	}
	return "", false
}

func (a *Adapter) channel(ctx context.Context, id string) (*model.Channel, error) {
	var ch *model.Channel
	_, err := a.call(ctx, "get channel", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		var resp *model.Response
		var err error
		ch, resp, err = a.client.GetChannel(ctx, id)
		return resp, err
	})
	if err != nil {
		return nil, err
	}
	if ch == nil || ch.Id != id {
		return nil, fmt.Errorf("mattermost get channel %s: the server answered without that channel", id)
	}
	return ch, nil
}
