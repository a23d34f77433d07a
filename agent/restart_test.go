package agent

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

func TestReattachAcrossAgentRestart(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{
		"db:migrate:status": {Lines: []fakeLine{
			{"stdout", ""}, {"stdout", "database: gitlabhq_production"}, {"stderr", "warning: something"},
			{"stdout", "   up     20250610142207  Add creation state to ci runners"},
			{"stdout", "  down    20250611093054  Create project compliance violations"},
		}},
		"db:migrate": {Mode: "count", N: 400, Interval: "10ms"},
		"status":     {Mode: "sleep"},
	})
	stateDir := t.TempDir()
	configPath := writeAgentConfig(t, fake, certs, stateDir, "")
	a := startAgentProc(t, configPath, certs)
	c := botClient(t, a.url, certs)
	ctx := testCtx(t)

	// 1. A finished job.
	done, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus, RequestID: "r-1", Requester: "alice"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if done.State != StateSucceeded || done.Lines != 5 {
		t.Fatalf("first job: %+v", done)
	}

	// 2. Drop the stream of a running job, re-attach from the next line.
	col := newCollector()
	streamCtx, dropStream := context.WithCancel(ctx)
	first := runAsync(streamCtx, c, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "r-2"}), col)
	id := col.waitJobID(t)
	col.waitSeq(t, 50)
	// A second client attaches from the start while the job runs; its
	// Attach verifies the digest of everything it saw.
	fullDone := make(chan runResult, 1)
	go func() {
		rec, err := c.Attach(ctx, id, 1, nil)
		fullDone <- runResult{rec, err}
	}()
	dropStream()
	r := waitResult(t, first)
	var se *StreamError
	if !errors.As(r.err, &se) || se.JobID != id || se.LastSeq < 50 {
		t.Fatalf("dropped stream: want *StreamError for %s after line 50, got %v", id, r.err)
	}
	col2 := newCollector()
	rec, err := c.Attach(ctx, id, se.LastSeq+1, col2.on)
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != StateSucceeded || rec.Lines != 400 {
		t.Fatalf("re-attached job: state %s, %d lines", rec.State, rec.Lines)
	}
	var before []Line
	for _, l := range col.lineEvents() {
		if l.Seq <= se.LastSeq {
			before = append(before, l)
		}
	}
	after := col2.lineEvents()
	if len(after) == 0 || after[0].Seq != se.LastSeq+1 {
		t.Fatalf("re-attach from %d started at %v", se.LastSeq+1, after)
	}
	all := append(before, after...)
	for i, l := range all {
		if l.Seq != int64(i+1) {
			t.Fatalf("line %d has seq %d: a gap or a duplicate across the re-attach", i+1, l.Seq)
		}
	}
	if got := DigestLines(all); got != rec.Digest {
		t.Errorf("digest across the re-attach %s, agent %s", got, rec.Digest)
	}
	if fr := waitResult(t, fullDone); fr.err != nil || fr.rec.Digest != rec.Digest {
		t.Errorf("attach from 1 during the run: %v (digest %s)", fr.err, fr.rec.Digest)
	}

	// 3. A job running when the agent is killed.
	col3 := newCollector()
	running := runAsync(ctx, c, RunRequest{Operation: gitlab.OpServices, RequestID: "r-3"}, col3)
	runningID := col3.waitJobID(t)
	pid := pidFromLine(t, col3.waitLine(t, "pid "))
	time.Sleep(700 * time.Millisecond) // not needed for correctness: lets a periodic record save happen too
	a.kill(t)
	if r := waitResult(t, running); !errors.As(r.err, &se) || se.JobID != runningID {
		t.Errorf("stream of a job whose agent died: want *StreamError, got %v", r.err)
	}
	waitGone(t, pid, "job of a killed agent (Pdeathsig)")

	// 4. After a restart: records and streams survive; the running job is
	// interrupted.
	b := startAgentProc(t, configPath, certs)
	c = botClient(t, b.url, certs)
	for _, want := range []JobRecord{done, rec} {
		got, err := c.Job(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != want.State || got.Digest != want.Digest || got.Lines != want.Lines || got.RequestID != want.RequestID {
			t.Errorf("job %s after restart: %s %s %d, want %s %s %d", want.ID, got.State, got.Digest, got.Lines,
				want.State, want.Digest, want.Lines)
		}
		col := newCollector()
		replayed, err := c.Attach(ctx, want.ID, 1, col.on) // verifies the digest
		if err != nil {
			t.Fatal(err)
		}
		if int64(len(col.lineEvents())) != want.Lines || replayed.Digest != want.Digest {
			t.Errorf("replay of %s after restart: %d lines", want.ID, len(col.lineEvents()))
		}
	}
	gotDone, _ := c.Job(ctx, done.ID)
	if texts(gotDone.Head) != texts(done.Head) {
		t.Errorf("head differs after restart:\n%s\n%s", texts(gotDone.Head), texts(done.Head))
	}

	intr, err := c.Job(ctx, runningID)
	if err != nil {
		t.Fatal(err)
	}
	if intr.State != StateInterrupted || !strings.Contains(intr.Error, "agent stopped") || intr.Ended.IsZero() {
		t.Errorf("job running at the kill: state %s error %q ended %v", intr.State, intr.Error, intr.Ended)
	}
	col4 := newCollector()
	replayed, err := c.Attach(ctx, runningID, 1, col4.on)
	if err != nil {
		t.Fatal(err)
	}
	if replayed.State != StateInterrupted || len(col4.lineEvents()) == 0 || !strings.HasPrefix(col4.lineEvents()[0].Text, "pid ") {
		t.Errorf("attach to the interrupted job: %s, lines %v", replayed.State, col4.lineEvents())
	}

	// The agent accepts new work after the restart.
	if rec, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus}, nil); err != nil || rec.State != StateSucceeded {
		t.Errorf("job after restart: %v %+v", err, rec)
	}
	if h, err := c.Health(ctx); err != nil || len(h.Running) != 0 {
		t.Errorf("health after restart: %v %+v", err, h)
	}
}

func texts(lines []Line) string {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l.Stream + ":" + l.Text + "\n")
	}
	return b.String()
}

func TestAgentProcessGracefulStop(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"db:migrate": {Mode: "sleep"}})
	configPath := writeAgentConfig(t, fake, certs, t.TempDir(), "")
	a := startAgentProc(t, configPath, certs)
	c := botClient(t, a.url, certs)
	ctx := testCtx(t)

	col := newCollector()
	running := runAsync(ctx, c, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate}), col)
	col.waitJobID(t)
	pid := pidFromLine(t, col.waitLine(t, "pid "))
	a.signal(syscall.SIGTERM)
	r := waitResult(t, running)
	if r.err != nil {
		t.Fatalf("SIGTERM: the stream should end with the interrupted record, got %v", r.err)
	}
	if r.rec.State != StateInterrupted {
		t.Errorf("state %s, want interrupted", r.rec.State)
	}
	waitGone(t, pid, "job of a stopped agent")
	select {
	case <-a.exited:
		if code := a.cmd.ProcessState.ExitCode(); code != 0 {
			t.Errorf("agent exit code %d after SIGTERM", code)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("agent did not exit after SIGTERM")
	}
}
