package schedule

import (
	"fmt"
	"maps"
	"slices"
)

// Decide says whether a run's result r is posted under when (WhenAlways if
// empty), given the last posted result (hasPosted false when none was ever
// posted), and what the post says besides the result itself. It does not
// set Post.CatchUp or Post.Manual: the Scheduler knows those.
//
//   - always: every run posts.
//   - changed: a run posts when its Facts or Failed differ from the last
//     posted result's, and the first run posts.
//   - problems: a run posts when it found a problem (a failed run is one),
//     and once when it recovers: the last posted result was a problem and
//     this one is not. Otherwise it is silent.
//
// Changes are filled whenever there is a last posted result, for every
// when; Recovered whenever the last posted result was a problem and r is
// not.
func Decide(when string, posted Result, hasPosted bool, r Result) (bool, Post) {
	var p Post
	if hasPosted {
		p.Changes = Changes(posted, r)
		p.Recovered = IsProblem(posted) && !IsProblem(r)
	}
	switch when {
	case WhenChanged:
		return !hasPosted || !Same(posted, r), p
	case WhenProblems:
		return IsProblem(r) || p.Recovered, p
	default:
		return true, p
	}
}

// IsProblem: something is down, unfinished or not running, or the run
// itself failed.
func IsProblem(r Result) bool { return r.Problem || r.Failed }

// Same reports whether two results say the same: equal Facts and equal
// Failed. A failure's Reason is not compared (it may name a time or a
// changing detail); a run that fails twice is the same state.
func Same(a, b Result) bool {
	return a.Failed == b.Failed && maps.Equal(a.Facts, b.Facts)
}

// Changes describes, one line per subject in subject order, how `now`
// differs from `before`: "main: 2 down → all up"; a subject that appeared
// "ci: (none) → all up", one that disappeared "ci: all up → (gone)". In a
// failed run every subject it has no fact for reads as the failure, so an
// unreachable agent gives "main: all up → run failed (agent unreachable)"
// and its recovery the reverse. Equal results give no lines.
func Changes(before, now Result) []string {
	subjects := slices.Sorted(maps.Keys(before.Facts))
	for s := range now.Facts {
		if _, ok := before.Facts[s]; !ok {
			subjects = append(subjects, s)
		}
	}
	slices.Sort(subjects)
	var out []string
	for _, s := range subjects {
		a, aok := state(before, s)
		b, bok := state(now, s)
		switch {
		case aok && bok && a != b:
			out = append(out, fmt.Sprintf("%s: %s → %s", s, a, b))
		case !aok && bok:
			out = append(out, fmt.Sprintf("%s: (none) → %s", s, b))
		case aok && !bok:
			out = append(out, fmt.Sprintf("%s: %s → (gone)", s, a))
		}
	}
	// Without subjects, say the run itself changed.
	if len(subjects) == 0 && (before.Failed != now.Failed || before.Reason != now.Reason && now.Failed) {
		out = append(out, fmt.Sprintf("%s → %s", runState(before), runState(now)))
	}
	return out
}

// state is what r says about subject s: its fact, or the failure of a
// failed run that has no fact for s.
func state(r Result, s string) (string, bool) {
	if v, ok := r.Facts[s]; ok {
		return v, true
	}
	if r.Failed {
		return failure(r), true
	}
	return "", false
}

func runState(r Result) string {
	if r.Failed {
		return failure(r)
	}
	return "run succeeded"
}

func failure(r Result) string {
	if r.Reason == "" {
		return "run failed"
	}
	return "run failed (" + r.Reason + ")"
}
