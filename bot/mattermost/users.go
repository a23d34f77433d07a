package mattermost

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

var errNoUsername = errors.New("mattermost get user: the server returned no username")

// userCache remembers names by ID (usernames; approver channel names) for
// a while: approval posts mention the same approvers again and again, and
// a name rarely changes (a stale one only weakens a notification, never
// authorisation, which looks at IDs alone).
type userCache struct {
	mu  sync.Mutex
	max int
	ttl time.Duration
	now func() time.Time
	m   map[string]cachedUser
}

type cachedUser struct {
	name    string
	expires time.Time
}

func newUserCache(max int, ttl time.Duration, now func() time.Time) *userCache {
	return &userCache{max: max, ttl: ttl, now: now, m: map[string]cachedUser{}}
}

func (c *userCache) get(id string) (string, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	u, ok := c.m[id]
	if !ok || c.now().After(u.expires) {
		return "", false
	}
	return u.name, true
}

func (c *userCache) put(id, name string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.now()
	if len(c.m) >= c.max {
		for k, u := range c.m {
			if now.After(u.expires) {
				delete(c.m, k)
			}
		}
		for k := range c.m { // still full: forget one at random
			if len(c.m) < c.max {
				break
			}
			delete(c.m, k)
		}
	}
	c.m[id] = cachedUser{name: name, expires: now.Add(c.ttl)}
}

// mentions renders user IDs as @username and approver channel IDs (an
// ID the users API does not know) as ~channel-name, which names the group
// (a ~link notifies nobody). An ID that cannot be resolved is shown as
// code (it then notifies nobody, which is logged) rather than holding back
// the post that mentions it.
func (a *Adapter) mentions(ctx context.Context, ids []string) []string {
	var out []string
	seen := map[string]bool{}
	for _, id := range ids {
		if id == "" || seen[id] {
			continue
		}
		seen[id] = true
		if name, ok := a.chans.get(id); ok {
			out = append(out, "~"+name)
			continue
		}
		name, err := a.username(ctx, id)
		var apiErr *APIError
		if errors.As(err, &apiErr) && apiErr.Status == http.StatusNotFound {
			if ch, cerr := a.channel(ctx, id); cerr == nil {
				if m, ok := channelMention(ch); ok {
					a.chans.put(id, ch.Name)
					out = append(out, m)
					continue
				}
			}
		}
		if err != nil {
			a.log.Warn("cannot resolve a mentioned user or channel; mentioning the ID instead", "id", id, "err", err)
			out = append(out, "`"+id+"`")
			continue
		}
		out = append(out, "@"+name)
	}
	return out
}

func (a *Adapter) username(ctx context.Context, id string) (string, error) {
	if name, ok := a.users.get(id); ok {
		return name, nil
	}
	u, _, err := a.user(ctx, id)
	if err != nil {
		return "", err
	}
	if u == nil || u.Username == "" {
		return "", errNoUsername
	}
	a.users.put(id, u.Username)
	return u.Username, nil
}

// user asks the API for a user; the response tells a 404 from the rest.
func (a *Adapter) user(ctx context.Context, id string) (*model.User, *model.Response, error) {
	var u *model.User
	resp, err := a.call(ctx, "get user", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		var resp *model.Response
		var err error
		u, resp, err = a.client.GetUser(ctx, id, "")
		return resp, err
	})
	return u, resp, err
}
