package main

import (
	"context"
	"fmt"
	"slices"
)

// A Figure is one numbered figure of the issue (P1 ... P7): one or more
// table rows that one Round measures together.
type Figure struct {
	ID   string // "P3": -only matches it and Name
	Name string // "status parse"
	// Round measures the figure once, baselines included, and returns
	// every value its rows name. It must honour ctx.
	Round func(ctx context.Context, env *Env) (Values, error)
	Rows  []Row
}

// Values are one round's measurements, by key (Row.Measured, Row.Baseline).
type Values map[string]float64

// A Row is one line of the table.
type Row struct {
	What     string // what is measured: "3000-row fixture, per parse"
	Goal     string // as the issue states it: "≤ 1 ms, ≤ 5×"
	Unit     Unit
	Measured string // key in Values
	Baseline string // key in Values of the baseline; "" when the goal has none
	// BaselineWhat names the baseline in the table ("bufio.Scanner line count").
	BaselineWhat string
	// Met reports whether the goal is met, given the medians over rounds
	// of the measured value and of the baseline (0 without one). nil: the
	// row is shown for context (a p50 beside the p99 the goal is on) and
	// has no goal of its own.
	Met func(measured, baseline float64) bool
}

// Stats summarise one key over the rounds.
type Stats struct {
	N                int
	Min, Median, Max float64
}

func summarise(xs []float64) Stats {
	if len(xs) == 0 {
		return Stats{}
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	n := len(s)
	return Stats{N: n, Min: s[0], Median: (s[(n-1)/2] + s[n/2]) / 2, Max: s[n-1]}
}

// Result is a row after the rounds.
type Result struct {
	Figure   Figure
	Row      Row
	Measured Stats
	Baseline Stats // N == 0 without a baseline
	Err      error // the first failed round, if any
}

// Ratio is the median measured over the median baseline, 0 without one.
func (r Result) Ratio() float64 {
	if r.Row.Baseline == "" || r.Baseline.Median == 0 {
		return 0
	}
	return r.Measured.Median / r.Baseline.Median
}

// Met is the goal's check on the medians; a row with a failed round or no
// measurement is not met.
func (r Result) Met() bool {
	if r.Err != nil || r.Measured.N == 0 || (r.Row.Baseline != "" && r.Baseline.N == 0) {
		return false
	}
	return r.Row.Met == nil || r.Row.Met(r.Measured.Median, r.Baseline.Median)
}

// measure runs fig's rounds and summarises each row. A failed round stops
// the figure (its later rounds would fail the same way) and is reported
// on every row.
func measure(ctx context.Context, env *Env, fig Figure, rounds int, progress func(string)) []Result {
	got := map[string][]float64{}
	var failed error
	for i := range rounds {
		progress(fmt.Sprintf("%s %s: round %d of %d", fig.ID, fig.Name, i+1, rounds))
		v, err := fig.Round(ctx, env)
		if err != nil {
			failed = fmt.Errorf("round %d: %w", i+1, err)
			break
		}
		for k, x := range v {
			got[k] = append(got[k], x)
		}
	}
	out := make([]Result, 0, len(fig.Rows))
	for _, row := range fig.Rows {
		r := Result{Figure: fig, Row: row, Measured: summarise(got[row.Measured]), Err: failed}
		if row.Baseline != "" {
			r.Baseline = summarise(got[row.Baseline])
		}
		if r.Err == nil && (r.Measured.N == 0 || (row.Baseline != "" && r.Baseline.N == 0)) {
			r.Err = fmt.Errorf("the rounds returned no %q", row.Measured+" "+row.Baseline)
		}
		out = append(out, r)
	}
	return out
}
