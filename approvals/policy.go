package approvals

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// Defaults applied by Policy.WithDefaults.
const (
	DefaultApprovalsRequired = 1
	DefaultTTL               = 15 * time.Minute
)

// Policy says who may ask for what, where, and who may approve.
//
// Every ID in its lists (users, groups, channels) is qualified by platform
// ("slack:U123", see identity.go); the configuration qualifies them. An
// unqualified one (a policy built in code for one platform) matches that
// ID on any platform (SameID).
//
// The zero Policy (after WithDefaults) lets anyone request anything in any
// channel and lets anyone but the requester approve, with one approval and
// a 15 minute window.
type Policy struct {
	// Requesters maps a subcommand (e.g. "migrate") to the user IDs that
	// may use it. A subcommand that is missing or maps to an empty list
	// may be used by anyone.
	Requesters map[string][]string
	// Approvers are user IDs that may approve or deny.
	Approvers []string
	// ApproverGroups are chat groups whose members may approve or deny;
	// membership is asked of the GroupResolver given to the Service.
	// When both Approvers and ApproverGroups are empty, anyone but the
	// requester may approve.
	ApproverGroups []string
	// Channels are the channel IDs requests may be opened in; empty means
	// any channel.
	Channels []string
	// ApprovalsRequired is how many distinct approvers a request needs
	// (never counting the requester). 0 means DefaultApprovalsRequired.
	ApprovalsRequired int
	// TTL is how long a request stays open for approval. 0 means
	// DefaultTTL.
	TTL time.Duration
	// RequireReason refuses requests opened without a reason.
	RequireReason bool
	// Admins are user IDs that may add and remove chat-defined schedules
	// (`schedules add|remove`). Empty: nobody may; schedules then come
	// from the configuration file alone.
	Admins []string
	// Reauth maps an operation (e.g. "migrate") to the re-authentication
	// its approvers must give: ReauthTOTP or ReauthNone (the default for
	// an operation not listed).
	Reauth map[string]string
	// EmergencyApprovers are chat groups whose members may approve an
	// emergency (break-glass) request alone; without them an emergency
	// request needs ApprovalsRequired + 1 approvals. Membership is asked of
	// the group resolvers, as for ApproverGroups.
	EmergencyApprovers []string
	// Windows says when destructive operations may start (policy.windows);
	// nil: at any time. Checked when a request is opened and at the
	// approval that would start it; an emergency request bypasses it.
	Windows Windows
}

// ReauthFor is the re-authentication method approving operation needs.
func (p Policy) ReauthFor(operation string) string {
	if m := p.Reauth[operation]; m != "" {
		return m
	}
	return ReauthNone
}

// reauthUsed reports whether any operation needs TOTP.
func (p Policy) reauthUsed() bool {
	for _, m := range p.Reauth {
		if m == ReauthTOTP {
			return true
		}
	}
	return false
}

// WithDefaults returns p with zero ApprovalsRequired and TTL replaced by
// the defaults.
func (p Policy) WithDefaults() Policy {
	if p.ApprovalsRequired == 0 {
		p.ApprovalsRequired = DefaultApprovalsRequired
	}
	if p.TTL == 0 {
		p.TTL = DefaultTTL
	}
	return p
}

// Validate reports every problem with p, as configured (call WithDefaults
// first to accept zero values). The message says what to fix and wraps
// ErrInvalid.
func (p Policy) Validate() error {
	var c configcheck.Problems
	p.Check(&c, "policy")
	if c.Len() == 0 {
		return nil
	}
	msgs := make([]string, 0, c.Len())
	for _, q := range c.List() {
		msgs = append(msgs, q.String())
	}
	return fmt.Errorf("approval policy: %s: %w", strings.Join(msgs, "; "), ErrInvalid)
}

// Check records every problem with p in c, under the key path of the
// configuration's policy section (the keys are those of the bot's YAML).
func (p Policy) Check(c *configcheck.Problems, path string) {
	key := func(k string) string { return configcheck.Join(path, k) }
	if p.ApprovalsRequired < 1 {
		c.Addf(key("approvals_required"), "is %d; it must be at least 1", p.ApprovalsRequired)
	}
	if p.TTL <= 0 {
		c.Addf(key("request_ttl"), "is %s; it must be positive, e.g. 15m", p.TTL)
	}
	for _, sub := range slices.Sorted(maps.Keys(p.Requesters)) {
		if strings.TrimSpace(sub) == "" {
			c.Addf(key("requesters"), "has an entry with an empty subcommand name")
		}
		if i := slices.Index(p.Requesters[sub], ""); i >= 0 {
			c.Addf(configcheck.Index(key("requesters."+sub), i), "is an empty user ID")
		}
	}
	for _, l := range []struct {
		key  string
		list []string
		what string
	}{{"approvers", p.Approvers, "user ID"}, {"approver_groups", p.ApproverGroups, "group"}, {"channels", p.Channels, "channel ID"}, {"admins", p.Admins, "user ID"}, {"emergency_approvers", p.EmergencyApprovers, "group"}} {
		if i := slices.Index(l.list, ""); i >= 0 {
			c.Addf(configcheck.Index(key(l.key), i), "is an empty %s", l.what)
		}
	}
	for _, op := range slices.Sorted(maps.Keys(p.Reauth)) {
		switch m := p.Reauth[op]; {
		case strings.TrimSpace(op) == "":
			c.Addf(key("reauth"), "has an entry with an empty operation name")
		case m != ReauthNone && m != ReauthTOTP:
			c.Addf(key("reauth."+op), "is %q; use %s or %s", m, ReauthTOTP, ReauthNone)
		}
	}
	if len(p.ApproverGroups) == 0 && len(p.Approvers) > 0 {
		distinct := len(uniq(p.Approvers))
		if distinct < p.ApprovalsRequired {
			c.Addf(key("approvals_required"), "%d approvals are required but only %s listed; list more approvers or lower approvals_required", p.ApprovalsRequired, plural(distinct, "approver"))
		}
	}
}

// CheckRequester reports whether userID may use subcommand in channel.
// The router uses it for read-only commands too. userID and channel are
// qualified by platform (see Qualify); policy entries match them by SameID. The error wraps
// ErrNotAllowed and says what to do.
func (p Policy) CheckRequester(subcommand, channel, userID string) error {
	if len(p.Channels) > 0 && !containsID(p.Channels, channel) {
		return fmt.Errorf("%s cannot be used in this channel; use one of the channels set up for gitlab-chatops: %w", subcommand, ErrNotAllowed)
	}
	if ids := p.Requesters[subcommand]; len(ids) > 0 && !containsID(ids, userID) {
		return fmt.Errorf("you are not allowed to use %s; ask a gitlab-chatops administrator to add you to its requesters: %w", subcommand, ErrNotAllowed)
	}
	return nil
}

// CheckAdmin reports whether userID may add or remove schedules (an
// admin). The error wraps ErrNotAllowed and says who may.
func (p Policy) CheckAdmin(userID string) error {
	switch {
	case len(p.Admins) == 0:
		return fmt.Errorf("adding and removing schedules needs an admin, and no policy.admins is configured; schedules can still be defined in the configuration file (schedules:): %w", ErrNotAllowed)
	case !containsID(p.Admins, userID):
		return fmt.Errorf("only the bot's admins may add or remove schedules; ask one of them (policy.admins: %s): %w", strings.Join(p.Admins, ", "), ErrNotAllowed)
	}
	return nil
}

// anyoneMayApprove reports whether no approvers are configured.
func (p Policy) anyoneMayApprove() bool {
	return len(p.Approvers) == 0 && len(p.ApproverGroups) == 0
}

func uniq(s []string) []string {
	out := slices.Clone(s)
	slices.Sort(out)
	return slices.Compact(out)
}
