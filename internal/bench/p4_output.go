package main

import (
	"context"
	"math"
)

// p4: 1 GiB of output through a real agent (mutual TLS) and the bot's job
// follower, against the same gigabyte read by a bare agent client. Both
// are existing benchmarks, which hold the measuring code:
// BenchmarkStallingChat (commands/stall_bench_test.go) follows 100,000
// paced lines through a chat whose edit takes 1 s and through an instant
// one, then 1 GiB (200-byte lines) through the 1 s chat in a bot process
// of its own whose peak RSS (VmHWM) it reports; BenchmarkStream1GiB
// (agent/bench_test.go) streams 1 GiB of 200-byte lines from a real agent
// process to a client that only counts the lines and checks the digest.
// Both verify the digest of what they read, so a round that counts read
// every byte.
func p4() Figure {
	return Figure{
		ID: "P4", Name: "output",
		Round: func(ctx context.Context, env *Env) (Values, error) {
			bare, err := env.GoBench(ctx, "./agent", "^BenchmarkStream1GiB$", "1x")
			if err != nil {
				return nil, err
			}
			v, err := env.GoBench(ctx, "./commands", "^BenchmarkStallingChat$", "1x", "STALL_BENCH_NO_TARGET=1")
			if err != nil {
				return nil, err
			}
			return Values{
				"gib-bot":      v["StallingChat GiB-s"],
				"gib-bare":     bare["Stream1GiB ns/op"] / 1e9,
				"bot-rss":      v["StallingChat bot-peak-RSS-MiB"],
				"agent-rss":    bare["Stream1GiB agent-peak-RSS-MiB"],
				"updates":      updatesPerSecond(v["StallingChat min-edit-gap-s"], v["StallingChat GiB-min-edit-gap-s"]),
				"slow-100k":    v["StallingChat slow-chat-s"],
				"instant-100k": v["StallingChat instant-chat-s"],
				"reattaches":   v["StallingChat reattaches"] + v["StallingChat GiB-reattaches"],
			}, nil
		},
		Rows: []Row{
			{What: "1 GiB (200-byte lines) through agent and bot, 1 s/update chat: bot peak RSS", Goal: "≤ 64 MiB", Unit: MiB,
				Measured: "bot-rss", Met: func(m, _ float64) bool { return m <= 64 }},
			{What: "the same: wall time", Goal: "≤ 1.2× baseline", Unit: Seconds, Measured: "gib-bot", Baseline: "gib-bare",
				BaselineWhat: "1 GiB from the agent process to a bare client (digest checked)", Met: func(m, b float64) bool { return m <= 1.2*b }},
			{What: "chat updates per second per thread, most frequent (1 s/update chat: 100k lines and 1 GiB)", Goal: "≤ 1/s", Unit: PerSecondRate,
				Measured: "updates", Met: func(m, _ float64) bool { return m <= 1 }},
			{What: "100,000 paced lines through the bot, 1 s/update chat: wall time", Goal: "≤ 1.2× baseline", Unit: Seconds,
				Measured: "slow-100k", Baseline: "instant-100k", BaselineWhat: "the same through an instant chat", Met: func(m, b float64) bool { return m <= 1.2*b }},
			{What: "re-attaches (the agent dropped a reader that fell behind)", Goal: "—", Unit: Count, Measured: "reattaches"},
			{What: "agent peak RSS streaming 1 GiB", Goal: "—", Unit: MiB, Measured: "agent-rss"},
		},
	}
}

// updatesPerSecond is the highest edit rate of a thread: one over the
// shortest gap between the starts of two edits (0 without two edits).
func updatesPerSecond(gaps ...float64) float64 {
	shortest := math.Inf(1)
	for _, g := range gaps {
		if g > 0 {
			shortest = min(shortest, g)
		}
	}
	if math.IsInf(shortest, 1) {
		return 0
	}
	return 1 / shortest
}
