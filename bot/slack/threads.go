package slack

import "sync"

// replySet remembers the ts of the replies the adapter posted, so that
// Reply can refuse to thread under a reply: Slack would accept such a
// thread_ts and the result would land in a different thread from the
// one the user watches. It is bounded (oldest forgotten first); a reply
// older than that is long finished with.
type replySet struct {
	mu    sync.Mutex
	max   int
	set   map[string]struct{}
	order []string
}

func newReplySet(max int) *replySet {
	return &replySet{max: max, set: map[string]struct{}{}}
}

func (r *replySet) add(key string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, ok := r.set[key]; ok {
		return
	}
	r.set[key] = struct{}{}
	r.order = append(r.order, key)
	if len(r.order) > r.max {
		delete(r.set, r.order[0])
		r.order = r.order[1:]
	}
}

func (r *replySet) has(key string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	_, ok := r.set[key]
	return ok
}
