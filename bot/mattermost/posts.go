package mattermost

import (
	"context"
	"maps"
	"sync"

	"github.com/mattermost/mattermost/server/public/model"
)

// postInfo is what the adapter remembers of a post it made or looked up:
// its thread root ("" for a root) and the props the server set at
// creation, which a patch must carry over because PatchPost replaces all
// props (from_bot is what shows the BOT badge).
type postInfo struct {
	root   string
	retain model.StringInterface
}

// postCache remembers recent posts, oldest forgotten first. A post it has
// forgotten (or one from before a restart) is looked up once with GetPost.
type postCache struct {
	mu    sync.Mutex
	max   int
	m     map[string]postInfo
	order []string
}

func newPostCache(max int) *postCache {
	return &postCache{max: max, m: map[string]postInfo{}}
}

func (c *postCache) remember(p *model.Post) {
	if p == nil || p.Id == "" {
		return
	}
	info := postInfo{root: p.RootId, retain: model.StringInterface{}}
	for _, k := range model.PostActionRetainPropKeys {
		if v, ok := p.GetProps()[k]; ok {
			info.retain[k] = v
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[p.Id]; !ok {
		c.order = append(c.order, p.Id)
	}
	c.m[p.Id] = info
	for len(c.order) > c.max {
		delete(c.m, c.order[0])
		c.order = c.order[1:]
	}
}

func (c *postCache) get(id string) (postInfo, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	info, ok := c.m[id]
	return info, ok
}

// info returns what is known of post id, asking the server when the cache
// does not know it. ok is false when the server could not say either.
func (a *Adapter) info(ctx context.Context, id string) (postInfo, bool) {
	if info, ok := a.posts.get(id); ok {
		return info, true
	}
	var p *model.Post
	_, err := a.call(ctx, "get post", retryAll, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		var resp *model.Response
		var err error
		p, resp, err = a.client.GetPost(ctx, id, "")
		return resp, err
	})
	if err != nil || p == nil {
		a.log.Warn("looking up a post the bot does not remember", "post", id, "err", err)
		return postInfo{}, false
	}
	a.posts.remember(p)
	return a.posts.get(id)
}

// threadRoot returns the root of the thread id belongs to: id itself for a
// root post. When the post cannot be looked up, id is used as it is and
// the server judges.
func (a *Adapter) threadRoot(ctx context.Context, id string) string {
	if info, ok := a.info(ctx, id); ok && info.root != "" {
		a.log.Debug("replying under the root of a reply", "reply", id, "root", info.root)
		return info.root
	}
	return id
}

// retainedProps returns a fresh props map holding what post id must keep
// across a patch.
func (a *Adapter) retainedProps(ctx context.Context, id string) model.StringInterface {
	info, _ := a.info(ctx, id)
	props := model.StringInterface{}
	maps.Copy(props, info.retain)
	return props
}
