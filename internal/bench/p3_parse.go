package main

import "context"

// p3: the status parser on the 3000-row fixture against a bufio.Scanner
// line count of the same bytes. Both are the gitlab package's benchmarks
// (gitlab/bench_test.go), run in one process per round.
func p3() Figure {
	return Figure{
		ID: "P3", Name: "status parse",
		Round: func(ctx context.Context, env *Env) (Values, error) {
			v, err := env.GoBench(ctx, "./gitlab", "^Benchmark(ParseMigrateStatusLarge|ScanLinesLarge)$", "1s")
			if err != nil {
				return nil, err
			}
			return Values{
				"parse": v["ParseMigrateStatusLarge ns/op"] / 1e6,
				"scan":  v["ScanLinesLarge ns/op"] / 1e6,
			}, nil
		},
		Rows: []Row{{
			What: "`gitlab.ParseMigrateStatus`, 3000-row fixture, per parse", Goal: "≤ 1 ms, ≤ 5×", Unit: Millis,
			Measured: "parse", Baseline: "scan", BaselineWhat: "`bufio.Scanner` line count",
			Met: func(m, b float64) bool { return m <= 1 && m <= 5*b },
		}},
	}
}
