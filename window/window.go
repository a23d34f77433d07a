// Package window says when destructive operations may start: the
// configuration's policy.windows, a list of allow windows outside which
// they may not, and of freezes during which they may not.
//
// Each window is a Span: a recurring one (a cron spec read on an IANA
// zone's wall clock, through schedule.Timing and its daylight-saving rule,
// lasting a Duration of elapsed time from each start) or a fixed one (from
// and to, in a zone). Spans are half-open: a span starting at 09:00 for 8h
// contains 09:00 and not 17:00.
//
// The package decides; approvals enforces (approvals.Windows) and the
// configuration builds the Policy (cmd/gitlab-chatops).
package window

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// ErrInvalid is wrapped by every refusal of a window's fields.
var ErrInvalid = errors.New("invalid window")

// MaxDuration bounds a recurring span: a longer one would overlap its own
// next start for any spec, and is a fixed from/to period in disguise.
const MaxDuration = 366 * 24 * time.Hour

// Horizon is how far ahead Next looks for an allowed time; a policy that
// allows nothing within it is reported as allowing nothing.
const Horizon = 2 * 366 * 24 * time.Hour

// maxSteps bounds the walks over a recurring span's starts (a freeze of
// "* * * * *" for an hour holds 60 starts at once).
const maxSteps = 10000

// Span is one allow window or freeze.
type Span struct {
	// Name is how messages name it; Describe's text when not configured.
	Name string

	timing   schedule.Timing
	duration time.Duration
	from, to time.Time
	loc      *time.Location
	desc     string
}

// Recurring is a span that starts at each time spec (a 5-field cron spec
// or @hourly-style descriptor, not @every: a window starts at fixed wall
// times) names on tz's wall clock and lasts d of elapsed time.
func Recurring(spec, tz string, d time.Duration) (Span, error) {
	if strings.HasPrefix(strings.TrimSpace(spec), "@every") {
		return Span{}, fmt.Errorf("cron spec %q counts from whenever it is asked, so it starts no window at a fixed time: give five fields, e.g. \"0 9 * * 1-5\" for 09:00 on weekdays: %w", spec, ErrInvalid)
	}
	t, err := schedule.ParseTiming(spec, tz)
	if err != nil {
		return Span{}, fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	if err := CheckDuration(d); err != nil {
		return Span{}, err
	}
	return Span{timing: t, duration: d, loc: t.Location(),
		desc: fmt.Sprintf("%s for %s (%s)", strings.TrimSpace(spec), shortDuration(d), t.Location())}, nil
}

// CheckDuration refuses a recurring span's duration that is not positive
// or longer than MaxDuration.
func CheckDuration(d time.Duration) error {
	if d <= 0 || d > MaxDuration {
		return fmt.Errorf("duration %s must be positive and at most 366 days (8784h), e.g. 8h: %w", d, ErrInvalid)
	}
	return nil
}

// dateForms are how from and to may be written, in the span's zone.
var dateForms = []string{"2006-01-02 15:04", "2006-01-02"}

// ParseDate reads a from or to value ("2026-12-24" or "2026-12-24 18:00")
// as a time in loc.
func ParseDate(s string, loc *time.Location) (time.Time, error) {
	for _, f := range dateForms {
		if t, err := time.ParseInLocation(f, strings.TrimSpace(s), loc); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date: write 2026-12-24 or 2026-12-24 18:00 (in the window's tz): %w", s, ErrInvalid)
}

// Fixed is a span from `from` to `to` (dates as ParseDate reads them) in
// tz ("" is UTC).
func Fixed(from, to, tz string) (Span, error) {
	loc, err := Zone(tz)
	if err != nil {
		return Span{}, err
	}
	f, err := ParseDate(from, loc)
	if err != nil {
		return Span{}, err
	}
	t, err := ParseDate(to, loc)
	if err != nil {
		return Span{}, err
	}
	if !t.After(f) {
		return Span{}, fmt.Errorf("to (%s) must be after from (%s): %w", to, from, ErrInvalid)
	}
	return Span{from: f, to: t, loc: loc, desc: fmt.Sprintf("%s to %s (%s)", strings.TrimSpace(from), strings.TrimSpace(to), loc)}, nil
}

// Zone loads an IANA zone the way schedules do ("" is UTC).
func Zone(tz string) (*time.Location, error) {
	t, err := schedule.ParseTiming("@daily", tz)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", err, ErrInvalid)
	}
	return t.Location(), nil
}

// Describe names the span for people: its Name, else its spec or dates.
func (s Span) Describe() string {
	if s.Name != "" {
		return s.Name
	}
	return s.desc
}

// Location is the span's zone.
func (s Span) Location() *time.Location {
	if s.loc == nil {
		return time.UTC
	}
	return s.loc
}

func (s Span) recurring() bool { return s.duration > 0 }

// containing reports whether t is inside an occurrence of s, and when the
// last occurrence containing t ends (occurrences may overlap).
func (s Span) containing(t time.Time) (time.Time, bool) {
	if !s.recurring() {
		return s.to, !t.Before(s.from) && t.Before(s.to)
	}
	// A start in (t-d, t] contains t; Next is strictly after its argument.
	start := s.timing.Next(t.Add(-s.duration))
	if start.IsZero() || start.After(t) {
		return time.Time{}, false
	}
	for range maxSteps {
		n := s.timing.Next(start)
		if n.IsZero() || n.After(t) {
			break
		}
		start = n
	}
	return start.Add(s.duration), true
}

// nextStart is the first start of s after t, or zero when there is none.
func (s Span) nextStart(t time.Time) time.Time {
	if !s.recurring() {
		if s.from.After(t) {
			return s.from
		}
		return time.Time{}
	}
	return s.timing.Next(t)
}

// Policy is policy.windows. The zero Policy allows everything.
type Policy struct {
	// Allow windows: when any is set, operations may start only inside
	// one of them.
	Allow []Span
	// Freeze periods: operations may never start inside one.
	Freeze []Span
}

// Closed says why operations may not start at now, and the next time they
// may (in the zone of the window that opens then; zero when none comes
// within Horizon). closed is false when they may start now.
func (p Policy) Closed(now time.Time) (why string, next time.Time, closed bool) {
	for _, f := range p.Freeze {
		if end, ok := f.containing(now); ok {
			why = fmt.Sprintf("the freeze %s is in force until %s", quoteName(f), Format(end.In(f.Location())))
			break
		}
	}
	if why == "" && len(p.Allow) > 0 && !p.inAllow(now) {
		names := make([]string, len(p.Allow))
		for i, a := range p.Allow {
			names[i] = quoteName(a)
		}
		why = "it is outside the change windows (" + strings.Join(names, "; ") + ")"
	}
	if why == "" {
		return "", time.Time{}, false
	}
	return why, p.Next(now), true
}

// Next is the first time at or after now when operations may start, in
// the zone of the window that decided it; zero when none comes within
// Horizon.
func (p Policy) Next(now time.Time) time.Time {
	t, loc := now, time.UTC
	for range maxSteps {
		if t.Sub(now) > Horizon {
			return time.Time{}
		}
		moved := false
		for _, f := range p.Freeze {
			if end, ok := f.containing(t); ok {
				t, loc, moved = end, f.Location(), true
			}
		}
		if len(p.Allow) > 0 && !p.inAllow(t) {
			var first time.Time
			for _, a := range p.Allow {
				if n := a.nextStart(t); !n.IsZero() && (first.IsZero() || n.Before(first)) {
					first, loc = n, a.Location()
				}
			}
			if first.IsZero() {
				return time.Time{}
			}
			t, moved = first, true
		}
		if !moved {
			return t.In(loc)
		}
	}
	return time.Time{}
}

func (p Policy) inAllow(t time.Time) bool {
	for _, a := range p.Allow {
		if _, ok := a.containing(t); ok {
			return true
		}
	}
	return false
}

// Format writes t for a refusal: the weekday, date and time in t's zone
// with the zone's abbreviation and name, and the same instant in UTC, so
// that nobody has to convert ("Mon 2026-03-30 09:00 CEST (Europe/Berlin),
// 07:00 UTC").
func Format(t time.Time) string {
	s := t.Format("Mon 2006-01-02 15:04 MST")
	if name := t.Location().String(); name != "UTC" {
		utc := t.UTC().Format("15:04 UTC")
		if t.UTC().Day() != t.Day() {
			utc = t.UTC().Format("Mon 15:04 UTC")
		}
		s += " (" + name + "), " + utc
	}
	return s
}

// Format is the package's Format, so that a Policy is an
// approvals.Windows.
func (Policy) Format(t time.Time) string { return Format(t) }

func quoteName(s Span) string { return s.Describe() }

// shortDuration writes d without zero units ("8h", "1h30m", "72h").
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
