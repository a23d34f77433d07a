package mattermost

import (
	"context"
	"fmt"
	"net/http"

	"github.com/mattermost/mattermost/server/public/model"
)

// IsMember implements approvals.GroupResolver. On Mattermost an approver
// group is a channel, named by its channel ID, and its members are the
// approvers: the groups API needs a licence and a bot may not list a
// user's groups, while channel membership works on every edition. The bot
// must be a member of that (typically private) channel to see it.
//
// Membership is asked at each decision, never cached, so removing someone
// from the channel takes effect at their next click.
func (a *Adapter) IsMember(ctx context.Context, group, userID string) (bool, error) {
	if !model.IsValidId(group) {
		return false, fmt.Errorf("mattermost: approver group %q is not a channel ID; name the approvers' channel by its 26-character ID (channel menu > View Info)", group)
	}
	if !model.IsValidId(userID) {
		return false, nil
	}
	resp, err := a.call(ctx, "get channel member", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		_, resp, err := a.client.GetChannelMember(ctx, group, userID, "")
		return resp, err
	})
	switch status := statusOf(resp); {
	case err == nil:
		return true, nil
	case status == http.StatusNotFound:
		return false, nil
	case status == http.StatusForbidden:
		return false, fmt.Errorf("the bot cannot read approver channel %s; add the bot account to it: %w", group, err)
	}
	return false, err
}
