package gitlab

import (
	"regexp"
	"strings"
)

// EscapeRakeArg makes s safe as one rake task argument when no shell is
// involved: backslashes first, then commas, each preceded by a backslash.
// Rake splits task arguments on commas not preceded by a backslash and then
// turns every \x into x, so the result arrives as exactly s, provided s has
// no newline and no leading or trailing white space (rake trims those).
func EscapeRakeArg(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 8)
	for _, r := range s {
		if r == '\\' || r == ',' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// These reproduce ruby/rake lib/rake/application.rb#parse_task_string. Ruby's
// \s also matches \v, hence the explicit class; Ruby's $ also matches before
// a newline, which cannot matter because ParseRakeTask handles newlines first.
var (
	rakeTaskRE = regexp.MustCompile(`^([^\[]+)(?:\[(.*)\])$`)
	rakeArgRE  = regexp.MustCompile(`[ \t\r\n\f\v]*((?:[^\\,]|\\.)*?)[ \t\r\n\f\v]*(?:,[ \t\r\n\f\v]*(.*))?$`)
	rakeUnesc  = regexp.MustCompile(`\\(.)`)
)

// ParseRakeTask splits one rake command-line element into task name and
// arguments exactly as rake 13 does. It is what rake will make of an argv
// element this package builds, and lets tests and the simulator check the
// round trip without Ruby.
func ParseRakeTask(s string) (task string, args []string) {
	task, raw, _ := splitRakeTask(s)
	for _, a := range raw {
		args = append(args, unescapeRake(a))
	}
	return task, args
}

// splitRakeTask is ParseRakeTask without the final unescaping: raw holds
// each argument as written, trimmed, with its backslashes. bracketed is
// false when rake takes the whole element as a task name (no [, no closing
// ] at the end, or a newline).
func splitRakeTask(s string) (task string, raw []string, bracketed bool) {
	// In Ruby, . does not match a newline, so an element with one never
	// matches and is taken whole as a task name.
	if strings.ContainsAny(s, "\n") {
		return s, nil, false
	}
	m := rakeTaskRE.FindStringSubmatchIndex(s)
	if m == nil {
		return s, nil, false
	}
	name := s[m[2]:m[3]]
	if m[4] < 0 || m[4] == m[5] {
		return name, nil, true
	}
	rest := s[m[4]:m[5]]
	for {
		am := rakeArgRE.FindStringSubmatchIndex(rest)
		if am == nil {
			// Unreachable: the pattern can always match the empty string at
			// the end of rest. Stop rather than loop.
			return name, raw, true
		}
		raw = append(raw, rest[am[2]:am[3]])
		if am[4] < 0 {
			return name, raw, true
		}
		rest = rest[am[4]:am[5]]
	}
}

// unescapeRake is rake's last step on each argument: every \x becomes x.
func unescapeRake(s string) string { return rakeUnesc.ReplaceAllString(s, "$1") }
