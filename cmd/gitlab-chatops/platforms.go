package main

import (
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/mattermost"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
)

// platform builds the adapter of one chat platform from the configuration:
// nil (and no error) when cfg does not configure it. serve wires every
// adapter the same way (adapters.go); adding a platform is its folder
// under bot/, its configuration section (config.go) and one row here.
type platform struct {
	name  string
	build func(cfg config, s bot.Setup) (bot.Adapter, error)
}

// platforms are the chat platforms serve can run, in the order they are
// started.
var platforms = []platform{
	{slack.Platform, func(cfg config, s bot.Setup) (bot.Adapter, error) {
		if cfg.Slack == nil {
			return nil, nil
		}
		return built(slack.NewAdapter(*cfg.Slack, s))
	}},
	{mattermost.Platform, func(cfg config, s bot.Setup) (bot.Adapter, error) {
		if cfg.Mattermost == nil {
			return nil, nil
		}
		return built(mattermost.NewAdapter(*cfg.Mattermost, s))
	}},
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
