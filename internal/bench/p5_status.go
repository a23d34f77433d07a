package main

import "context"

// p5: what the bot and the agent add to a `status`: typed to the router,
// run on a real agent over mutual TLS, parsed, rendered and posted,
// against the same simulator command run directly. It is
// BenchmarkStatusOverhead (commands/statusoverhead_bench_test.go): three
// statuses per round, each through the bot after the direct run, none
// reusing an earlier answer; and the agent alone (its client, as the bot
// calls it), to show which of the two adds the time.
func p5() Figure {
	return Figure{
		ID: "P5", Name: "status overhead",
		Round: func(ctx context.Context, env *Env) (Values, error) {
			v, err := env.GoBench(ctx, "./commands", "^BenchmarkStatusOverhead$", "3x")
			if err != nil {
				return nil, err
			}
			return Values{"bot": v["StatusOverhead bot-ms"], "direct": v["StatusOverhead direct-ms"], "added": v["StatusOverhead added-ms"],
				"agent": v["StatusOverhead agent-ms"]}, nil
		},
		Rows: []Row{
			{What: "`status` end to end through bot and agent, until posted", Goal: "≤ 50 ms added", Unit: Millis,
				Measured: "bot", Baseline: "direct", BaselineWhat: "the simulator's `gitlab-rake db:migrate:status` run directly",
				Met: func(m, b float64) bool { return m-b <= 50 }},
			{What: "added by bot and agent (each round's median difference)", Goal: "≤ 50 ms", Unit: Millis,
				Measured: "added", Met: func(m, _ float64) bool { return m <= 50 }},
			{What: "the same status through the agent alone (its client as the bot calls it)", Goal: "—", Unit: Millis,
				Measured: "agent", Baseline: "direct", BaselineWhat: "run directly"},
		},
	}
}
