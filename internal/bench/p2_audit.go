package main

import "context"

// p2: audit appends through the store's Append under 64 writers against
// raw bbolt Batch puts of the same stored bytes under the same key
// scheme, also 64 writers. Both are the storage package's benchmarks
// (storage/bench_test.go), run in one process per round, each on its own
// fresh bbolt file.
func p2() Figure {
	return Figure{
		ID: "P2", Name: "audit appends",
		Round: func(ctx context.Context, env *Env) (Values, error) {
			v, err := env.GoBench(ctx, "./storage", "^Benchmark(AuditAppend64|RawBatchPut64)$", "2s")
			if err != nil {
				return nil, err
			}
			return Values{"append": v["AuditAppend64 appends/s"], "raw": v["RawBatchPut64 appends/s"]}, nil
		},
		Rows: []Row{{
			What: "`storage.DB.Append`, 64 writers, bbolt file", Goal: "≥ 5,000/s and ≥ 0.7×", Unit: PerSecond,
			Measured: "append", Baseline: "raw", BaselineWhat: "raw bbolt `Batch` puts of the same bytes, 64 writers",
			Met: func(m, b float64) bool { return m >= 5000 && m >= 0.7*b },
		}},
	}
}
