package main

import "context"

// p6: the idle memory of the bot and the agent, the bot's start on a store
// of 1,000,000 audit entries, and `audit verify` of that store against
// sha256sum of the same file. Both are benchmarks of cmd/gitlab-chatops
// that run the real binaries, each on a store of 1,000,000 typical entries
// it generates: BenchmarkServeStart1M (idle_bench_test.go: `serve` with a
// real agent process; exec to the first 200 from /readyz, then VmRSS of
// both after 3 s idle) and BenchmarkAuditVerify1M (verify_bench_test.go:
// entries/s and peak RSS of `audit verify`, then sha256sum of the store).
func p6() Figure {
	below := func(limit float64) func(m, b float64) bool { return func(m, _ float64) bool { return m <= limit } }
	return Figure{
		ID: "P6", Name: "idle and start",
		Round: func(ctx context.Context, env *Env) (Values, error) {
			v, err := env.GoBench(ctx, "./cmd/gitlab-chatops", "^Benchmark(ServeStart1M|AuditVerify1M)$", "1x", "AUDIT_BENCH_NO_TARGET=1")
			if err != nil {
				return nil, err
			}
			return Values{
				"bot-rss":      v["ServeStart1M bot-idle-RSS-MiB"],
				"bot-rss-file": v["ServeStart1M bot-idle-RssFile-MiB"],
				"agent-rss":    v["ServeStart1M agent-idle-RSS-MiB"],
				"start":        v["ServeStart1M start-ms"],
				"rate":         v["AuditVerify1M entries/s"],
				"verify":       v["AuditVerify1M verify-s"],
				"sha256sum":    v["AuditVerify1M sha256sum-s"],
				"verify-rss":   v["AuditVerify1M peak-RSS-MiB"],
			}, nil
		},
		Rows: []Row{
			{What: "bot (`serve`, Mattermost, one host) idle RSS", Goal: "≤ 40 MiB", Unit: MiB, Measured: "bot-rss", Met: below(40)},
			{What: "of which mapped files (binary, store)", Goal: "—", Unit: MiB, Measured: "bot-rss-file"},
			{What: "agent idle RSS", Goal: "≤ 20 MiB", Unit: MiB, Measured: "agent-rss", Met: below(20)},
			{What: "bot start to ready (/readyz 200), 1,000,000 audit entries", Goal: "≤ 300 ms", Unit: Millis, Measured: "start", Met: below(300)},
			{What: "`audit verify`, 1,000,000 entries", Goal: "≥ 200,000/s", Unit: PerSecond, Measured: "rate", Met: func(m, _ float64) bool { return m >= 200_000 }},
			{What: "`audit verify`, wall time", Goal: "≤ 1.5× baseline", Unit: Seconds, Measured: "verify", Baseline: "sha256sum",
				BaselineWhat: "`sha256sum` of the same file", Met: func(m, b float64) bool { return m <= 1.5*b }},
			{What: "`audit verify`, peak RSS", Goal: "≤ 64 MiB", Unit: MiB, Measured: "verify-rss", Met: below(64)},
		},
	}
}
