package agent

import (
	"bufio"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// A client that starts a job and then stops reading must not hold the job
// forever: after WriteTimeout it is dropped and the job runs to its end,
// with the record and log complete.
func TestDeadClientDoesNotHangJob(t *testing.T) {
	const total = 16 << 20 // far more than the socket buffers hold
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {Mode: "bytes", Bytes: total, LineLen: 1000}})
	cfg := testConfig(t, fake, certs)
	cfg.WriteTimeout = time.Second
	cfg.MaxLogBytes = 1 << 20
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	tc, err := LoadClientTLS(filepath.Join(certs, CAFile), filepath.Join(certs, BotFile), filepath.Join(certs, BotKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	// A small receive buffer, so that the agent's writes block soon.
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) { serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096) })
		if err != nil {
			return err
		}
		return serr
	}}
	conn, err := tls.DialWithDialer(dialer, "tcp", strings.TrimPrefix(rs.url, "https://"), tc)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := `{"operation":"services"}`
	fmt.Fprintf(conn, "POST /v1/jobs HTTP/1.1\r\nHost: agent\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	// Read the status line and the job event, then stop reading.
	br := bufio.NewReaderSize(conn, 4096)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	jobLine, err := bufio.NewReaderSize(resp.Body, 64).ReadString('\n')
	var ev Event
	if err != nil || json.Unmarshal([]byte(jobLine), &ev) != nil || ev.Type != EventJob {
		t.Fatalf("first event: %v %q", err, jobLine)
	}
	id := ev.Job.ID

	deadline := time.Now().Add(2 * time.Minute)
	for {
		rec, err := c.Job(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.Finished() {
			if rec.State != StateSucceeded || rec.Bytes != total || !rec.LogTruncated {
				t.Errorf("record: %s, %d bytes, truncated %v", rec.State, rec.Bytes, rec.LogTruncated)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job still %s (%d bytes) 2 minutes after its client stopped reading", rec.State, rec.Bytes)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The agent dropped the client: what is left to read ends without the
	// end event.
	conn.SetReadDeadline(time.Now().Add(60 * time.Second))
	rest, _ := io.ReadAll(resp.Body)
	if strings.Contains(string(rest), `"type":"end"`) {
		t.Errorf("the stalled client was not dropped: it got the whole stream (%d bytes)", len(rest))
	}

	// The truncated log replays up to its bound, then the tail; the gap
	// means the client cannot (and does not claim to) verify the digest.
	col := newCollector()
	rec, err := c.Attach(ctx, id, 1, col.on)
	if err != nil {
		t.Fatal(err)
	}
	lines := col.lineEvents()
	if len(lines) < HeadTailLines+1 || lines[len(lines)-1].Seq != rec.Lines {
		t.Fatalf("replay of a truncated log: %d lines of %d", len(lines), rec.Lines)
	}
	logInfo, err := os.Stat(filepath.Join(cfg.StateDir, jobsDirName, id, outputLogName))
	if err != nil {
		t.Fatal(err)
	}
	if logInfo.Size() > cfg.MaxLogBytes+1024 {
		t.Errorf("output log is %d bytes, bound %d", logInfo.Size(), cfg.MaxLogBytes)
	}
}

func TestSudoPrefix(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {Lines: []fakeLine{{"stdout", "ran"}}}})
	sudo := filepath.Join(t.TempDir(), "sudo")
	if err := os.Symlink(fakeBin, sudo); err != nil {
		t.Fatal(err)
	}
	cfg := testConfig(t, fake, certs)
	cfg.Sudo = sudo
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	rec, err := c.Run(testCtx(t), RunRequest{Operation: gitlab.OpServices, Args: gitlab.Args{Service: "puma"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{sudo, "-n", "--", cfg.Ctl.Path, "status", "puma"}
	if strings.Join(rec.Argv, " ") != strings.Join(want, " ") || rec.State != StateSucceeded {
		t.Errorf("argv %q state %s", rec.Argv, rec.State)
	}
	// The two streams are read apart (stdout from a terminal), so their
	// relative order is not the program's.
	got := strings.Split(strings.TrimSpace(texts(rec.Tail)), "\n")
	slices.Sort(got)
	if want := []string{"stderr:fake sudo: running " + cfg.Ctl.Path, "stdout:ran"}; !slices.Equal(got, want) {
		t.Errorf("output:\n%s", texts(rec.Tail))
	}
}

// The record on disk follows a running job (every PersistInterval).
func TestRecordPersistedWhileRunning(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"db:migrate": {Mode: "sleep"}})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)
	col := newCollector()
	done := runAsync(ctx, c, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate}), col)
	id := col.waitJobID(t)
	col.waitLine(t, "pid ")
	dir := filepath.Join(cfg.StateDir, jobsDirName, id)
	deadline := time.Now().Add(60 * time.Second)
	for {
		rec, err := readRecord(dir)
		if err == nil && rec.State == StateRunning && rec.Lines == 1 && len(rec.Tail) == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("record on disk did not follow the job: %+v %v", rec, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.Cancel(ctx, id, CancelRequest{}); err != nil {
		t.Fatal(err)
	}
	r := waitResult(t, done)
	onDisk, err := readRecord(dir)
	if err != nil || onDisk.State != StateCancelled || onDisk.Digest != r.rec.Digest {
		t.Errorf("final record on disk: %v %+v", err, onDisk)
	}
}

// A stream's write deadline must not outlive it: the next request on the
// same keep-alive connection would fail once the deadline has passed.
// (net/http clears it after each request; this guards that assumption.)
func TestKeepAliveAfterStream(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {Lines: []fakeLine{{"stdout", "ok"}}}})
	cfg := testConfig(t, fake, certs)
	cfg.WriteTimeout = 300 * time.Millisecond
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)
	for i := range 2 {
		// POST is not retried by the transport, so a broken reused
		// connection would show.
		if _, err := c.Run(ctx, RunRequest{Operation: gitlab.OpServices}, nil); err != nil {
			t.Fatalf("run %d on a reused connection: %v", i, err)
		}
		time.Sleep(time.Second)
	}
}
