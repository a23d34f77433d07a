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

// streamPool is testPool with commands arriving every `every` while a
// worker waits, on a 1 ms step.
func streamPool(rate float64, burst int, every time.Duration) (*pool, *time.Time) {
	p, now, _ := testPool(rate, burst)
	next := *now
	p.sleep = func(d time.Duration) {
		for end := now.Add(d); now.Before(end); {
			*now = now.Add(time.Millisecond)
			if !now.Before(next) {
				p.arrived(*now)
				next = now.Add(every)
			}
		}
	}
	p.arrived(*now)
	next = now.Add(every)
	return p, now
}

// TestPoolTokensPaceAContinuousStream: commands arriving every 5 ms (more
// than poolSettle apart, less than poolQuiet) keep the pool from ever
// being quiet, so tasks start one per 1/rate after the burst.
func TestPoolTokensPaceAContinuousStream(t *testing.T) {
	p, now := streamPool(10, 2, 5*time.Millisecond)
	start := *now
	for range 5 {
		p.admit()
	}
	// The burst's two tokens once the first command settled (3 ms), then
	// three more at 10/s.
	if got := now.Sub(start); got < 300*time.Millisecond || got > 310*time.Millisecond {
		t.Errorf("5 starts at 10/s after a burst of 2 took %s under a stream every 5 ms, want 300 ms", got)
	}
}

// TestPoolYieldsToABurst: while commands arrive less than poolSettle apart
// (acks in progress), no task starts on its tokens: one starts per 1/rate,
// counted from the burst's first command, so acks get the CPU and a burst
// that never pauses still makes progress.
func TestPoolYieldsToABurst(t *testing.T) {
	p, now := streamPool(10, 4, time.Millisecond)
	start := *now
	p.admit()
	if got := now.Sub(start); got != 100*time.Millisecond {
		t.Errorf("the first start during a burst came %s after it began, want 100 ms (1/rate), not at once on a token", got)
	}
	for range 3 {
		p.admit()
	}
	if got := now.Sub(start); got != 400*time.Millisecond {
		t.Errorf("4 starts during a burst took %s, want 400 ms", got)
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
	p.arrived(*now)
	p.admit()
	p.admit()
	if !slices.Equal(*waits, []time.Duration{poolSettle}) {
		t.Errorf("after an idle second, 2 starts waited %v, want only the settling of the command that came (%s), then the burst", *waits, poolSettle)
	}
	p.admit()
	if !slices.Equal(*waits, []time.Duration{poolSettle, poolQuiet - poolSettle}) {
		t.Errorf("the third start right after a command waited %v, want the rest of the quiet gap (%s)", *waits, poolQuiet)
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
