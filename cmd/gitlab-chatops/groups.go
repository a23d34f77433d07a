package main

import (
	"context"
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// lateGroups are the platforms' group resolvers, by platform name, for a
// Service made before the adapters exist (the adapters report refused
// calls to it). Each platform's resolver answers only for that platform's
// groups: approvals routes "slack:S0DBA" to Slack alone, and a Mattermost
// user is simply not in it. Every resolver is set before serving begins
// and never changes after, so reads need no lock.
type lateGroups map[string]*lateGroup

// options registers one resolver per platform with the Service.
func (g lateGroups) options(platforms []string) []approvals.Option {
	opts := make([]approvals.Option, 0, len(platforms))
	for _, p := range platforms {
		lg := &lateGroup{platform: p}
		g[p] = lg
		opts = append(opts, approvals.WithGroupResolver(p, lg))
	}
	return opts
}

// set fills in platform's resolver once its adapter exists (an adapter's
// Groups(); nil when it has none).
func (g lateGroups) set(platform string, r approvals.GroupResolver) {
	if lg := g[platform]; lg != nil {
		lg.r = r
	}
}

// lateGroup is one platform's resolver, set after the Service was made.
type lateGroup struct {
	platform string
	r        approvals.GroupResolver
}

func (g *lateGroup) IsMember(ctx context.Context, group, userID string) (bool, error) {
	if g.r == nil {
		return false, fmt.Errorf("%s resolves no approver groups (not connected yet, or it has none), so group %s cannot be checked; list approvers by user ID instead", g.platform, group)
	}
	ok, err := g.r.IsMember(ctx, group, userID)
	if err != nil {
		return false, fmt.Errorf("%s group %s: %w", g.platform, group, err)
	}
	return ok, nil
}
