package window

import (
	"testing"
	"time"
)

// BenchmarkClosed is the cost the Service adds to opening a request and
// to a starting approval: a weekday window and a year-end freeze, asked
// inside the freeze (the longest walk: out of the freeze, then to the
// next window).
func BenchmarkClosed(b *testing.B) {
	weekdays, err := Recurring("0 9 * * 1-5", "Europe/Berlin", 8*time.Hour)
	if err != nil {
		b.Fatal(err)
	}
	yearEnd, err := Fixed("2026-12-19", "2027-01-04", "Europe/Berlin")
	if err != nil {
		b.Fatal(err)
	}
	p := Policy{Allow: []Span{weekdays}, Freeze: []Span{yearEnd}}
	now := time.Date(2026, 12, 22, 10, 0, 0, 0, time.UTC)
	b.ReportAllocs()
	for b.Loop() {
		if _, _, closed := p.Closed(now); !closed {
			b.Fatal("open inside the freeze")
		}
	}
}
