package slack

import (
	"errors"
	"sync"
	"time"
)

// Replay-cache refusals.
var (
	ErrReplay      = errors.New("request already seen (replay)")
	ErrReplaysFull = errors.New("replay cache full")
)

// replayCache remembers the signatures of verified requests until their
// timestamps leave the signature window: a valid signature stays valid for
// five minutes, so without this the same request could be sent again and
// again (and each slash command would run again).
//
// It is bounded: when it is full of unexpired entries it refuses new
// requests instead of forgetting old ones, because forgetting would let a
// replay through. Only requests with a valid signature get in, so only
// Slack (or whoever holds the signing secret) can fill it.
type replayCache struct {
	mu      sync.Mutex
	window  time.Duration
	max     int
	seen    map[string]time.Time // signature -> when it stops being acceptable
	sweepAt int                  // sweep expired entries when len(seen) reaches this
}

func newReplayCache(window time.Duration, max int) *replayCache {
	return &replayCache{window: window, max: max, seen: map[string]time.Time{}, sweepAt: min(max, 1024)}
}

// check records s and reports whether it is new.
func (c *replayCache) check(s Signed, now time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if until, ok := c.seen[s.Signature]; ok && now.Before(until) {
		return ErrReplay
	}
	if len(c.seen) >= c.sweepAt {
		for k, until := range c.seen {
			if !now.Before(until) {
				delete(c.seen, k)
			}
		}
		// Amortise: the next sweep comes when the map has doubled.
		c.sweepAt = min(c.max, max(1024, 2*len(c.seen)))
		if len(c.seen) >= c.max {
			return ErrReplaysFull
		}
	}
	// One second past the window: the verifier still accepts a request
	// whose age is exactly the window.
	c.seen[s.Signature] = s.Timestamp.Add(c.window + time.Second)
	return nil
}
