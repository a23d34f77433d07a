package commands

import (
	"slices"
	"testing"
	"time"
)

// testPool is a pool on the test's clock: each wait advances it.
func testPool(rate float64, burst int) (*pool, *time.Time, *[]time.Duration) {
	now := time.Unix(1_700_000_000, 0)
	var waits []time.Duration
	p := newPool(8, rate, burst)
	p.now = func() time.Time { return now }
	p.sleep = func(d time.Duration) { waits = append(waits, d); now = now.Add(d) }
	return p, &now, &waits
}

// TestPoolTokensPaceAContinuousStream: commands arriving every 5 ms keep
// the pool from ever being quiet, so tasks start one per 1/rate after the
// burst.
func TestPoolTokensPaceAContinuousStream(t *testing.T) {
	p, now, waits := testPool(10, 2)
	p.sleep = func(d time.Duration) {
		*waits = append(*waits, d)
		// Commands keep arriving every 5 ms while the worker waits.
		for end := now.Add(d); now.Before(end); {
			*now = now.Add(5 * time.Millisecond)
			p.lastSubmit = *now
		}
	}
	start := *now
	for range 5 {
		p.lastSubmit = *now
		p.admit()
	}
	if got := now.Sub(start); got < 300*time.Millisecond || got > 320*time.Millisecond {
		t.Errorf("5 starts at 10/s after a burst of 2 took %s under a continuous stream, want 300 ms", got)
	}
}

// TestPoolStartsQuicklyWhenQuiet: once no command arrived for the quiet
// gap, waiting tasks start without tokens, one per poolGap; after an idle
// second the burst is available again.
func TestPoolStartsQuicklyWhenQuiet(t *testing.T) {
	p, now, waits := testPool(10, 2)
	p.lastSubmit = now.Add(-time.Second)
	start := *now
	for range 20 {
		p.admit()
	}
	// 2 tokens, then 18 starts spaced by the gap; the first of those
	// waits a gap after the second token's start.
	if got, want := now.Sub(start), 18*poolGap; got != want {
		t.Errorf("20 starts with no command arriving took %s, want %s (%v)", got, want, *waits)
	}
	*now = now.Add(time.Second)
	*waits = nil
	p.lastSubmit = *now
	p.admit()
	p.admit()
	if len(*waits) != 0 {
		t.Errorf("after an idle second, 2 starts waited %v, want none (the burst)", *waits)
	}
	p.admit()
	if !slices.Equal(*waits, []time.Duration{poolQuiet}) {
		t.Errorf("the third start right after a command waited %v, want the quiet gap (%s)", *waits, poolQuiet)
	}
}

// TestPoolStartsAtOnceWithoutRate: a pool without a rate never waits.
func TestPoolStartsAtOnceWithoutRate(t *testing.T) {
	p, _, waits := testPool(0, 0)
	for range 100 {
		p.lastSubmit = p.now()
		p.admit()
	}
	if len(*waits) != 0 {
		t.Errorf("waited %v", *waits)
	}
}
