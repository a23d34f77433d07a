package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// errClickerUnconfirmed is a clicker the API could not vouch for: the
// callback (or a slash command deciding a request) named a user who does
// not exist, is deactivated or is a bot. Such a request did not come from
// a person, so it is refused (and reported) like a forged one.
var errClickerUnconfirmed = errors.New("clicker not confirmed")

// clicker confirms the user a callback names, through the API, before any
// decision: the user exists, is active and is not a bot. The name the bot
// shows is the API's username, never the callback's user_name (which is
// as forgeable as the rest of the body). It is asked at every click, not
// cached: a deactivation takes effect at once.
//
// An error wrapping errClickerUnconfirmed says the user is not acceptable;
// any other error means the API could not be asked, and the click is
// refused until it can be (fail closed).
//
// what names the inbound request ("button callback", "slash command") in
// the error, which goes to the audit trail.
func (a *Adapter) clicker(ctx context.Context, what, userID string) (bot.User, error) {
	u, resp, err := a.user(ctx, userID)
	switch {
	case statusOf(resp) == http.StatusNotFound:
		return bot.User{}, fmt.Errorf("%s for user %s, who does not exist: %w", what, userID, errClickerUnconfirmed)
	case err != nil:
		return bot.User{}, err
	case u == nil || u.Id != userID || u.Username == "":
		return bot.User{}, fmt.Errorf("mattermost get user %s: the server answered without that user", userID)
	case u.DeleteAt != 0:
		return bot.User{}, fmt.Errorf("%s for user %s (%s), who is deactivated: %w", what, userID, u.Username, errClickerUnconfirmed)
	case u.IsBot:
		return bot.User{}, fmt.Errorf("%s for user %s (%s), which is a bot account: %w", what, userID, u.Username, errClickerUnconfirmed)
	}
	a.users.put(u.Id, u.Username)
	return bot.User{ID: u.Id, Name: u.Username}, nil
}
