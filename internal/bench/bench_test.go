package main

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
)

// The table of a made-up run: goals met and missed, a row without a
// baseline, a failed figure, each unit's format.
func TestTableGolden(t *testing.T) {
	below := func(limit float64) func(m, b float64) bool { return func(m, _ float64) bool { return m <= limit } }
	fast := Figure{ID: "P3", Name: "status parse", Rows: []Row{{
		What: "parse", Goal: "≤ 1 ms, ≤ 5×", Unit: Millis, Measured: "parse", Baseline: "scan", BaselineWhat: "line count",
		Met: func(m, b float64) bool { return m <= 1 && m <= 5*b },
	}}}
	appends := Figure{ID: "P2", Name: "audit appends", Rows: []Row{{
		What: "64 writers", Goal: "≥ 5,000/s", Unit: PerSecond, Measured: "appends", Baseline: "raw", BaselineWhat: "raw Batch",
		Met: func(m, b float64) bool { return m >= 5000 && m >= 0.7*b },
	}}}
	idle := Figure{ID: "P6", Name: "idle", Rows: []Row{{What: "bot RSS", Goal: "≤ 40 MiB", Unit: MiB, Measured: "rss", Met: below(40)},
		{What: "bot RSS, max", Goal: "—", Unit: MiB, Measured: "max"}}}
	broken := Figure{ID: "P7", Name: "many requests", Rows: []Row{{What: "pending | audit", Goal: "≤ 50 ms", Unit: Millis, Measured: "pending", Met: below(50)}}}
	results := []Result{
		{Figure: appends, Row: appends.Rows[0], Measured: summarise([]float64{9758, 7023, 12510}), Baseline: summarise([]float64{11000, 12000, 13000})},
		{Figure: fast, Row: fast.Rows[0], Measured: summarise([]float64{0.86, 0.6, 0.7}), Baseline: summarise([]float64{0.13, 0.1, 0.12})},
		{Figure: idle, Row: idle.Rows[0], Measured: summarise([]float64{31.25, 30, 33})},
		{Figure: idle, Row: idle.Rows[1], Measured: summarise([]float64{50})},
		{Figure: broken, Row: broken.Rows[0], Err: errors.New("round 1: ./cmd -bench X: exit status 1:\n--- FAIL: | boom")},
	}
	var b bytes.Buffer
	if err := writeTable(&b, results); err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "table", b.Bytes())
}

func TestResultMet(t *testing.T) {
	row := Row{Measured: "m", Baseline: "b", Met: func(m, b float64) bool { return m <= 2*b }}
	for _, tc := range []struct {
		name     string
		r        Result
		met      bool
		ratioIs0 bool
	}{
		{"within", Result{Row: row, Measured: summarise([]float64{3, 1, 2}), Baseline: summarise([]float64{1, 1, 1})}, true, false},
		{"median decides, not max", Result{Row: row, Measured: summarise([]float64{1, 2, 9}), Baseline: summarise([]float64{1})}, true, false},
		{"missed", Result{Row: row, Measured: summarise([]float64{3, 3, 3}), Baseline: summarise([]float64{1})}, false, false},
		{"no baseline measured", Result{Row: row, Measured: summarise([]float64{1})}, false, true},
		{"failed round", Result{Row: row, Measured: summarise([]float64{1}), Baseline: summarise([]float64{1}), Err: errors.New("x")}, false, false},
		{"nothing measured", Result{Row: row}, false, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.r.Met(); got != tc.met {
				t.Errorf("Met() = %v, want %v", got, tc.met)
			}
			if got := tc.r.Ratio(); (got == 0) != tc.ratioIs0 {
				t.Errorf("Ratio() = %v", got)
			}
		})
	}
}

func TestSummarise(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want Stats
	}{
		{[]float64{3, 1, 2}, Stats{N: 3, Min: 1, Median: 2, Max: 3}},
		{[]float64{4, 1, 2, 3}, Stats{N: 4, Min: 1, Median: 2.5, Max: 4}},
		{[]float64{5}, Stats{N: 1, Min: 5, Median: 5, Max: 5}},
		{nil, Stats{}},
	} {
		if got := summarise(tc.in); got != tc.want {
			t.Errorf("summarise(%v) = %+v, want %+v", tc.in, got, tc.want)
		}
	}
}

// measure runs the rounds asked for; a failing round stops the figure and
// marks every row of it, and leaves the goal unmet.
func TestMeasure(t *testing.T) {
	calls := 0
	fig := Figure{ID: "PX", Name: "x",
		Round: func(context.Context, *Env) (Values, error) {
			calls++
			if calls == 3 {
				return nil, errors.New("agent died")
			}
			return Values{"m": float64(calls), "b": 1}, nil
		},
		Rows: []Row{
			{Measured: "m", Baseline: "b", Met: func(m, b float64) bool { return true }},
			{Measured: "m", Met: func(m, b float64) bool { return true }},
		},
	}
	got := measure(context.Background(), nil, fig, 2, func(string) {})
	if calls != 2 || len(got) != 2 || got[0].Measured != (Stats{N: 2, Min: 1, Median: 1.5, Max: 2}) || !got[0].Met() || !got[1].Met() {
		t.Fatalf("2 good rounds: calls %d, results %+v", calls, got)
	}
	calls = 0
	got = measure(context.Background(), nil, fig, 5, func(string) {})
	if calls != 3 {
		t.Errorf("rounds after a failed one ran: %d calls", calls)
	}
	for _, r := range got {
		if r.Met() || r.Err == nil || !strings.Contains(r.Err.Error(), "round 3: agent died") {
			t.Errorf("after a failed round: met %v, err %v", r.Met(), r.Err)
		}
	}
	// A round that omits a row's key fails that row, not silently.
	missing := fig
	missing.Round = func(context.Context, *Env) (Values, error) { return Values{"b": 1}, nil }
	if r := measure(context.Background(), nil, missing, 1, func(string) {})[0]; r.Met() || r.Err == nil {
		t.Errorf("a missing value counted as met: %+v", r)
	}
}

func TestParseBench(t *testing.T) {
	out := []byte(`goos: linux
goarch: amd64
pkg: github.com/gitlab-chatops/gitlab-chatops/gitlab
BenchmarkParseMigrateStatusLarge-2   	    1401	    858123 ns/op	 189.51 MB/s	  362508 B/op	       5 allocs/op
BenchmarkScanLinesLarge   	    9000	    130000 ns/op
BenchmarkAckUnderLoad-2   	       1	  5000000 ns/op	         4.500 bare-p99-ms	         1.20 p99-ratio
    ackload_bench_test.go:139: BenchmarkNotAResult 1 2 ns/op
PASS
`)
	want := Values{
		"ParseMigrateStatusLarge ns/op": 858123, "ParseMigrateStatusLarge MB/s": 189.51,
		"ParseMigrateStatusLarge B/op": 362508, "ParseMigrateStatusLarge allocs/op": 5,
		"ScanLinesLarge ns/op": 130000,
		"AckUnderLoad ns/op":   5000000, "AckUnderLoad bare-p99-ms": 4.5, "AckUnderLoad p99-ratio": 1.2,
	}
	got := parseBench(out)
	if len(got) != len(want) {
		t.Errorf("got %d values, want %d: %v", len(got), len(want), got)
	}
	for k, x := range want {
		if got[k] != x {
			t.Errorf("%s = %v, want %v", k, got[k], x)
		}
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-rounds", "0"}, "want 1 to 5"},
		{[]string{"-rounds", "6"}, "want 1 to 5"},
		{[]string{"-only", "("}, "not a regular expression"},
		{[]string{"-only", "P99"}, "matches no figure"},
		{[]string{"P3"}, "unexpected argument"},
	} {
		var out, errOut bytes.Buffer
		if code := run(context.Background(), tc.args, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), tc.want) || out.Len() != 0 {
			t.Errorf("%v: exit %d, stderr %q, stdout %q; want 2 and %q", tc.args, code, errOut.String(), out.String(), tc.want)
		}
	}
}

func TestThousands(t *testing.T) {
	for x, want := range map[float64]string{0: "0", 999: "999", 1000: "1,000", 12510.4: "12,510", 1234567: "1,234,567", -5000: "-5,000"} {
		if got := thousands(x); got != want {
			t.Errorf("thousands(%v) = %q, want %q", x, got, want)
		}
	}
}

// GoBench compiles a package's test binary once and runs its benchmarks
// in the package's directory (the fixture is read from there), returning
// their metrics; a pattern matching nothing is an error, not an empty
// round.
func TestGoBenchRunsARealBenchmark(t *testing.T) {
	root, err := moduleRoot()
	if err != nil {
		t.Fatal(err)
	}
	env := newEnv(root, t.TempDir())
	ctx := context.Background()
	v, err := env.GoBench(ctx, "./gitlab", "^BenchmarkScanLinesLarge$", "1x")
	if err != nil {
		t.Fatal(err)
	}
	if v["ScanLinesLarge ns/op"] <= 0 || v["ScanLinesLarge allocs/op"] < 0 {
		t.Errorf("metrics %v: want ScanLinesLarge ns/op", v)
	}
	if _, err := env.GoBench(ctx, "./gitlab", "^BenchmarkNoSuchThing$", "1x"); err == nil || !strings.Contains(err.Error(), "matched no benchmark") {
		t.Errorf("a pattern matching nothing: %v", err)
	}
	if len(env.bins) != 1 {
		t.Errorf("compiled %d test binaries for one package", len(env.bins))
	}
	if _, err := env.GoBench(ctx, "./nosuchpackage", ".", "1x"); err == nil || !strings.Contains(err.Error(), "go test -c ./nosuchpackage") {
		t.Errorf("a missing package: %v", err)
	}
}
