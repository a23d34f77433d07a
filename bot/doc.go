// Package bot holds the platform-neutral chat types of gitlab-chatops: who
// asked, where, what they typed; one message model; an adapter's lifecycle
// (Adapter: Name, Run, Chat, Groups, Capabilities), the interface it
// implements for the router (Chat) and the one it calls (Handler), whose
// answer is a Reply the adapter delivers in its platform's way.
//
// Adapters (bot/console, bot/slack, bot/mattermost) import only this package.
// They verify what comes in, translate it into Command and Action values, and
// render Message values in their platform's own format. The command router
// never sees a platform type; where a platform lacks a capability, the router
// degrades (commands/degrade.go). What serve needs beyond Adapter to wire a
// platform without naming it is in wiring.go (HTTPServed, Reacher, Drainer,
// Setup).
package bot
