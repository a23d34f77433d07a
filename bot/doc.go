// Package bot holds the platform-neutral chat types of gitlab-chatops: who
// asked, where, what they typed; one message model; the interface a chat
// adapter implements (Chat) and the one it calls (Handler).
//
// Adapters (bot/console, bot/slack, bot/mattermost) import only this package.
// They verify what comes in, translate it into Command and Action values, and
// render Message values in their platform's own format. The command router
// never sees a platform type.
package bot
