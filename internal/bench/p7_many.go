package main

import "context"

// p7: a bot whose bbolt store holds 1,000 pending and 10,000 finished
// requests answering `pending` and `audit 50` through the router, and its
// expiry sweep with nothing due (its steady cost). It is
// BenchmarkManyRequests (commands/many_bench_test.go), which holds the
// measuring code and checks each answer (1,000 requests listed, 50
// entries); each round is the median of its 20 iterations.
func p7() Figure {
	under50 := func(m, _ float64) bool { return m <= 50 }
	return Figure{
		ID: "P7", Name: "many requests",
		Round: func(ctx context.Context, env *Env) (Values, error) {
			v, err := env.GoBench(ctx, "./commands", "^BenchmarkManyRequests$", "20x")
			if err != nil {
				return nil, err
			}
			return Values{"pending": v["ManyRequests pending-ms"], "audit": v["ManyRequests audit50-ms"], "sweep": v["ManyRequests sweep-ms"]}, nil
		},
		Rows: []Row{
			{What: "`pending` with 1,000 pending + 10,000 finished requests", Goal: "≤ 50 ms", Unit: Millis, Measured: "pending", Met: under50},
			{What: "`audit 50`, the same store (33,000 entries)", Goal: "≤ 50 ms", Unit: Millis, Measured: "audit", Met: under50},
			{What: "expiry sweep, the same store, nothing due", Goal: "≤ 50 ms", Unit: Millis, Measured: "sweep", Met: under50},
		},
	}
}
