// Package slack is the Slack adapter of gitlab-chatops. It imports only
// package bot and slack-go.
//
// Inbound, Slack reaches the bot in one of two modes (Config.Mode):
//   - HTTP: two endpoints, /slack/commands and /slack/interactions
//     (HTTPHandler, which the caller mounts on its own server: serve's one
//     listener). Every request is size-limited,
//     checked against the signing secret by our own Verifier (HMAC-SHA256
//     v0, constant-time, 5-minute window, injectable clock) and against
//     the signatures seen (a bot.Seen: in memory, or shared by the
//     replicas in etcd) before anything else is parsed; refusals are
//     logged and reported to the WithOnRefused hook for the audit trail.
//     A Seen that cannot be asked refuses the request (503).
//   - Socket Mode: a WebSocket opened with the app-level token
//     (RunSocketMode), same handlers, every envelope acknowledged; the
//     same Seen keeps a redelivered envelope from running twice.
//
// Either way the bot answers within Slack's 3 seconds: the handler runs in
// the background, and a refusal is shown to the one user concerned, in the
// slash command's immediate answer if it comes in time, otherwise through
// response_url or chat.postEphemeral.
//
// A Reply's Form opens as a modal (views.open with the trigger_id of the
// command or click, form.go); its view_submission, verified like every
// request, reaches the handler as an Action with Fields, and a refusal is
// answered with response_action errors so the modal stays open. A Reply's
// Files go to its user alone by direct message (direct.go).
//
// Outbound, the Adapter implements bot.Chat: the bot posts each root with
// chat.postMessage and threads every result under the root's ts; Update is
// chat.update with the whole block list (so buttons left out disappear);
// long output is uploaded as a file into the thread; Notify is ephemeral.
// Writes go through one queue per channel (about one per second, edits of
// the same message merged while they wait), with 429 (Retry-After or not)
// and 5xx retried and an error returned, never a silent drop.
//
// Messages are rendered by Render, one Block Kit renderer for the one
// neutral bot.Message model. IsMember resolves approver groups through
// Slack user groups, cached.
package slack
