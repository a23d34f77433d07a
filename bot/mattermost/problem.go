package mattermost

import "net/http"

// UserText implements bot.Readable: what a failed API call means for the
// person who asked, and what to do, without Client4's error text (URLs,
// HTML from a proxy) or the status line, which stay in Error for the log.
// It says "that channel", not "this channel": the text may arrive as a
// direct message (notify.go).
func (e *APIError) UserText() string {
	switch {
	case e.Status == 0:
		return "The Mattermost server did not answer the bot; try again in a minute, and if it happens again, ask whoever runs the bot to check mattermost.url and the network."
	case e.Status == http.StatusUnauthorized:
		return "Mattermost refused the bot's access token; whoever runs the bot must check mattermost.bot_token."
	case e.Status == http.StatusForbidden && (e.Op == "create post" || e.Op == "create file post" || e.Op == "patch post"):
		return "The bot may not post in that channel; add it there (`/invite @gitlab-chatops`), then try again."
	case e.Status == http.StatusForbidden:
		return "Mattermost does not let the bot do this; whoever runs the bot must give its account the permission (see docs/mattermost.md)."
	case e.Status == http.StatusNotFound:
		return "Mattermost does not know that channel or message (it may have been deleted, or the bot may not see it); add the bot to the channel and try again."
	case e.Status == http.StatusTooManyRequests:
		return "Mattermost is rate-limiting the bot; try again in a minute."
	case e.Status >= 500:
		return "The Mattermost server is having trouble; try again in a minute."
	}
	return "Mattermost refused the bot's request; the bot's log has the reason. Try again, and if it happens again, ask whoever runs the bot."
}
