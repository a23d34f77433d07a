package commands_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// BenchmarkStatusOverhead (issue 15, P5): what the bot and the agent add
// to a `status`. Each iteration, one after the other: the simulator's
// `gitlab-rake db:migrate:status` run directly (the same program,
// arguments, environment and state as the agent runs it: the baseline),
// then `status` typed to the router, answered through the real agent
// (mutual TLS on 127.0.0.1), the output parsed and rendered, until the
// status is posted in its thread (a recording chat). Identical read-only
// commands within 3 s of an answer share it (the router's flights, on the
// wall clock): each iteration waits that out, untimed, so that every
// status through the bot is a run on the agent (an answer "shared with an
// identical request" fails the benchmark). Reported: the medians, and
// their difference (goal: at most 50 ms added), and, to see where the
// time goes, the same status through the agent alone (its client, as the
// bot calls it, without router, store or chat). An iteration takes about
// 3.5 s, so a few are enough:
//
//	go test -run '^$' -bench StatusOverhead -benchtime 5x ./commands/
func BenchmarkStatusOverhead(b *testing.B) {
	s := simtest.Start(b, simtest.Options{})
	rec := newRecorder()
	s.Router.Register(rec)
	s.Run(b)
	ctx := context.Background()

	direct := func() time.Duration {
		cmd, err := s.SimCommand(ctx, gitlab.OpMigrateStatus, gitlab.Args{})
		if err != nil {
			b.Fatal(err)
		}
		start := time.Now()
		out, err := cmd.Output()
		took := time.Since(start)
		if err != nil || !strings.Contains(string(out), "Migration ID") {
			b.Fatalf("the simulator's status, run directly: %v: %.300s", err, out)
		}
		return took
	}
	// The agent alone, as the bot's client calls it (mutual TLS, the job
	// and its output streamed back): where the added time goes.
	viaAgent := func() time.Duration {
		start := time.Now()
		lines := 0
		rec, err := s.Client.Run(ctx, agent.RunRequest{Operation: gitlab.OpMigrateStatus, Requester: "test:U-alice"}, func(e agent.Event) error {
			if e.Type == agent.EventLine {
				lines++
			}
			return nil
		})
		took := time.Since(start)
		if err != nil || rec.State != agent.StateSucceeded || lines == 0 {
			b.Fatalf("status through the agent alone: %v (state %s, %d lines)", err, rec.State, lines)
		}
		return took
	}
	var answered time.Time
	viaBot := func() time.Duration {
		b.StopTimer()
		time.Sleep(time.Until(answered.Add(noReuse)))
		b.StartTimer()
		before := len(rec.roots())
		start := time.Now()
		err := handle(ctx, s.Router, rec, bot.Command{Platform: rec.Platform(), User: alice, Channel: "C1", Text: "status"})
		s.Router.Wait()
		took := time.Since(start)
		answered = time.Now()
		roots := rec.roots()
		if err != nil || len(roots) != before+1 {
			b.Fatalf("status through the bot: %v (%d root posts, want %d)", err, len(roots), before+1)
		}
		th := strings.Join(rec.thread(roots[len(roots)-1]), "\n")
		if !strings.Contains(th, "48 up, 6 down") {
			b.Fatalf("status through the bot did not answer with the status:\n%s", th)
		}
		if strings.Contains(th, "shared with") {
			b.Fatalf("status through the bot reused an earlier answer instead of running:\n%s", th)
		}
		return took
	}
	// Warm-up: connections, the page cache, the router's first run.
	direct()
	viaAgent()
	viaBot()

	var directs, agents, bots []time.Duration
	for b.Loop() {
		directs = append(directs, direct())
		agents = append(agents, viaAgent())
		bots = append(bots, viaBot())
	}
	mDirect, mBot := medianOf(directs), medianOf(bots)
	b.ReportMetric(mDirect.Seconds()*1000, "direct-ms")
	b.ReportMetric(medianOf(agents).Seconds()*1000, "agent-ms")
	b.ReportMetric(mBot.Seconds()*1000, "bot-ms")
	b.ReportMetric((mBot-mDirect).Seconds()*1000, "added-ms")
}

// noReuse is more than the router's reuse window for read-only answers
// (readOnlyReuse, 3 s).
const noReuse = 3200 * time.Millisecond

// medianOf is the median of a non-empty list.
func medianOf(xs []time.Duration) time.Duration {
	s := slices.Clone(xs)
	slices.Sort(s)
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}
