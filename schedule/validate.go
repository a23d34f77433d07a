package schedule

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"
	// Embedded zone data: a schedule's IANA zone must load wherever the bot
	// runs, also in an image or on a host without /usr/share/zoneinfo.
	_ "time/tzdata"
	"unicode"

	"github.com/robfig/cron/v3"
)

// MinEvery is the shortest @every interval a schedule may have: status
// posts more often than once a minute would only load the host and flood
// the channel.
const MinEvery = time.Minute

// maxSpec bounds a spec typed in chat.
const maxSpec = 100

// specParser reads the standard 5 fields (minute hour day-of-month month
// day-of-week) and descriptors (@hourly, @daily, @every 30m, …); no
// seconds field.
var specParser = cron.NewParser(cron.Minute | cron.Hour | cron.Dom | cron.Month | cron.Dow | cron.Descriptor)

// Whats says what a schedule may run, as the Runner knows it (the router:
// its operation table): ReadOnly are the subcommands a schedule may name,
// in the order help names them; Destructive those that change GitLab and
// run only after a second person approves, which a schedule never has
// (named so that the refusal says why, not "unknown").
type Whats struct {
	ReadOnly, Destructive []string
}

var whens = []string{WhenAlways, WhenChanged, WhenProblems}

// Timing is a validated spec in its time zone: it says when a schedule is
// due. The zero Timing is never due.
type Timing struct {
	cron cron.Schedule
	loc  *time.Location
}

// ParseTiming validates spec and tz (an IANA zone name, "" for UTC). The
// error says what to write instead and wraps ErrInvalid.
func ParseTiming(spec, tz string) (Timing, error) {
	loc, err := zone(tz)
	if err != nil {
		return Timing{}, err
	}
	c, err := parseSpec(spec)
	if err != nil {
		return Timing{}, err
	}
	t := Timing{cron: c, loc: loc}
	// A spec such as "0 0 30 2 *" parses but names no date; robfig looks
	// five years ahead, which covers every leap day.
	if t.Next(time.Now()).IsZero() {
		return Timing{}, invalid(fmt.Sprintf("cron spec %q never comes due (no such date): check the day-of-month and month fields", spec))
	}
	return t, nil
}

// Next is the first time after `after` at which the schedule is due, in
// the schedule's zone, or the zero time if it never is.
//
// Wall-clock fields are read in the schedule's zone, so "0 9 * * *" in
// Europe/Berlin is 09:00 Berlin time in winter and summer alike. Across a
// daylight-saving change, a spec that names particular hours behaves as
// cron(8) does:
//   - Clocks spring forward: a time that does not exist that day runs as
//     much later as the clocks jumped ("30 2 * * *" in Europe/Berlin runs
//     at 03:30 on the last Sunday of March); several such times run once.
//     robfig/cron alone skips that day's run.
//   - Clocks fall back: a time that exists twice runs once, at its first
//     occurrence. robfig/cron alone runs it twice, an hour apart.
//
// A spec that runs every hour ("*/30 * * * *") and @every intervals are
// elapsed time: they keep their pace through both changes.
func (t Timing) Next(after time.Time) time.Time {
	if t.cron == nil {
		return time.Time{}
	}
	var next time.Time
	if t.everyHour() {
		next = t.cron.Next(after.In(t.loc))
	} else {
		next = t.nextWallClock(after)
	}
	if next.IsZero() {
		return next
	}
	return next.In(t.loc)
}

// everyHour: the spec matches every hour of the day (or is an @every).
func (t Timing) everyHour() bool {
	spec, ok := t.cron.(*cron.SpecSchedule)
	const allHours = 1<<24 - 1
	return !ok || spec.Hour&allHours == allHours
}

// nextWallClock runs the spec on the zone's wall clock, as if it never
// changed (its fields as UTC), then finds the instant the zone's clocks
// show that wall time (wallInstant). A wall time that maps to `after` or
// earlier (the second pass of a repeated hour) moves on to the next one.
func (t Timing) nextWallClock(after time.Time) time.Time {
	wall := asUTC(after.In(t.loc))
	// Each pass moves wall forward to a matching time; two suffice (one
	// repeated time at most), the bound only guards the loop.
	for range 4 {
		w := t.cron.Next(wall)
		if w.IsZero() {
			return w
		}
		if n := wallInstant(w, t.loc); n.After(after) {
			return n
		}
		wall = w
	}
	return time.Time{}
}

// asUTC is t's wall clock read as a UTC time.
func asUTC(t time.Time) time.Time {
	return time.Date(t.Year(), t.Month(), t.Day(), t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC)
}

// wallInstant is the first instant at which loc's clocks show w's fields
// (w is in UTC); in a gap, where they never do, the instant w's fields
// name at the offset before the gap, which is as much later on the clock
// as the gap is long.
func wallInstant(w time.Time, loc *time.Location) time.Time {
	// The offsets in effect a day either side cover any one change.
	_, before := w.Add(-24 * time.Hour).In(loc).Zone()
	_, after := w.Add(24 * time.Hour).In(loc).Zone()
	var first time.Time
	for _, off := range []int{before, after} {
		c := w.Add(-time.Duration(off) * time.Second)
		if asUTC(c.In(loc)).Equal(w) && (first.IsZero() || c.Before(first)) {
			first = c
		}
	}
	if first.IsZero() {
		first = w.Add(-time.Duration(before) * time.Second)
	}
	return first
}

// Location is the schedule's time zone.
func (t Timing) Location() *time.Location {
	if t.loc == nil {
		return time.UTC
	}
	return t.loc
}

// Validate checks everything about s that does not depend on where it came
// from: its spec and zone (returned as its Timing), host (one of hosts,
// AllHosts, or "" for the default host), what (one of whats.ReadOnly),
// when, platform and channel. The error is a sentence saying what to
// change and wraps ErrInvalid.
func Validate(s Schedule, hosts []string, whats Whats) (Timing, error) {
	t, err := ParseTiming(s.Spec, s.TZ)
	if err != nil {
		return Timing{}, err
	}
	if err := whats.check(s.What); err != nil {
		return Timing{}, err
	}
	if s.When != "" && !slices.Contains(whens, s.When) {
		return Timing{}, invalid(fmt.Sprintf("unknown when %q: use %s", s.When, strings.Join(whens, ", ")))
	}
	if s.Host != "" && s.Host != AllHosts && !slices.Contains(hosts, s.Host) {
		if len(hosts) == 0 {
			return Timing{}, invalid(fmt.Sprintf("unknown host %q: no hosts are configured; add the host to hosts: in the configuration", s.Host))
		}
		return Timing{}, invalid(fmt.Sprintf("unknown host %q: use one of the configured hosts (%s) or %s", s.Host, strings.Join(hosts, ", "), AllHosts))
	}
	if s.Platform == "" || s.Channel == "" {
		return Timing{}, invalid("a schedule needs a platform and a channel to post to")
	}
	return t, nil
}

// check allows only the read-only subcommands. A destructive one is
// refused with the reason, so that nobody reads "unknown" and tries
// another spelling.
func (w Whats) check(what string) error {
	whats := w.ReadOnly
	switch {
	case slices.Contains(whats, what):
		return nil
	case slices.Contains(w.Destructive, what):
		return invalid(fmt.Sprintf("a schedule can never run %s: it needs a second person's approval; schedule one of %s", what, strings.Join(whats, ", ")))
	case what == "":
		return invalid(fmt.Sprintf("say what the schedule runs: one of %s", strings.Join(whats, ", ")))
	default:
		return invalid(fmt.Sprintf("a schedule cannot run %q: schedule one of %s", what, strings.Join(whats, ", ")))
	}
}

// zone loads an IANA zone; "" is UTC. "Local" is refused: the bot's own
// zone would change with the machine it runs on.
func zone(tz string) (*time.Location, error) {
	if tz == "" {
		return time.UTC, nil
	}
	if tz == "Local" || len(tz) > 64 {
		return nil, invalid(fmt.Sprintf("unknown time zone %q: name an IANA zone such as Europe/Berlin or America/New_York", tz))
	}
	loc, err := time.LoadLocation(tz)
	if err != nil {
		return nil, invalid(fmt.Sprintf("unknown time zone %q: name an IANA zone such as Europe/Berlin or America/New_York", tz))
	}
	return loc, nil
}

const specHelp = `give five fields (minute hour day-of-month month day-of-week, e.g. "0 9 * * 1-5") or a descriptor (@hourly, @daily, @weekly, @monthly, @every 30m)`

func parseSpec(spec string) (cron.Schedule, error) {
	switch {
	case strings.TrimSpace(spec) == "":
		return nil, invalid("empty cron spec: " + specHelp)
	case len(spec) > maxSpec:
		return nil, invalid(fmt.Sprintf("cron spec is %d characters long; at most %d: %s", len(spec), maxSpec, specHelp))
	case strings.IndexFunc(spec, func(r rune) bool { return !unicode.IsPrint(r) && r != ' ' && r != '\t' }) >= 0:
		return nil, invalid(fmt.Sprintf("cron spec %q holds characters that are not printable: %s", spec, specHelp))
	case strings.Contains(spec, "TZ="):
		// robfig reads a CRON_TZ=/TZ= prefix (and panics on one without a
		// spec after it); a schedule has one place for its zone.
		return nil, invalid(fmt.Sprintf("cron spec %q names a time zone: give the zone separately, with --tz in chat or tz: in the configuration", spec))
	}
	c, err := specParser.Parse(strings.TrimSpace(spec))
	if err != nil {
		return nil, invalid(fmt.Sprintf("cron spec %q is not valid (%v): %s", spec, err, specHelp))
	}
	if every, ok := c.(cron.ConstantDelaySchedule); ok && every.Delay < MinEvery {
		return nil, invalid(fmt.Sprintf("cron spec %q runs more often than once a minute: use @every %s or longer", spec, MinEvery))
	}
	return c, nil
}

// idPattern is what a configuration schedule's ID may look like: short and
// typeable in `schedules run <id>`.
var idPattern = regexp.MustCompile(`^[a-z][a-z0-9_-]{0,31}$`)

// chatIDPattern is the form of the IDs a Store assigns (s1, s2, …); a
// configuration schedule may not take one.
var chatIDPattern = regexp.MustCompile(`^s[0-9]+$`)

// IsChatID reports whether id has the form of the IDs a Store assigns to
// chat-defined schedules (s1, s2, …). A configuration schedule's ID never
// has it (CheckConfigID), so a Store can tell the two apart by the ID.
func IsChatID(id string) bool { return chatIDPattern.MatchString(id) }

// CheckConfigID checks the ID of a schedule from the configuration file.
func CheckConfigID(id string) error {
	switch {
	case id == "":
		return invalid("a schedule in the configuration needs an id (e.g. daily-status), so that `schedules run <id>` can name it")
	case chatIDPattern.MatchString(id):
		return invalid(fmt.Sprintf("schedule id %q has the form of the ids given to schedules added from chat (s1, s2, …): choose another, e.g. daily-status", id))
	case !idPattern.MatchString(id):
		return invalid(fmt.Sprintf("schedule id %q: use at most 32 lower-case letters, digits, - or _, starting with a letter", id))
	}
	return nil
}
