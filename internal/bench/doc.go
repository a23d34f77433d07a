// Command bench runs the performance figures of docs/PERFORMANCE.md (issue
// 15: P1 to P7), each against its baseline in the same run, several
// rounds each, and prints one markdown table: figure, goal, min / median /
// max, baseline (median), ratio, and whether the goal is met.
//
//	scripts/bench                 # every figure, 3 rounds
//	scripts/bench -rounds 5 -only 'P2|P3'
//
// Each figure is one file (p3_parse.go, ...) that returns a Figure: its
// rows (what is measured, the goal and its check) and a Round function
// that measures everything once, measured values and baselines together,
// so that a round's baseline shares the machine's state with its
// measurement. Where a Go benchmark already measures a figure, the round
// runs that benchmark (goBench): the benchmark stays the one place the
// measuring code lives, and `go test -bench` and this runner agree.
//
// The runner judges each goal on the medians over rounds; a round that
// fails (an error, a benchmark that failed) marks its figure's rows with
// the error and the goal as not met, and the other figures still run. It
// exits 1 if any goal is missed, 2 on bad usage.
package main
