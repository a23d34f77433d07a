package main

import "context"

// p1: the ack latency of 200 concurrent clients sending Slack-signed
// `status` commands to a real serve on loopback, with a fast agent and
// with a slow one (about 4 s per status: the ack must not wait for it),
// against a bare net/http handler that only verifies the same signature.
// It is BenchmarkAckUnderLoad (cmd/gitlab-chatops/ackload_bench_test.go),
// which holds the measuring code: one of its rounds per round here (a
// serve round between two bare ones, then a bare and a slow-agent round),
// each target a process of its own. The benchmark fails the round on any
// error, any ack that is not an empty 200, an ERROR in the bot's log, or
// a thread answered with anything but a real status (none "busy"); so
// the rounds that count all passed those checks.
func p1() Figure {
	ratio := func(m, b float64) bool { return m <= 1.5*b }
	const bare = "bare `net/http` handler verifying the signature"
	return Figure{
		ID: "P1", Name: "ack latency",
		Round: func(ctx context.Context, env *Env) (Values, error) {
			v, err := env.GoBench(ctx, "./cmd/gitlab-chatops", "^BenchmarkAckUnderLoad$", "1x",
				"ACK_BENCH_ROUNDS=1", "ACK_BENCH_NO_TARGET=1")
			if err != nil {
				return nil, err
			}
			out := Values{}
			for _, k := range []string{"bare-p50-ms", "bare-p99-ms", "bare-max-ms", "serve-p50-ms", "serve-p99-ms", "serve-max-ms",
				"slow-agent-p50-ms", "slow-agent-p99-ms", "slow-agent-max-ms"} {
				if x, ok := v["AckUnderLoad "+k]; ok {
					out[k] = x
				}
			}
			return out, nil
		},
		Rows: []Row{
			{What: "200 clients × 3 signed `status`, serve, p99 (0 errors, every one answered with a status)", Goal: "p99 ≤ 1.5× baseline", Unit: Millis,
				Measured: "serve-p99-ms", Baseline: "bare-p99-ms", BaselineWhat: bare, Met: ratio},
			{What: "the same, p50", Goal: "—", Unit: Millis, Measured: "serve-p50-ms", Baseline: "bare-p50-ms", BaselineWhat: "bare handler"},
			{What: "the same, max", Goal: "—", Unit: Millis, Measured: "serve-max-ms", Baseline: "bare-max-ms", BaselineWhat: "bare handler"},
			{What: "the same with a slow agent (4 s per status), p99", Goal: "p99 ≤ 1.5× baseline", Unit: Millis,
				Measured: "slow-agent-p99-ms", Baseline: "bare-p99-ms", BaselineWhat: bare, Met: ratio},
			{What: "slow agent, p50", Goal: "—", Unit: Millis, Measured: "slow-agent-p50-ms", Baseline: "bare-p50-ms", BaselineWhat: "bare handler"},
			{What: "slow agent, max", Goal: "—", Unit: Millis, Measured: "slow-agent-max-ms", Baseline: "bare-max-ms", BaselineWhat: "bare handler"},
		},
	}
}
