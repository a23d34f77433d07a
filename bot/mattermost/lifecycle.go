package mattermost

import (
	"context"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// The adapter as the program runs it (bot.Adapter and what serve wires
// through bot.HTTPServed and bot.Reacher).

var (
	_ bot.Adapter    = (*Adapter)(nil)
	_ bot.HTTPServed = (*Adapter)(nil)
	_ bot.Reacher    = (*Adapter)(nil)
	_ bot.Drainer    = (*Adapter)(nil)
)

// NewAdapter is New with the program's Setup, as serve builds every
// adapter.
func NewAdapter(cfg Config, s bot.Setup) (*Adapter, error) {
	return New(cfg, Options{Logger: s.Logger, OnRefused: s.OnRefused, APIObserver: s.APIObserver, HTTPClient: apiClient(s.HTTPTransport), Seen: s.Seen})
}

// Name implements bot.Adapter.
func (a *Adapter) Name() string { return Platform }

// Run implements bot.Adapter. Mattermost's input arrives on HTTPHandler,
// which serve mounts (bot.HTTPServed); Run only waits for ctx.
func (a *Adapter) Run(ctx context.Context, _ bot.Handler) error {
	<-ctx.Done()
	return nil
}

// Chat implements bot.Adapter: the adapter is its own Chat.
func (a *Adapter) Chat() bot.Chat { return a }

// Groups implements bot.Adapter: approver channels (IsMember).
func (a *Adapter) Groups() bot.GroupResolver { return a }

// Capabilities implements bot.Adapter and bot.Capable: Mattermost shows
// everything, opens forms as interactive dialogs (dialog.go) and sends
// files to one user by direct message (direct.go), except buttons and
// forms with approve_by "command" (strict mode), where a click or a
// dialog decides nothing (neither is signed by Mattermost): the router
// then shows the commands to type instead.
func (a *Adapter) Capabilities() bot.Capabilities {
	c := bot.AllCapabilities
	c.Buttons = a.cfg.ApproveBy != ApproveByCommand
	c.Forms = c.Buttons
	c.DirectFiles = true
	return c
}

// HTTPPrefix implements bot.HTTPServed: CommandPath and ActionsPath are
// under it.
func (a *Adapter) HTTPPrefix() string { return "/mattermost/" }

// HTTPListen implements bot.HTTPServed: mattermost.listen, a listener of
// the adapter's own, or "" for serve's main one.
func (a *Adapter) HTTPListen() string { return a.cfg.Listen }

// ReachCall implements bot.Reacher.
func (a *Adapter) ReachCall() string { return "GetMe" }
