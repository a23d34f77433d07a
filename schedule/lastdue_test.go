package schedule

import (
	"testing"
	"time"
)

// lastDue finds the latest due time in (after, now]: the tick a catch-up
// stands for (and claims), even after a long downtime.
func TestLastDue(t *testing.T) {
	at := func(d, h, m int) time.Time { return time.Date(2026, 3, d, h, m, 0, 0, time.UTC) }
	timing := func(spec, tz string) Timing {
		t.Helper()
		tm, err := Validate(Schedule{ID: "x", Spec: spec, TZ: tz, Platform: "slack", Channel: "C1", What: WhatStatus},
			nil, Whats{ReadOnly: []string{WhatStatus}})
		if err != nil {
			t.Fatal(err)
		}
		return tm
	}
	for _, c := range []struct {
		name       string
		spec, tz   string
		after, now time.Time
		want       time.Time
	}{
		{"none missed", "0 * * * *", "", at(2, 9, 0), at(2, 9, 59), time.Time{}},
		{"one missed, at now", "0 * * * *", "", at(2, 9, 0), at(2, 10, 0), at(2, 10, 0)},
		{"several missed: the latest", "0 * * * *", "", at(2, 9, 0), at(2, 13, 30), at(2, 13, 0)},
		{"a month down, every minute", "* * * * *", "", at(2, 9, 0), at(30, 9, 0), at(30, 9, 0)},
		{"daily across days", "30 6 * * *", "", at(2, 6, 30), at(9, 6, 29), at(8, 6, 30)},
		{"in its zone", "0 9 * * *", "Europe/Berlin", at(2, 9, 0), at(4, 12, 0), at(4, 8, 0)},
	} {
		if got := lastDue(timing(c.spec, c.tz), c.after, c.now); !got.Equal(c.want) {
			t.Errorf("%s: lastDue = %s, want %s", c.name, got, c.want)
		}
	}
}
