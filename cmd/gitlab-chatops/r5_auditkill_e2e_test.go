package main

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
)

const (
	r5Rounds  = 20  // kill -9 rounds, each on the store the last one left
	r5Stream  = 400 // signed `status` commands a round may send, each one audit append
	r5Senders = 16  // concurrent senders
)

// TestR5KilledBotNeverCorruptsAudit (issue 15, R5: a killed bot never
// corrupts the audit): 20 rounds on one store, a bbolt file and then the
// replicas' etcd. Each round starts a real serve process on it and
// streams signed `status` commands at it from 16 concurrent senders; each
// command is one audit append. The appends start when the round's first
// status run ends on the agent (its answer is shared by every command
// waiting for it, and given at once to those that follow, so from then on
// appends go on without a pause): serve is kill -9ed 0 to 180 ms after
// that, or, in rounds 10-19, after the round's first answer reached the
// chat (varying by round, so the kill lands at different points among
// the appends). Then, every round: `audit verify` passes; every stored entry decodes whole,
// with its own sequence number and no gap (no partial entry); and every
// status whose answer reached the chat has its entry (the bot audits
// before it answers, so an answer seen is an append committed).
func TestR5KilledBotNeverCorruptsAudit(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	t.Run("bbolt", func(t *testing.T) { testR5(t, newLoadEnv(t)) })
	// The replicas' store: each kill leaves its lease to expire, and
	// every append is a transaction on etcd.
	t.Run("etcd", func(t *testing.T) { testR5(t, newLoadEnvOn(t, etcdtest.Start(t))) })
}

func testR5(t *testing.T, e *loadEnv) {
	answeredSoFar, auditedBefore, midStream := 0, 0, 0
	for round := range r5Rounds {
		tag := fmt.Sprintf("r5x%02d", round)
		runs := e.finishedJobs(t, gitlab.OpMigrateStatus)
		srv := e.startServe(t)
		var acked atomic.Int64
		done := make(chan struct{})
		go func() { defer close(done); e.stream(tag, r5Stream, r5Senders, &acked) }()

		// Rounds 0-9 kill once the first status run ended on the agent
		// (appends begin); rounds 10-19 once the first answer reached the
		// chat (appends have been committed, more follow), so that the
		// answered-means-audited check below is put to the test too.
		started, what := func() bool { return e.finishedJobs(t, gitlab.OpMigrateStatus) > runs }, "status run ended on the agent"
		if round >= r5Rounds/2 {
			started, what = func() bool { n, _ := e.slack.answered(tag, r5Stream); return n > 0 }, "status answer reached the chat"
		}
		deadline := time.Now().Add(time.Minute)
		for !started() {
			if time.Now().After(deadline) {
				t.Fatalf("round %d: no %s within a minute\nserve log:\n%.3000s", round, what, srv.logs.String())
			}
			time.Sleep(time.Millisecond)
		}
		select {
		case <-done:
		case <-time.After(time.Duration(round%10) * 20 * time.Millisecond):
		}
		if err := srv.cmd.Process.Kill(); err != nil { // SIGKILL
			t.Fatal(err)
		}
		_ = srv.cmd.Wait()
		<-done // the rest of the stream is refused: nothing listens any more
		answered, other := e.slack.answered(tag, r5Stream)
		if other != "" {
			t.Fatalf("round %d: a thread got a reply that is no status answer: %.300s", round, other)
		}
		answeredSoFar += answered

		e.verify(t)
		entries := e.auditTrail(t)
		audited := countAction(entries, approvals.ActionReadOnlyRun, gitlab.OpMigrateStatus)
		if audited < answeredSoFar {
			t.Fatalf("round %d: %d status answers reached the chat so far, the audit trail holds only %d status runs", round, answeredSoFar, audited)
		}
		if audited > auditedBefore && int64(audited-auditedBefore) < acked.Load() {
			midStream++ // appends had begun, and acknowledged commands were still to be audited
		}
		t.Logf("round %d: killed after %d acks; %d audited, %d answered this round; trail intact with %d entries",
			round, acked.Load(), audited-auditedBefore, answered, len(entries))
		auditedBefore = audited
	}
	// The point is a kill among appends: if no round's kill came while
	// they went on, the test proved nothing.
	if midStream == 0 {
		t.Fatal("no round was killed among its appends")
	}
	t.Logf("%d of %d rounds killed among their appends", midStream, r5Rounds)
}
