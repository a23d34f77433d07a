package main

import (
	"maps"
	"slices"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot/mattermost"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// checkPolicy records the problems of the policy section and returns the
// policy (with defaults). It fails closed: a requesters key that is not a
// destructive subcommand would leave that subcommand open to everyone, an
// ID of the wrong shape would never match anyone, and serve refuses a
// policy without approvers unless anyone_may_approve says so.
//
// platforms are the ID shapes of the chat platforms serve connects to; an
// ID must have the shape of one of them. The console (no platforms) takes
// any name, as its users type them.
func checkPolicy(p *configcheck.Problems, pc policyConfig, serve bool, platforms []idRules) approvals.Policy {
	valid := commands.DestructiveSubcommands()
	for _, sub := range slices.Sorted(maps.Keys(pc.Requesters)) {
		if sub != "" && !slices.Contains(valid, sub) {
			p.Addf("policy.requesters."+sub, "%q is not a subcommand that needs approval; use %s (read-only ones are open to everyone in the allowed channels)", sub, strings.Join(valid, ", "))
		}
		checkIDs(p, "policy.requesters."+sub, pc.Requesters[sub], platforms, userID)
	}
	checkIDs(p, "policy.approvers", pc.Approvers, platforms, userID)
	checkIDs(p, "policy.approver_groups", pc.ApproverGroups, platforms, groupID)
	checkIDs(p, "policy.channels", pc.Channels, platforms, channelID)
	checkIDs(p, "policy.admins", pc.Admins, platforms, userID)

	named := len(pc.Approvers) > 0 || len(pc.ApproverGroups) > 0
	switch {
	case pc.AnyoneMayApprove && named:
		p.Addf("policy.anyone_may_approve", "true contradicts approvers/approver_groups: remove it, or remove them")
	case serve && !named && !pc.AnyoneMayApprove:
		p.Addf("policy.approvers", "missing: serve does not let just anyone approve; list approvers (user IDs) or approver_groups, or set policy.anyone_may_approve: true to let any second person approve")
	}

	pol := approvals.Policy{
		Requesters: pc.Requesters, Approvers: pc.Approvers,
		ApproverGroups: pc.ApproverGroups, Channels: pc.Channels,
		ApprovalsRequired: pc.ApprovalsRequired, RequireReason: pc.RequireReason,
		Admins: pc.Admins,
	}
	if pc.RequestTTL != "" {
		if ttl, ok := p.Duration("policy.request_ttl", pc.RequestTTL, "15m"); ok {
			pol.TTL = ttl
		}
	}
	pol = pol.WithDefaults()
	pol.Check(p, "policy")
	return pol
}

// idKind is what a policy ID names.
type idKind int

const (
	userID idKind = iota
	groupID
	channelID
)

// idRules are one platform's ID shapes, by kind.
type idRules struct {
	platform string
	valid    [3]func(string) bool
	// forms describe the shapes for the message, by kind.
	forms [3]string
}

var (
	slackIDs = idRules{
		platform: "Slack",
		valid:    [3]func(string) bool{slack.IsUserID, slack.IsUserGroup, slack.IsChannelID},
		forms:    [3]string{"user ID (U… or W…)", "user group ID (S…) or handle (db-approvers)", "channel ID (C… or G…)"},
	}
	// On Mattermost, approver groups are channels.
	mattermostIDs = idRules{
		platform: "Mattermost",
		valid:    [3]func(string) bool{mattermost.IsID, mattermost.IsID, mattermost.IsID},
		forms: [3]string{"user ID (26 lowercase letters and digits)",
			"channel ID (26 lowercase letters and digits)", "channel ID (26 lowercase letters and digits)"},
	}
)

// checkIDs records each ID of list that has the shape of no platform.
// Empty IDs are left to approvals.Policy.Check.
func checkIDs(p *configcheck.Problems, path string, list []string, platforms []idRules, kind idKind) {
	for i, id := range list {
		checkID(p, configcheck.Index(path, i), id, platforms, kind)
	}
}

// checkID records id at path if it has the shape of no platform.
func checkID(p *configcheck.Problems, path, id string, platforms []idRules, kind idKind) {
	if len(platforms) == 0 || id == "" || slices.ContainsFunc(platforms, func(r idRules) bool { return r.valid[kind](id) }) {
		return
	}
	forms := make([]string, len(platforms))
	for j, r := range platforms {
		forms[j] = r.platform + " " + r.forms[kind]
	}
	what := "is not a " + forms[0]
	if len(forms) > 1 {
		what = "is neither a " + strings.Join(forms, " nor a ")
	}
	p.Addf(path, "%q %s; a name pasted instead of an ID would never match", id, what)
}
