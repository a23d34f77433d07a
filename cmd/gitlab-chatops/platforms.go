package main

import (
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/mattermost"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// platform is one chat platform serve can run: how the configuration
// names and checks it, and how its adapter is built. serve wires every
// adapter the same way (adapters.go); adding a platform is its folder
// under bot/, its section in fileConfig (config.go) and one row here.
type platform struct {
	// name is the platform's name: its section key, its IDs' prefix.
	name string
	// ids are its ID shapes, for the policy, audit and schedule checks.
	ids idRules
	// load fills fc's section of the platform from the environment and
	// checks it into p; ok is false when fc has no such section. listen
	// is the platform's listener of its own, "" for serve's listen:.
	load func(fc *fileConfig, p *configcheck.Problems, getenv func(string) string) (listen string, ok bool)
	// build builds the adapter; nil (and no error) when cfg does not
	// configure the platform.
	build func(cfg config, s bot.Setup) (bot.Adapter, error)
}

// platforms are the chat platforms serve can run, in the order they are
// started.
var platforms = []platform{
	{
		name: slack.Platform,
		ids: idRules{
			name:     slack.Platform,
			platform: "Slack",
			valid:    [3]func(string) bool{slack.IsUserID, slack.IsUserGroup, slack.IsChannelID},
			forms:    [3]string{"user ID (U… or W…)", "user group ID (S…) or handle (db-approvers)", "channel ID (C… or G…)"},
		},
		load: func(fc *fileConfig, p *configcheck.Problems, getenv func(string) string) (string, bool) {
			return "", loadSection(&fc.Slack, slack.Platform, p, getenv)
		},
		build: func(cfg config, s bot.Setup) (bot.Adapter, error) {
			if cfg.Slack == nil {
				return nil, nil
			}
			return built(slack.NewAdapter(*cfg.Slack, s))
		},
	},
	{
		name: mattermost.Platform,
		// On Mattermost, approver groups are channels.
		ids: idRules{
			name:     mattermost.Platform,
			platform: "Mattermost",
			valid:    [3]func(string) bool{mattermost.IsID, mattermost.IsID, mattermost.IsID},
			forms: [3]string{"user ID (26 lowercase letters and digits)",
				"channel ID (26 lowercase letters and digits)", "channel ID (26 lowercase letters and digits)"},
		},
		load: func(fc *fileConfig, p *configcheck.Problems, getenv func(string) string) (string, bool) {
			ok := loadSection(&fc.Mattermost, mattermost.Platform, p, getenv)
			if !ok {
				return "", false
			}
			return fc.Mattermost.Listen, true
		},
		build: func(cfg config, s bot.Setup) (bot.Adapter, error) {
			if cfg.Mattermost == nil {
				return nil, nil
			}
			return built(mattermost.NewAdapter(*cfg.Mattermost, s))
		},
	},
}

// sectionConfig is what an adapter's Config offers the configuration check.
type sectionConfig[C any] interface {
	FromEnv(getenv func(string) string) C
	Check(p bot.ConfigProblems, path string)
}

// loadSection replaces the section *sec points to (nil: not configured)
// by a copy with secrets from the environment, checked under key; the
// decoded section is left as it was.
func loadSection[C sectionConfig[C]](sec **C, key string, p *configcheck.Problems, getenv func(string) string) bool {
	if *sec == nil {
		return false
	}
	c := (**sec).FromEnv(getenv)
	c.Check(p, key)
	*sec = &c
	return true
}

// idRulesOf are the ID shapes of the platform named name.
func idRulesOf(name string) (idRules, bool) {
	for _, pf := range platforms {
		if pf.name == name {
			return pf.ids, true
		}
	}
	return idRules{}, false
}

// noneOf words that none of names is there: "neither slack: nor
// mattermost:", "none of a:, b:, c:".
func noneOf(names []string) string {
	keys := make([]string, len(names))
	for i, n := range names {
		keys[i] = n + ":"
	}
	switch len(keys) {
	case 1:
		return "no " + keys[0]
	case 2:
		return "neither " + keys[0] + " nor " + keys[1]
	}
	return "none of " + strings.Join(keys, ", ")
}

// platformNames are the names of every platform serve can run, configured
// or not: the approvals service gets a group resolver slot for each
// (groups.go); a policy naming a platform that is not configured is
// refused by the configuration check before that matters.
func platformNames() []string {
	names := make([]string, len(platforms))
	for i, p := range platforms {
		names[i] = p.name
	}
	return names
}

// built is a constructor's result as a bot.Adapter: nil on error (never
// a typed nil pointer in the interface).
func built[A bot.Adapter](a A, err error) (bot.Adapter, error) {
	if err != nil {
		return nil, err
	}
	return a, nil
}

// buildAdapters builds the adapter of every platform cfg configures, each
// with the Setup setup gives for its name.
func buildAdapters(cfg config, setup func(platform string) bot.Setup) ([]bot.Adapter, error) {
	var out []bot.Adapter
	for _, p := range platforms {
		a, err := p.build(cfg, setup(p.name))
		if err != nil {
			return nil, err
		}
		if a != nil {
			out = append(out, a)
		}
	}
	return out, nil
}
