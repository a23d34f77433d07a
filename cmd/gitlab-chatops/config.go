package main

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot/mattermost"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
)

// fileConfig is the bot's YAML configuration.
type fileConfig struct {
	// Store is the bbolt file holding requests, audit and schedules.
	Store  string       `yaml:"store"`
	Hosts  []hostConfig `yaml:"hosts"`
	Policy policyConfig `yaml:"policy"`
	// Channel is the console's channel name.
	Channel string `yaml:"channel"`
	// Slack and Mattermost configure the chat platforms `serve` connects
	// to; at least one is needed there.
	Slack      *slack.Config      `yaml:"slack"`
	Mattermost *mattermost.Config `yaml:"mattermost"`
}

type hostConfig struct {
	Name  string `yaml:"name"`
	Agent string `yaml:"agent"` // https://host:8443
	CA    string `yaml:"ca"`
	Cert  string `yaml:"cert"`
	Key   string `yaml:"key"`
}

type policyConfig struct {
	Requesters        map[string][]string `yaml:"requesters"`
	Approvers         []string            `yaml:"approvers"`
	ApproverGroups    []string            `yaml:"approver_groups"`
	Channels          []string            `yaml:"channels"`
	ApprovalsRequired int                 `yaml:"approvals_required"`
	RequestTTL        string              `yaml:"request_ttl"`
	RequireReason     bool                `yaml:"require_reason"`
}

func loadConfig(path string) (fileConfig, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return fileConfig{}, fmt.Errorf("reading config: %w", err)
	}
	var c fileConfig
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return fileConfig{}, fmt.Errorf("config %s: %w", path, err)
	}
	return c, nil
}

// policy builds and validates the approval policy.
func (c fileConfig) policy() (approvals.Policy, error) {
	p := approvals.Policy{
		Requesters: c.Policy.Requesters, Approvers: c.Policy.Approvers,
		ApproverGroups: c.Policy.ApproverGroups, Channels: c.Policy.Channels,
		ApprovalsRequired: c.Policy.ApprovalsRequired, RequireReason: c.Policy.RequireReason,
	}
	if c.Policy.RequestTTL != "" {
		d, err := time.ParseDuration(c.Policy.RequestTTL)
		if err != nil {
			return p, fmt.Errorf("policy.request_ttl %q: %w (use e.g. 15m)", c.Policy.RequestTTL, err)
		}
		p.TTL = d
	}
	p = p.WithDefaults()
	return p, p.Validate()
}

// mattermostFromEnv fills empty Mattermost secrets from the environment,
// as docs/mattermost.md describes; the YAML wins where both are set.
func mattermostFromEnv(c mattermost.Config, getenv func(string) string) mattermost.Config {
	if c.BotToken == "" {
		c.BotToken = getenv("MATTERMOST_BOT_TOKEN")
	}
	if len(c.CommandTokens) == 0 && getenv("MATTERMOST_COMMAND_TOKENS") != "" {
		for _, t := range strings.Split(getenv("MATTERMOST_COMMAND_TOKENS"), ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.CommandTokens = append(c.CommandTokens, t)
			}
		}
	}
	if c.ActionSecret == "" {
		c.ActionSecret = getenv("MATTERMOST_ACTION_SECRET")
	}
	return c
}
