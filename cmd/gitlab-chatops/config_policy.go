package main

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot/console"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// checkPolicy records the problems of the policy section and returns the
// policy (with defaults). It fails closed: a requesters key that is not a
// destructive subcommand would leave that subcommand open to everyone, an
// ID of the wrong shape would never match anyone, and serve refuses a
// policy without approvers unless anyone_may_approve says so.
//
// platforms are the chat platforms serve connects to. Every ID of the
// policy's lists (user IDs, groups, channels) is qualified by platform
// (qualifyIDs), so the returned policy names each one on one platform.
func checkPolicy(p *configcheck.Problems, pc policyConfig, serve bool, platforms []idRules) approvals.Policy {
	valid := commands.DestructiveSubcommands()
	var requesters map[string][]string
	for _, sub := range slices.Sorted(maps.Keys(pc.Requesters)) {
		if sub != "" && !slices.Contains(valid, sub) {
			p.Addf("policy.requesters."+sub, "%q is not a subcommand that needs approval; use %s (read-only ones are open to everyone in the allowed channels)", sub, strings.Join(valid, ", "))
		}
		if requesters == nil {
			requesters = make(map[string][]string, len(pc.Requesters))
		}
		requesters[sub] = qualifyIDs(p, "policy.requesters."+sub, pc.Requesters[sub], platforms, userID)
	}

	named := len(pc.Approvers) > 0 || len(pc.ApproverGroups) > 0
	switch {
	case pc.AnyoneMayApprove && named:
		p.Addf("policy.anyone_may_approve", "true contradicts approvers/approver_groups: remove it, or remove them")
	case serve && !named && !pc.AnyoneMayApprove:
		p.Addf("policy.approvers", "missing: serve does not let just anyone approve; list approvers (user IDs) or approver_groups, or set policy.anyone_may_approve: true to let any second person approve")
	}

	pol := approvals.Policy{
		Requesters:        requesters,
		Approvers:         qualifyIDs(p, "policy.approvers", pc.Approvers, platforms, userID),
		ApproverGroups:    qualifyIDs(p, "policy.approver_groups", pc.ApproverGroups, platforms, groupID),
		Channels:          qualifyIDs(p, "policy.channels", pc.Channels, platforms, channelID),
		ApprovalsRequired: pc.ApprovalsRequired, RequireReason: pc.RequireReason,
		Admins:             qualifyIDs(p, "policy.admins", pc.Admins, platforms, userID),
		EmergencyApprovers: qualifyIDs(p, "policy.emergency_approvers", pc.EmergencyApprovers, platforms, groupID),
	}
	for _, sub := range slices.Sorted(maps.Keys(pc.Reauth)) {
		if sub != "" && !slices.Contains(valid, sub) {
			p.Addf("policy.reauth."+sub, "%q is not a subcommand that needs approval; use %s", sub, strings.Join(valid, ", "))
		}
	}
	pol.Reauth = maps.Clone(pc.Reauth)
	if w, ok := checkWindows(p, pc.Windows); ok {
		pol.Windows = w
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
	// name qualifies the platform's IDs ("slack:U123"); platform is how
	// messages name it.
	name     string
	platform string
	valid    [3]func(string) bool
	// forms describe the shapes for the message, by kind.
	forms [3]string
}

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

// qualifyIDs returns list with every ID qualified by its platform
// ("slack:U123"), recording at its key path each one that cannot be:
//   - a qualified ID must name a configured platform and have that
//     platform's shape;
//   - an unqualified ID with one platform configured means that platform,
//     and must have its shape;
//   - an unqualified ID with several platforms configured is ambiguous and
//     refused, saying how to qualify it (every one is reported);
//   - without platforms (console) an unqualified ID is a console name
//     ("console:alice"); qualified ones are kept, as the console may read
//     serve's configuration (they then match no console user).
//
// Empty IDs are left to approvals.Policy.Check.
func qualifyIDs(p *configcheck.Problems, path string, list []string, platforms []idRules, kind idKind) []string {
	if list == nil {
		return nil
	}
	out := make([]string, len(list))
	for i, id := range list {
		out[i] = qualifyID(p, configcheck.Index(path, i), id, platforms, kind)
	}
	return out
}

// qualifyID is qualifyIDs for one ID at path.
func qualifyID(p *configcheck.Problems, path, id string, platforms []idRules, kind idKind) string {
	name, local := approvals.SplitID(id)
	switch {
	case id == "":
		return id
	case len(platforms) == 0:
		return approvals.QualifyDefault(console.Platform, id)
	case name != "":
		i := slices.IndexFunc(platforms, func(r idRules) bool { return r.name == name })
		if i < 0 {
			p.Addf(path, "%q names platform %q, which is not configured; qualify IDs with %s", id, name, platformPrefixes(platforms))
			return id
		}
		checkID(p, path, local, platforms[i:i+1], kind)
		return id
	case len(platforms) == 1:
		checkID(p, path, id, platforms, kind)
		return approvals.Qualify(platforms[0].name, id)
	}
	var fits []idRules
	for _, r := range platforms {
		if r.valid[kind](id) {
			fits = append(fits, r)
		}
	}
	var hint string
	switch len(fits) {
	case 0:
		hint = "; it has the shape of none of them either (a name pasted instead of an ID would never match)"
	case 1:
		hint = fmt.Sprintf(" (it has the shape of a %s %s, so perhaps %s:%s)", fits[0].platform, fits[0].forms[kind], fits[0].name, id)
	default:
		// A Mattermost ID also has the shape of a Slack group handle:
		// exactly why the platform must be said.
		hint = fmt.Sprintf(" (it has the shape of an ID on %s, so only you can tell)", idPlatformNames(fits))
	}
	p.Addf(path, "%q is not qualified: with %s configured, say which platform it is on by writing %s before it%s", id, idPlatformNames(platforms), platformPrefixes(platforms), hint)
	return id
}

// platformPrefixes lists the qualifiers of platforms: "slack: or mattermost:".
func platformPrefixes(platforms []idRules) string {
	s := make([]string, len(platforms))
	for i, r := range platforms {
		s[i] = r.name + ":"
	}
	return strings.Join(s, " or ")
}

// idPlatformNames lists the platforms for a message: "both Slack and
// Mattermost".
func idPlatformNames(platforms []idRules) string {
	s := make([]string, len(platforms))
	for i, r := range platforms {
		s[i] = r.platform
	}
	if len(s) == 2 {
		return "both " + s[0] + " and " + s[1]
	}
	return "all of " + strings.Join(s, ", ")
}
