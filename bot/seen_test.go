package bot

import (
	"context"
	"errors"
	"testing"
	"time"
)

// MemorySeen remembers a key for its ttl, and when full of live keys
// refuses new ones rather than forget one (which would let a replay in).
func TestMemorySeen(t *testing.T) {
	ctx := context.Background()
	now := time.Unix(1_700_000_000, 0)
	m := NewMemorySeen(2, func() time.Time { return now })
	steps := []struct {
		name    string
		advance time.Duration
		key     string
		ttl     time.Duration
		first   bool
		err     error
	}{
		{"new key", 0, "aa", time.Minute, true, nil},
		{"again within its ttl", 30 * time.Second, "aa", time.Minute, false, nil},
		{"just before its ttl ends", 29*time.Second + 999*time.Millisecond, "aa", time.Minute, false, nil},
		{"another key", 0, "bb", time.Minute, true, nil},
		{"third key while both live", 0, "cc", time.Minute, false, ErrSeenFull},
		{"the refused key is not remembered", 0, "cc", time.Minute, false, ErrSeenFull},
		{"after aa expired there is room", time.Millisecond, "cc", time.Minute, true, nil},
		{"aa is new again once forgotten", 2 * time.Minute, "aa", time.Minute, true, nil},
	}
	for _, s := range steps {
		now = now.Add(s.advance)
		first, err := m.FirstSeen(ctx, s.key, s.ttl)
		if first != s.first || !errors.Is(err, s.err) || (s.err == nil && err != nil) {
			t.Errorf("%s: FirstSeen(%q) = %v, %v; want %v, %v", s.name, s.key, first, err, s.first, s.err)
		}
	}
}
