package agent

import (
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

func TestBusyLockAndReadOnlyBound(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{
		"db:migrate":        {Mode: "sleep"},                                      // migrate: mutating, slow
		"status":            {Mode: "sleep"},                                      // services: read-only, slow
		"db:migrate:status": {Lines: []fakeLine{{"stdout", "up 1"}}},              // read-only, quick
		"restart":           {Lines: []fakeLine{{"stdout", "ok: run: puma: 1s"}}}, // mutating, quick
	})
	cfg := testConfig(t, fake, certs)
	cfg.MaxReadOnlyJobs = 1
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	migCol := newCollector()
	migDone := runAsync(ctx, c, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-1", Requester: "alice", Approvers: []string{"bob"}}), migCol)
	migID := migCol.waitJobID(t)
	migCol.waitLine(t, "pid ")

	// A second mutating job is refused, naming the one that runs.
	_, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpRestart, RequestID: "req-2", Requester: "carol"}), nil)
	var be *BusyError
	if !errors.As(err, &be) {
		t.Fatalf("second mutating job: want *BusyError, got %v", err)
	}
	if be.Running.ID != migID || be.Running.Operation != gitlab.OpMigrate || be.Running.RequestID != "req-1" {
		t.Errorf("busy names %+v, want the migrate job %s", be.Running, migID)
	}
	for _, want := range []string{"busy: migrate job " + migID, "request req-1", "by alice", "running since"} {
		if !strings.Contains(be.Message, want) {
			t.Errorf("busy message %q lacks %q", be.Message, want)
		}
	}

	// A read-only job runs meanwhile.
	svcCol := newCollector()
	svcDone := runAsync(ctx, c, RunRequest{Operation: gitlab.OpServices}, svcCol)
	svcID := svcCol.waitJobID(t)
	svcCol.waitLine(t, "pid ")

	// ... up to max_read_only_jobs: one more is 429.
	_, err = c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus}, nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusTooManyRequests {
		t.Fatalf("read-only job over the bound: want 429, got %v", err)
	}
	if !strings.Contains(ae.Message, "max_read_only_jobs") {
		t.Errorf("429 message does not name the setting: %q", ae.Message)
	}

	h, err := c.Health(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Running) != 2 {
		t.Errorf("health lists %d running jobs, want 2", len(h.Running))
	}

	// Silence yields heartbeats.
	deadline := time.Now().Add(60 * time.Second)
	for !hasHeartbeat(migCol) {
		if time.Now().After(deadline) {
			t.Fatal("no heartbeat on a silent stream within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}

	for _, id := range []string{migID, svcID} {
		if _, err := c.Cancel(ctx, id, CancelRequest{Requester: "alice"}); err != nil {
			t.Fatal(err)
		}
	}
	for _, ch := range []<-chan runResult{migDone, svcDone} {
		r := waitResult(t, ch)
		if r.err != nil {
			t.Fatal(r.err)
		}
		if r.rec.State != StateCancelled {
			t.Errorf("job %s: state %s, want cancelled", r.rec.ID, r.rec.State)
		}
	}

	// The slots are free again.
	rec, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpRestart, Args: gitlab.Args{Service: "puma"}}), nil)
	if err != nil || rec.State != StateSucceeded {
		t.Fatalf("mutating job after the lock was released: %v %+v", err, rec)
	}
	if !slices.Equal(rec.Argv, []string{cfg.Ctl.Path, "restart", "puma"}) {
		t.Errorf("argv = %q", rec.Argv)
	}
	rec, err = c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus}, nil)
	if err != nil || rec.State != StateSucceeded {
		t.Fatalf("read-only job after the bound was released: %v %+v", err, rec)
	}
}

func hasHeartbeat(c *collector) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, ev := range c.events {
		if ev.Type == EventHeartbeat {
			return true
		}
	}
	return false
}

func TestTimeoutKillsProcessGroup(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{
		"db:migrate": {Mode: "grandchild"},
		"restart":    {Mode: "ignoreterm"},
	})
	cfg := testConfig(t, fake, certs)
	cfg.Timeouts = map[string]time.Duration{gitlab.OpMigrate: 2 * time.Second, gitlab.OpRestart: 2 * time.Second}
	cfg.KillGrace = time.Second
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	t.Run("grandchild", func(t *testing.T) {
		col := newCollector()
		rec, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate}), col.on)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != StateTimedOut || rec.ExitCode != nil || !strings.Contains(rec.Error, "timed out after 2s") {
			t.Errorf("record: state %s exit %v error %q", rec.State, rec.ExitCode, rec.Error)
		}
		var pids []int
		for _, l := range col.lineEvents() {
			if strings.HasPrefix(l.Text, "pid ") || strings.HasPrefix(l.Text, "grandchild ") {
				pids = append(pids, pidFromLine(t, l))
			}
		}
		if len(pids) != 2 {
			t.Fatalf("want the child's and grandchild's pids, got lines %+v", col.lineEvents())
		}
		waitGone(t, pids[0], "child")
		waitGone(t, pids[1], "grandchild")
	})

	t.Run("SIGTERM ignored", func(t *testing.T) {
		col := newCollector()
		rec, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpRestart}), col.on)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != StateTimedOut {
			t.Errorf("state %s, want timed_out", rec.State)
		}
		pid := pidFromLine(t, col.lineEvents()[0])
		waitGone(t, pid, "SIGTERM-ignoring child")
	})
}

func TestSeparateStreamsAndDigest(t *testing.T) {
	certs := testCerts(t)
	long := strings.Repeat("x", 2*MaxLineBytes+100)
	script := []fakeLine{
		{"stdout", "main: == 20250610142207 AddCreationStateToCiRunners: migrating ====="},
		{"stderr", "rake aborted!"},
		{"stdout", "main: -- add_column(:ci_runners, :creation_state, :smallint)"},
		{"stderr", "StandardError: An error has occurred, all later migrations canceled:"},
		{"stdout", ""},
		{"stderr", "\tsudo gitlab-rake gitlab:background_migrations:finalize[A,b,c,'[[\"id\"]\\,[\"x\"]]']"},
		{"stdout", "ünïcødé ✓ <&> \u2028"},
		{"stdout", long},
		{"stderr", "Tasks: TOP => db:migrate"},
	}
	fake := fakeGitLab(t, map[string]fakeBehavior{
		"db:migrate": {Lines: script, Exit: 1},
		"*":          {Mode: "raw", Lines: []fakeLine{{"stdout", "first\nno newline at end"}}},
	})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	col := newCollector()
	rec, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate}), col.on) // Run verifies the digest too
	if err != nil {
		t.Fatal(err)
	}
	if rec.State != StateFailed || rec.ExitCode == nil || *rec.ExitCode != 1 || rec.Error != "exit status 1" {
		t.Errorf("record: state %s exit %v error %q", rec.State, rec.ExitCode, rec.Error)
	}
	lines := col.lineEvents()
	// Expected per stream, with the long line split in MaxLineBytes pieces.
	var wantOut, wantErr []string
	var wantBytes int64
	for _, l := range script {
		wantBytes += int64(len(l.Text)) + 1
		parts := []string{l.Text}
		if len(l.Text) > MaxLineBytes {
			parts = []string{l.Text[:MaxLineBytes], l.Text[MaxLineBytes : 2*MaxLineBytes], l.Text[2*MaxLineBytes:]}
		}
		if l.Stream == "stderr" {
			wantErr = append(wantErr, parts...)
		} else {
			wantOut = append(wantOut, parts...)
		}
	}
	var gotOut, gotErr []string
	for i, l := range lines {
		if l.Seq != int64(i+1) {
			t.Fatalf("line %d has seq %d", i, l.Seq)
		}
		switch l.Stream {
		case StreamStdout:
			gotOut = append(gotOut, l.Text)
		case StreamStderr:
			gotErr = append(gotErr, l.Text)
		default:
			t.Fatalf("line %d: stream %q", i, l.Stream)
		}
	}
	if !slices.Equal(gotOut, wantOut) {
		t.Errorf("stdout lines differ:\n got %.200q\nwant %.200q", gotOut, wantOut)
	}
	if !slices.Equal(gotErr, wantErr) {
		t.Errorf("stderr lines differ:\n got %q\nwant %q", gotErr, wantErr)
	}
	if rec.Lines != int64(len(lines)) || rec.Bytes != wantBytes {
		t.Errorf("record counts %d lines %d bytes, want %d and %d", rec.Lines, rec.Bytes, len(lines), wantBytes)
	}
	if d := DigestLines(lines); d != rec.Digest || !strings.HasPrefix(d, "sha256:") {
		t.Errorf("digest: recomputed %s, record %s", d, rec.Digest)
	}
	if len(rec.Head) != len(lines) || len(rec.Tail) != len(lines) {
		t.Errorf("head %d tail %d lines, want %d each", len(rec.Head), len(rec.Tail), len(lines))
	}

	// The stored record and a replay agree.
	got, err := c.Job(ctx, rec.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Digest != rec.Digest || got.State != rec.State || got.Lines != rec.Lines {
		t.Errorf("GET record differs: %+v", got)
	}
	col2 := newCollector()
	if _, err := c.Attach(ctx, rec.ID, 1, col2.on); err != nil {
		t.Fatal(err)
	}
	if d := DigestLines(col2.lineEvents()); d != rec.Digest {
		t.Errorf("replayed digest %s, want %s", d, rec.Digest)
	}
	col3 := newCollector()
	if _, err := c.Attach(ctx, rec.ID, 5, col3.on); err != nil {
		t.Fatal(err)
	}
	if l := col3.lineEvents(); len(l) != len(lines)-4 || l[0].Seq != 5 {
		t.Errorf("attach from 5: %d lines starting at %d", len(l), l[0].Seq)
	}

	// A final line without newline is still a line; bytes count exactly.
	rec, err = c.Run(ctx, RunRequest{Operation: gitlab.OpServices}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Lines != 2 || rec.Bytes != int64(len("first\nno newline at end")) || rec.Tail[1].Text != "no newline at end" {
		t.Errorf("unterminated line: %+v", rec)
	}
}

func TestEnvironmentAndArgv(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {Mode: "env"}})
	cfg := testConfig(t, fake, certs)
	cfg.Env = []string{"GITLAB_SIM_STATE=/tmp/x.json"}
	cfg.Rake.Args = []string{"prefix-arg"} // as the simulator uses
	t.Setenv("AGENT_TEST_SECRET", "must-not-leak")
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	rec, err := c.Run(ctx, RunRequest{Operation: gitlab.OpServices}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var env []string
	for _, l := range rec.Head {
		env = append(env, l.Text)
	}
	want := []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C.UTF-8", "GITLAB_SIM_STATE=/tmp/x.json", ptyTermEnv}
	if !slices.Equal(env, want) {
		t.Errorf("job environment = %q, want %q", env, want)
	}

	args := gitlab.Args{BatchedMigration: gitlab.BatchedMigration{
		JobClass: "CopyColumnUsingBackgroundMigrationJob", Table: "events", Column: "id",
		JobArguments: `[["id"], ["id_convert_to_bigint"]]`,
	}}
	rec, err = c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpFinalize, Args: args}), nil)
	if err != nil {
		t.Fatal(err)
	}
	wantArgv := []string{cfg.Rake.Path, "prefix-arg",
		`gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,events,id,[["id"]\,["id_convert_to_bigint"]]]`}
	if !slices.Equal(rec.Argv, wantArgv) {
		t.Errorf("argv = %q, want %q", rec.Argv, wantArgv)
	}
	ran := ranLog(t, fake)
	if last := ran[len(ran)-1]; !strings.HasSuffix(last, " prefix-arg "+wantArgv[2]) {
		t.Errorf("the program received %q", last)
	}
}

func TestCancel(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"db:migrate": {Mode: "grandchild"}, "*": {}})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	col := newCollector()
	done := runAsync(ctx, c, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate}), col)
	id := col.waitJobID(t)
	pid := pidFromLine(t, col.waitLine(t, "pid "))
	gpid := pidFromLine(t, col.waitLine(t, "grandchild "))
	sum, err := c.Cancel(ctx, id, CancelRequest{Requester: "alice", Reason: "wrong host"})
	if err != nil {
		t.Fatal(err)
	}
	if sum.ID != id {
		t.Errorf("cancel answered for %s", sum.ID)
	}
	r := waitResult(t, done)
	if r.err != nil {
		t.Fatal(r.err)
	}
	if r.rec.State != StateCancelled || r.rec.Error != "cancelled by alice: wrong host" {
		t.Errorf("state %s error %q", r.rec.State, r.rec.Error)
	}
	waitGone(t, pid, "cancelled child")
	waitGone(t, gpid, "cancelled grandchild")

	_, err = c.Cancel(ctx, id, CancelRequest{})
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Errorf("cancel of a finished job: want 409, got %v", err)
	}
	if _, err := c.Cancel(ctx, "20250101T000000Z-00000000", CancelRequest{}); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("cancel of an unknown job: want ErrJobNotFound, got %v", err)
	}
}

func TestValidationRefusesBeforeRunning(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {}})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	cases := []struct {
		name  string
		req   RunRequest
		field string
	}{
		{"unknown operation", RunRequest{Operation: "rm-rf"}, "operation"},
		{"field the operation does not take", RunRequest{Operation: gitlab.OpMigrateStatus, Args: gitlab.Args{BatchedMigration: gitlab.BatchedMigration{JobClass: "X"}}}, "job_class"},
		{"missing required field", RunRequest{Operation: gitlab.OpFinalize, Args: gitlab.Args{BatchedMigration: gitlab.BatchedMigration{Table: "events", Column: "id", JobArguments: "[]"}}}, "job_class"},
		{"shell metacharacters", RunRequest{Operation: gitlab.OpServices, Args: gitlab.Args{Service: "puma; rm -rf /"}}, "service"},
		{"bad job arguments", RunRequest{Operation: gitlab.OpFinalize, Args: gitlab.Args{BatchedMigration: gitlab.BatchedMigration{JobClass: "A", Table: "t", Column: "c", JobArguments: "'[]'"}}}, "job_arguments"},
		{"control characters in requester", RunRequest{Operation: gitlab.OpServices, Requester: "eve\nadmin"}, "requester"},
	}
	for _, tc := range cases {
		_, err := c.Run(ctx, tc.req, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field != tc.field {
			t.Errorf("%s: want 400 naming %s, got %v", tc.name, tc.field, err)
		}
	}
	for _, body := range []string{
		`{"operation":"services","bogus":1}`,
		`{"operation":"services","args":{"service":"puma","program":"/bin/sh"}}`,
		`{"operation":"services"} {"operation":"migrate"}`,
		`not json`,
	} {
		status, data := rawRequest(t, c, http.MethodPost, "/v1/jobs", body)
		if status != http.StatusBadRequest || !strings.Contains(string(data), `"error"`) {
			t.Errorf("body %s: status %d %s", body, status, data)
		}
	}
	status, data := rawRequest(t, c, http.MethodPost, "/v1/jobs", `{"operation":"services","bogus":1}`)
	if status != http.StatusBadRequest || !strings.Contains(string(data), `"field": "bogus"`) {
		t.Errorf("unknown field not named: %d %s", status, data)
	}
	if got := ranLog(t, fake); len(got) != 0 {
		t.Errorf("refused requests ran: %v", got)
	}
	entries, _ := os.ReadDir(filepath.Join(cfg.StateDir, jobsDirName))
	if len(entries) != 0 {
		t.Errorf("refused requests left %d job records", len(entries))
	}

	if _, err := c.Job(ctx, "20250101T000000Z-00000000"); !errors.Is(err, ErrJobNotFound) {
		t.Errorf("unknown job: want ErrJobNotFound, got %v", err)
	}
	if status, _ := rawRequest(t, c, http.MethodGet, "/v1/jobs/..%2F..%2Fetc/stream", ""); status != http.StatusNotFound {
		t.Errorf("path traversal id: status %d", status)
	}
	if status, _ := rawRequest(t, c, http.MethodGet, "/v1/nothing", ""); status != http.StatusNotFound {
		t.Errorf("unknown endpoint: status %d", status)
	}
}

func TestShutdownInterruptsAndRestartKeepsRecords(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"db:migrate": {Mode: "sleep"}, "*": {Mode: "count", N: 20}})
	cfg := testConfig(t, fake, certs)
	cfg.ShutdownGrace = 500 * time.Millisecond
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	done, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus}, nil)
	if err != nil {
		t.Fatal(err)
	}
	col := newCollector()
	running := runAsync(ctx, c, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate}), col)
	id := col.waitJobID(t)
	pid := pidFromLine(t, col.waitLine(t, "pid "))
	rs.stop()
	r := waitResult(t, running)
	if r.err != nil {
		t.Fatalf("the stream should end with the interrupted record: %v", r.err)
	}
	if r.rec.State != StateInterrupted || !strings.Contains(r.rec.Error, "shut down") {
		t.Errorf("state %s error %q", r.rec.State, r.rec.Error)
	}
	waitGone(t, pid, "job of a stopped agent")

	rs2 := startServer(t, cfg)
	c2 := botClient(t, rs2.url, certs)
	for _, want := range []JobRecord{done, r.rec} {
		got, err := c2.Job(ctx, want.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.State != want.State || got.Digest != want.Digest || got.Lines != want.Lines {
			t.Errorf("after restart, job %s: %s/%s/%d, want %s/%s/%d", want.ID,
				got.State, got.Digest, got.Lines, want.State, want.Digest, want.Lines)
		}
	}
	if _, err := c2.Attach(ctx, id, 1, nil); err != nil {
		t.Errorf("attach to the interrupted job after restart: %v", err)
	}
}

func TestPruneKeepsNewest(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {Lines: []fakeLine{{"stdout", "x"}}}})
	cfg := testConfig(t, fake, certs)
	cfg.KeepJobs = 3
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)
	var ids []string
	for range 5 {
		rec, err := c.Run(ctx, RunRequest{Operation: gitlab.OpServices}, nil)
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.ID)
	}
	for i, id := range ids {
		_, err := c.Job(ctx, id)
		if kept := i >= 2; kept != (err == nil) {
			t.Errorf("job %d (%s): kept=%v err=%v", i, id, kept, err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(cfg.StateDir, jobsDirName))
	if len(entries) != 3 {
		t.Errorf("%d job dirs on disk, want 3", len(entries))
	}
}

// A program that cannot be started fails its job, with a record, and frees
// the mutating slot.
func TestProgramMissingAtRunTime(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {}})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)
	if err := os.Remove(cfg.Rake.Path); err != nil {
		t.Fatal(err)
	}
	for range 2 {
		rec, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate}), nil)
		if err != nil {
			t.Fatal(err)
		}
		if rec.State != StateFailed || rec.ExitCode != nil || !strings.Contains(rec.Error, "cannot start "+cfg.Rake.Path) {
			t.Errorf("state %s exit %v error %q", rec.State, rec.ExitCode, rec.Error)
		}
	}
}

// TestApprovalCheckHasAReservedSlot: with every read-only slot taken, a run
// whose purpose is approval-check still starts (once at a time), others get
// 429 with a Retry-After, and the purpose is validated.
func TestApprovalCheckHasAReservedSlot(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{
		"status":            {Mode: "sleep"},                         // services: read-only, slow
		"db:migrate:status": {Lines: []fakeLine{{"stdout", "up 1"}}}, // read-only, quick
	})
	cfg := testConfig(t, fake, certs)
	cfg.MaxReadOnlyJobs = 1
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	// The pool's one slot is taken by a slow status.
	poolCol := newCollector()
	poolDone := runAsync(ctx, c, RunRequest{Operation: gitlab.OpServices}, poolCol)
	poolID := poolCol.waitJobID(t)
	poolCol.waitLine(t, "pid ")

	_, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus}, nil)
	wait, busy := TooBusy(err)
	if !busy || wait != time.Second {
		t.Fatalf("ordinary read-only run over the bound: want 429 with Retry-After 1s, got busy=%v wait=%s err=%v", busy, wait, err)
	}

	// The reserved slot: an approval check runs although the pool is full.
	checkCol := newCollector()
	checkDone := runAsync(ctx, c, RunRequest{Operation: gitlab.OpServices, Purpose: PurposeApprovalCheck}, checkCol)
	checkID := checkCol.waitJobID(t)
	checkCol.waitLine(t, "pid ")

	// ... but only one: a second check waits like everyone else.
	if _, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus, Purpose: PurposeApprovalCheck}, nil); err == nil {
		t.Fatal("a second approval check got a slot while the reserved one was taken")
	} else if _, busy := TooBusy(err); !busy {
		t.Fatalf("second approval check: want 429, got %v", err)
	}

	for name, req := range map[string]RunRequest{
		"unknown purpose":  {Operation: gitlab.OpMigrateStatus, Purpose: "vip"},
		"mutating + check": approved(t, certs, RunRequest{Operation: gitlab.OpRestart, Args: gitlab.Args{Service: "puma"}, Purpose: PurposeApprovalCheck}),
	} {
		_, err := c.Run(ctx, req, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field != "purpose" {
			t.Errorf("%s: want 400 naming field purpose, got %v", name, err)
		}
	}

	// Freeing the reserved slot frees it for the next check, not for
	// ordinary runs.
	if _, err := c.Cancel(ctx, checkID, CancelRequest{}); err != nil {
		t.Fatal(err)
	}
	waitResult(t, checkDone)
	if _, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus}, nil); err == nil {
		t.Error("an ordinary run took the reserved slot")
	}
	rec, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus, Purpose: PurposeApprovalCheck}, nil)
	if err != nil || rec.State != StateSucceeded {
		t.Fatalf("approval check after the reserved slot was freed: %v %+v", err, rec)
	}
	if _, err := c.Cancel(ctx, poolID, CancelRequest{}); err != nil {
		t.Fatal(err)
	}
	waitResult(t, poolDone)
}
