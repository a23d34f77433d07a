package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	slackgo "github.com/slack-go/slack"
)

// groupCache keeps user group members (and handle → ID lookups) for a TTL:
// usergroups.users.list is Tier 2 (about 20 calls a minute), and every
// approve click asks. Failures are not cached, and an expired entry is
// never served: a person removed from the group stops being an approver
// within one TTL.
type groupCache struct {
	mu      sync.Mutex
	ttl     time.Duration
	now     func() time.Time
	members map[string]cached[map[string]bool] // group ID -> members
	handles cached[map[string]string]          // handle -> group ID
}

type cached[T any] struct {
	val T
	at  time.Time
}

func newGroupCache(ttl time.Duration, now func() time.Time) *groupCache {
	return &groupCache{ttl: ttl, now: now, members: map[string]cached[map[string]bool]{}}
}

func (c *groupCache) fresh(at time.Time) bool {
	return !at.IsZero() && c.now().Sub(at) < c.ttl
}

// IsMember reports whether userID belongs to the Slack user group group,
// given by ID (S0123ABCD) or handle (db-approvers or @db-approvers). It
// implements approvals.GroupResolver. Errors (including Slack's
// plan_upgrade_required on the Free plan) are returned, never read as
// "not a member", so the approval is refused with a reason.
func (a *Adapter) IsMember(ctx context.Context, group, userID string) (bool, error) {
	id, err := a.groupID(ctx, group)
	if err != nil {
		return false, err
	}
	c := a.groups
	c.mu.Lock()
	e, ok := c.members[id]
	c.mu.Unlock()
	if !ok || !c.fresh(e.at) {
		users, err := a.fetchMembers(ctx, id)
		if err != nil {
			return false, err
		}
		e = cached[map[string]bool]{val: users, at: c.now()}
		c.mu.Lock()
		c.members[id] = e
		c.mu.Unlock()
	}
	return e.val[userID], nil
}

func (a *Adapter) fetchMembers(ctx context.Context, id string) (map[string]bool, error) {
	ctx, cancel := context.WithTimeout(ctx, a.opt.sendTimeout)
	defer cancel()
	var users []string
	_, err := a.retry.do(ctx, "usergroups.users.list", func(ctx context.Context) (string, error) {
		u, err := a.api.GetUserGroupMembersContext(ctx, id)
		users = u
		return "", err
	})
	if err != nil {
		return nil, groupErr(id, err)
	}
	set := make(map[string]bool, len(users))
	for _, u := range users {
		set[u] = true
	}
	return set, nil
}

// groupID resolves a handle to a user group ID; IDs pass through.
func (a *Adapter) groupID(ctx context.Context, group string) (string, error) {
	g := strings.TrimSpace(group)
	if isSlackID(g) && g[0] == 'S' {
		return g, nil
	}
	handle := strings.TrimPrefix(g, "@")
	if handle == "" {
		return "", errors.New("slack: empty user group name")
	}
	c := a.groups
	c.mu.Lock()
	h := c.handles
	c.mu.Unlock()
	if !c.fresh(h.at) {
		ctx, cancel := context.WithTimeout(ctx, a.opt.sendTimeout)
		defer cancel()
		var groups []slackgo.UserGroup
		_, err := a.retry.do(ctx, "usergroups.list", func(ctx context.Context) (string, error) {
			gs, err := a.api.GetUserGroupsContext(ctx)
			groups = gs
			return "", err
		})
		if err != nil {
			return "", groupErr("@"+handle, err)
		}
		m := make(map[string]string, len(groups))
		for _, ug := range groups {
			m[ug.Handle] = ug.ID
		}
		h = cached[map[string]string]{val: m, at: c.now()}
		c.mu.Lock()
		c.handles = h
		c.mu.Unlock()
	}
	id, ok := h.val[handle]
	if !ok {
		return "", fmt.Errorf("slack: there is no user group @%s in this workspace (check the handle, or give its ID, S…)", handle)
	}
	return id, nil
}

func groupErr(group string, err error) error {
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) && se.Err == "plan_upgrade_required" {
		return fmt.Errorf("slack: user groups need a paid Slack plan, so approver group %s cannot be checked; list approvers by user ID instead: %w", group, err)
	}
	return fmt.Errorf("slack: reading user group %s: %w", group, err)
}
