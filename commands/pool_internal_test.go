package commands

import (
	"slices"
	"testing"
	"time"
)

// TestPoolStartRate: the first `burst` tasks start at once, the next ones
// one per 1/rate; after an idle second the burst is available again. The
// clock is the test's: each wait advances it.
func TestPoolStartRate(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	var waits []time.Duration
	p := newPool(8, 10, 2)
	p.now = func() time.Time { return now }
	p.sleep = func(d time.Duration) { waits = append(waits, d); now = now.Add(d) }

	for range 5 {
		p.admit()
	}
	want := []time.Duration{100 * time.Millisecond, 100 * time.Millisecond, 100 * time.Millisecond}
	if !slices.Equal(waits, want) {
		t.Errorf("5 starts at 10/s after a burst of 2 waited %v, want %v", waits, want)
	}

	now = now.Add(time.Second)
	waits = nil
	p.admit()
	p.admit()
	if len(waits) != 0 {
		t.Errorf("after an idle second, 2 starts waited %v, want none", waits)
	}
}

// TestPoolStartsAtOnceWithoutRate: a pool without a rate never waits.
func TestPoolStartsAtOnceWithoutRate(t *testing.T) {
	p := newPool(1, 0, 0)
	p.sleep = func(d time.Duration) { t.Fatalf("waited %s", d) }
	for range 100 {
		p.admit()
	}
}
