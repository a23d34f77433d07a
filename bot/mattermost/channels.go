package mattermost

import (
	"context"

	"github.com/mattermost/mattermost/server/public/model"
)

// channelName is how a message names a channel: ~name (a link for those
// who may see it) for public and private channels, the display name for
// direct and group messages, which have no ~name. A channel the bot cannot
// look up is named by its ID, so the message still goes out.
func (a *Adapter) channelName(ctx context.Context, id string) string {
	var ch *model.Channel
	_, err := a.call(ctx, "get channel", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		var resp *model.Response
		var err error
		ch, resp, err = a.client.GetChannel(ctx, id)
		return resp, err
	})
	switch {
	case err != nil || ch == nil:
		a.log.Warn("cannot look up a channel to name it; naming its ID", "channel", id, "err", err)
		return "channel `" + id + "`"
	case (ch.Type == model.ChannelTypeOpen || ch.Type == model.ChannelTypePrivate) && ch.Name != "":
		return "~" + ch.Name
	case ch.DisplayName != "":
		return "“" + ch.DisplayName + "”"
	}
	return "channel `" + id + "`"
}
