// Package mattermost is the Mattermost adapter of gitlab-chatops.
//
// Inbound, it serves two HTTP endpoints that the Mattermost server calls:
// the custom slash command (CommandPath), authenticated by the command's
// token, and the interactive-button callback (ActionsPath), which
// Mattermost does not sign: a callback is therefore accepted only from the
// server's own addresses (sources.go), every button carries, in its
// server-side context, an HMAC that binds the request ID and the action to
// the post and channel holding the button (sign.go), and the clicker is
// confirmed through the API before anything is decided (clicker.go). A
// Reply's Form opens as an interactive dialog whose submissions
// (DialogPath) are checked the same way, with an HMAC-sealed state bound
// to the user, an expiry and one accepted use (dialog.go, state.go).
//
// Outbound, it implements bot.Chat with the REST API v4 (model.Client4)
// and the bot account's token: the bot creates its own root posts (a custom
// command's response post belongs to the invoking user and cannot be
// threaded under or edited), replies under the root post ID, edits posts
// with PatchPost (replacing props, so that buttons really disappear),
// uploads long output as files into the thread and shows errors to one
// user alone. Every API call has a deadline and is retried on 429 with the
// server's Retry-After.
//
// Files, one concept each: config.go (Config, Options), adapter.go (New,
// bot.Chat), render.go (bot.Message to post and attachment), sign.go
// (button HMAC), sources.go (who may call back), clicker.go (who
// clicked), inbound.go, command.go and action.go (the endpoints),
// notify.go (messages for one user), dialog.go and state.go (forms),
// direct.go (files for one user, by direct channel), api.go (deadlines and retries),
// posts.go (thread roots, props kept across edits), users.go (mention
// names), groups.go (approver channels).
package mattermost
