package window

import (
	"errors"
	"testing"
	"time"
)

// FuzzPolicy checks the window fields' promises on any configuration: a
// refusal wraps ErrInvalid; an accepted recurring span has a duration in
// (0, MaxDuration]; an accepted fixed span is half-open (it contains its
// from, not its to); and a policy that is closed at some time names the
// next time it opens, which is not before it and at which the policy is
// indeed open. Nothing panics or loops without bound.
//
//	scripts/fuzz 60s 'window\.FuzzPolicy$'
func FuzzPolicy(f *testing.F) {
	for _, s := range []struct {
		spec, tz  string
		minutes   uint32
		from, to  string
		freeze    bool
		offsetMin int64
	}{
		{"0 9 * * 1-5", "Europe/Berlin", 8 * 60, "2026-12-24", "2026-12-27 06:00", false, 0},
		{"0 9 * * 1-5", "Europe/Berlin", 8 * 60, "2026-12-24", "2026-12-27 06:00", true, 600},
		{"30 2 * * *", "America/New_York", 90, "2026-03-08 01:00", "2026-03-08 04:00", false, 60 * 24 * 3},
		{"* * * * *", "", 30, "2026-01-01", "2026-01-01", true, 5},
		{"@every 1h", "", 60, "x", "2026-13-01", false, 0},
		{"0 0 29 2 *", "Pacific/Apia", 60 * 24 * 366, "", "", false, -100000},
		{"TZ=UTC 0 0 * * *", "Mars/Olympus", 0, "2026-12-24 18:00", "2026-12-24 17:59", true, 1},
	} {
		f.Add(s.spec, s.tz, s.minutes, s.from, s.to, s.freeze, s.offsetMin)
	}
	base := time.Date(2026, 12, 23, 8, 0, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec, tz string, minutes uint32, from, to string, freeze bool, offsetMin int64) {
		var spans []Span
		d := time.Duration(minutes) * time.Minute
		if r, err := Recurring(spec, tz, d); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Recurring(%q, %q, %s) = %v, not an ErrInvalid", spec, tz, d, err)
			}
		} else {
			if d <= 0 || d > MaxDuration {
				t.Fatalf("Recurring(%q, %q) accepted the duration %s", spec, tz, d)
			}
			spans = append(spans, r)
		}
		if x, err := Fixed(from, to, tz); err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("Fixed(%q, %q, %q) = %v, not an ErrInvalid", from, to, tz, err)
			}
		} else {
			if _, in := x.containing(x.from); !in {
				t.Fatalf("Fixed(%q, %q) does not contain its start", from, to)
			}
			if _, in := x.containing(x.to); in {
				t.Fatalf("Fixed(%q, %q) contains its end", from, to)
			}
			spans = append(spans, x)
		}
		p := Policy{Allow: spans}
		if freeze {
			p = Policy{Freeze: spans}
		}
		now := base.Add(time.Duration(offsetMin%(4*366*24*60)) * time.Minute)
		why, next, closed := p.Closed(now)
		if !closed {
			if why != "" || !next.IsZero() {
				t.Fatalf("open at %s, yet %q, next %s", now, why, next)
			}
			return
		}
		if why == "" {
			t.Fatalf("closed at %s without a reason", now)
		}
		if next.IsZero() {
			return // nothing opens within Horizon
		}
		if next.Before(now) || next.Sub(now) > Horizon {
			t.Fatalf("closed at %s; next %s is not within [now, now+Horizon]", now, next)
		}
		if why2, _, closed2 := p.Closed(next); closed2 {
			t.Fatalf("closed at %s until %s, but closed then too: %s", now, next, why2)
		}
	})
}
