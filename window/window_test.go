package window

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func mustRecurring(t *testing.T, spec, tz string, d time.Duration) Span {
	t.Helper()
	s, err := Recurring(spec, tz, d)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustFixed(t *testing.T, from, to, tz string) Span {
	t.Helper()
	s, err := Fixed(from, to, tz)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func utc(s string) time.Time {
	t, err := time.Parse("2006-01-02 15:04", s)
	if err != nil {
		panic(err)
	}
	return t
}

// checkClosed asks p at now (UTC, "2006-01-02 15:04") and checks whether
// it is closed, why (words it holds) and the next allowed time (Format, or
// "zero").
func checkClosed(t *testing.T, p Policy, now string, wantClosed bool, wantWhy, wantNext string) {
	t.Helper()
	why, next, closed := p.Closed(utc(now))
	if closed != wantClosed {
		t.Fatalf("closed = %v (%s), want %v", closed, why, wantClosed)
	}
	if !closed {
		return
	}
	if !strings.Contains(why, wantWhy) {
		t.Errorf("why = %q, want it to hold %q", why, wantWhy)
	}
	got := "zero"
	if !next.IsZero() {
		got = Format(next)
	}
	if got != wantNext {
		t.Errorf("next = %s, want %s", got, wantNext)
	}
}

// Europe/Berlin moves to summer time on Sun 2026-03-29 (02:00 CET →
// 03:00 CEST) and back on Sun 2026-10-25 (03:00 CEST → 02:00 CET).
func TestClosedAcrossDST(t *testing.T) {
	weekdays := Policy{Allow: []Span{mustRecurring(t, "0 9 * * 1-5", "Europe/Berlin", 8*time.Hour)}}
	night := Policy{Allow: []Span{mustRecurring(t, "30 2 * * *", "Europe/Berlin", time.Hour)}}
	early := Policy{Allow: []Span{mustRecurring(t, "0 1 * * *", "Europe/Berlin", 3*time.Hour)}}
	for _, tc := range []struct {
		name   string
		p      Policy
		now    string // UTC
		closed bool
		next   string // Format of the next allowed time
	}{
		{"winter, before the window", weekdays, "2026-03-27 07:30", true, "Fri 2026-03-27 09:00 CET (Europe/Berlin), 08:00 UTC"},
		{"winter, inside", weekdays, "2026-03-27 08:00", false, ""},
		{"Friday evening: next is Monday, in summer time", weekdays, "2026-03-27 16:30", true, "Mon 2026-03-30 09:00 CEST (Europe/Berlin), 07:00 UTC"},
		{"summer: 09:30 CEST is 07:30 UTC", weekdays, "2026-03-30 07:30", false, ""},
		{"summer: the window ends at 17:00 CEST (half-open)", weekdays, "2026-03-30 15:00", true, "Tue 2026-03-31 09:00 CEST (Europe/Berlin), 07:00 UTC"},
		{"a start that does not exist runs an hour later (03:30 CEST)", night, "2026-03-29 01:40", false, ""},
		{"before that late start", night, "2026-03-29 00:50", true, "Sun 2026-03-29 03:30 CEST (Europe/Berlin), 01:30 UTC"},
		{"a start that exists twice opens once, at the first 02:30", night, "2026-10-25 00:40", false, ""},
		{"the second 02:30 (CET) opens nothing", night, "2026-10-25 01:45", true, "Mon 2026-10-26 02:30 CET (Europe/Berlin), 01:30 UTC"},
		{"a duration is elapsed time: 01:00 CET + 3h is 05:00 CEST", early, "2026-03-29 02:30", false, ""},
		{"and ends there", early, "2026-03-29 03:00", true, "Mon 2026-03-30 01:00 CEST (Europe/Berlin), Sun 23:00 UTC"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkClosed(t, tc.p, tc.now, tc.closed, "outside the change windows", tc.next)
		})
	}
}

func TestFreezeNamesTheNextAllowedTime(t *testing.T) {
	yearEnd := mustFixed(t, "2026-12-19", "2027-01-04", "Europe/Berlin")
	yearEnd.Name = "year-end freeze"
	weekdays := mustRecurring(t, "0 9 * * 1-5", "Europe/Berlin", 8*time.Hour)
	weekends := mustRecurring(t, "0 0 * * 6", "UTC", 48*time.Hour)
	release := mustFixed(t, "2027-01-03 22:00", "2027-01-05 12:00", "UTC")
	for _, tc := range []struct {
		name   string
		p      Policy
		now    string
		closed bool
		why    string
		next   string
	}{
		{"inside the freeze, inside a window: the freeze wins; next is the first window after it", Policy{Allow: []Span{weekdays}, Freeze: []Span{yearEnd}}, "2026-12-22 10:00", true,
			"the freeze year-end freeze is in force until Mon 2027-01-04 00:00 CET (Europe/Berlin), Sun 23:00 UTC", "Mon 2027-01-04 09:00 CET (Europe/Berlin), 08:00 UTC"},
		{"freeze alone: next is its end", Policy{Freeze: []Span{yearEnd}}, "2026-12-22 10:00", true,
			"year-end freeze", "Mon 2027-01-04 00:00 CET (Europe/Berlin), Sun 23:00 UTC"},
		{"a freeze ending inside another: next is after both", Policy{Freeze: []Span{yearEnd, release}}, "2026-12-22 10:00", true,
			"year-end freeze", "Tue 2027-01-05 12:00 UTC"},
		{"a recurring freeze (weekends)", Policy{Freeze: []Span{weekends}}, "2026-12-05 10:00", true,
			"the freeze 0 0 * * 6 for 48h (UTC) is in force until Mon 2026-12-07 00:00 UTC", "Mon 2026-12-07 00:00 UTC"},
		{"after the freeze", Policy{Freeze: []Span{weekends}}, "2026-12-07 00:00", false, "", ""},
		{"the zero policy allows everything", Policy{}, "2026-12-22 10:00", false, "", ""},
		{"allow windows that all passed: no next time", Policy{Allow: []Span{mustFixed(t, "2020-01-01", "2020-01-02", "")}}, "2026-12-22 10:00", true,
			"outside the change windows (2020-01-01 to 2020-01-02 (UTC))", "zero"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkClosed(t, tc.p, tc.now, tc.closed, tc.why, tc.next)
		})
	}
}

func TestSpanRefusals(t *testing.T) {
	for _, tc := range []struct {
		name string
		make func() error
		want string
	}{
		{"@every", func() error { _, err := Recurring("@every 1h", "", time.Hour); return err }, "starts no window at a fixed time"},
		{"bad spec", func() error { _, err := Recurring("0 25 * * *", "", time.Hour); return err }, "is not valid"},
		{"bad zone", func() error { _, err := Recurring("0 9 * * *", "Mars/Olympus", time.Hour); return err }, "unknown time zone"},
		{"zero duration", func() error { _, err := Recurring("0 9 * * *", "", 0); return err }, "must be positive"},
		{"too long", func() error { _, err := Recurring("0 9 * * *", "", MaxDuration+time.Hour); return err }, "at most 366 days"},
		{"bad date", func() error { _, err := Fixed("24.12.2026", "2027-01-01", ""); return err }, "is not a date"},
		{"to before from", func() error { _, err := Fixed("2027-01-01", "2026-12-24", ""); return err }, "must be after from"},
		{"to equals from", func() error { _, err := Fixed("2027-01-01", "2027-01-01 00:00", ""); return err }, "must be after from"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.make()
			if err == nil || !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want ErrInvalid saying %q", err, tc.want)
			}
		})
	}
}
