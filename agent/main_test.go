package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Test support shared by every test file: the fake GitLab program (a real
// executable built from testdata/fakegitlab), certificates, an in-process
// server on 127.0.0.1 and clients. Nothing here reaches beyond loopback.

var (
	fakeBin  string // the built fakegitlab
	buildDir string
)

func TestMain(m *testing.M) {
	os.Exit(testMain(m))
}

func testMain(m *testing.M) int {
	var err error
	buildDir, err = os.MkdirTemp("", "agent-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(buildDir)
	fakeBin = filepath.Join(buildDir, "fakegitlab")
	if out, err := goBuild(fakeBin, "./testdata/fakegitlab"); err != nil {
		fmt.Fprintf(os.Stderr, "build fakegitlab: %v\n%s", err, out)
		return 1
	}
	return m.Run()
}

func goBuild(out, pkg string) ([]byte, error) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if _, err := os.Stat(goTool); err != nil {
		goTool = "go"
	}
	cmd := exec.Command(goTool, "build", "-o", out, pkg)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	return cmd.CombinedOutput()
}

var (
	agentBinOnce sync.Once
	agentBin     string
	agentBinErr  error
)

// agentBinary builds cmd/gitlab-chatops-agent once per test run.
func agentBinary(tb testing.TB) string {
	tb.Helper()
	agentBinOnce.Do(func() {
		agentBin = filepath.Join(buildDir, "gitlab-chatops-agent")
		if out, err := goBuild(agentBin, "../cmd/gitlab-chatops-agent"); err != nil {
			agentBinErr = fmt.Errorf("build agent: %v\n%s", err, out)
		}
	})
	if agentBinErr != nil {
		tb.Fatal(agentBinErr)
	}
	return agentBin
}

// fakeBehavior is one entry of fake.json (see testdata/fakegitlab).
type fakeBehavior struct {
	Mode     string     `json:"mode,omitempty"`
	Lines    []fakeLine `json:"lines,omitempty"`
	Exit     int        `json:"exit,omitempty"`
	N        int        `json:"n,omitempty"`
	Interval string     `json:"interval,omitempty"`
	Bytes    int64      `json:"bytes,omitempty"`
	LineLen  int        `json:"line_len,omitempty"`
	Sleep    string     `json:"sleep,omitempty"`
}

type fakeLine struct {
	Stream string `json:"stream"`
	Text   string `json:"text"`
}

// fakeGitLab makes a directory with gitlab-rake and gitlab-ctl (symlinks to
// the fake) behaving as given, keyed by task or verb ("*" for any).
func fakeGitLab(tb testing.TB, behaviors map[string]fakeBehavior) string {
	tb.Helper()
	dir := tb.TempDir()
	for _, name := range []string{"gitlab-rake", "gitlab-ctl"} {
		if err := os.Symlink(fakeBin, filepath.Join(dir, name)); err != nil {
			tb.Fatal(err)
		}
	}
	data, err := json.Marshal(behaviors)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "fake.json"), data, 0o644); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// ranLog returns the invocations the fake recorded in dir.
func ranLog(tb testing.TB, dir string) []string {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "ran.log"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		tb.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(data)), "\n")
}

// testCerts generates a CA, agent and bot certificates in a temp dir.
func testCerts(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	if err := GenerateCerts(dir, []string{"127.0.0.1"}, 24*time.Hour); err != nil {
		tb.Fatal(err)
	}
	return dir
}

// testConfig is a TLS config with short, test-friendly intervals.
func testConfig(tb testing.TB, fake, certs string) Config {
	tb.Helper()
	cfg := DefaultConfig()
	cfg.Name = testHostName
	cfg.ApprovalPublicKey = filepath.Join(certs, ApprovalPublicKeyFile)
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = TLSFiles{
		Cert: filepath.Join(certs, AgentFile), Key: filepath.Join(certs, AgentKeyFile),
		ClientCA: filepath.Join(certs, CAFile), AllowedClients: []string{BotName},
	}
	cfg.Rake = Program{Path: filepath.Join(fake, "gitlab-rake")}
	cfg.Ctl = Program{Path: filepath.Join(fake, "gitlab-ctl")}
	cfg.StateDir = tb.TempDir()
	cfg.KillGrace = 2 * time.Second
	cfg.ShutdownGrace = 2 * time.Second
	cfg.HeartbeatInterval = 500 * time.Millisecond
	cfg.PersistInterval = 500 * time.Millisecond
	cfg.Version = "test"
	return cfg
}

// testLogger writes the server's log to the test log (shown on failure).
func testLogger(tb testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tbWriter{tb}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type tbWriter struct{ tb testing.TB }

func (w tbWriter) Write(p []byte) (int, error) {
	w.tb.Logf("%s", strings.TrimRight(string(p), "\n"))
	return len(p), nil
}

// runningServer is an in-process agent on 127.0.0.1.
type runningServer struct {
	srv  *Server
	url  string
	stop func() // cancel and wait for Serve to return
}

func startServer(tb testing.TB, cfg Config) *runningServer {
	tb.Helper()
	srv, err := NewServer(cfg, testLogger(tb))
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	scheme := "https"
	if cfg.Insecure {
		scheme = "http"
	}
	rs := &runningServer{srv: srv, url: scheme + "://" + ln.Addr().String()}
	var once sync.Once
	rs.stop = func() {
		once.Do(func() {
			cancel()
			select {
			case err := <-done:
				if err != nil {
					tb.Errorf("Serve: %v", err)
				}
			case <-time.After(60 * time.Second):
				tb.Errorf("Serve did not return within 60s of cancel")
			}
		})
	}
	tb.Cleanup(rs.stop)
	return rs
}

// botClient is a client with the bot's certificate from certs.
func botClient(tb testing.TB, url, certs string) *Client {
	tb.Helper()
	return clientWithCert(tb, url, certs, BotFile, BotKeyFile)
}

func clientWithCert(tb testing.TB, url, certs, certFile, keyFile string) *Client {
	tb.Helper()
	c, err := NewClient(ClientConfig{
		URL: url, CAFile: filepath.Join(certs, CAFile),
		CertFile: filepath.Join(certs, certFile), KeyFile: filepath.Join(certs, keyFile),
		StreamIdleTimeout: 60 * time.Second, RequestTimeout: 60 * time.Second,
	})
	if err != nil {
		tb.Fatal(err)
	}
	return c
}

// testCtx is a generous overall limit for one test's calls: these machines
// are shared and slow at times.
func testCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	tb.Cleanup(cancel)
	return ctx
}

// collector gathers the events of a stream.
type collector struct {
	mu     sync.Mutex
	events []Event
	jobID  chan string // receives the job ID once
	lines  chan Line   // every line, if not nil (buffered)
}

func newCollector() *collector {
	return &collector{jobID: make(chan string, 1), lines: make(chan Line, 100000)}
}

func (c *collector) on(ev Event) error {
	c.mu.Lock()
	c.events = append(c.events, ev)
	c.mu.Unlock()
	switch ev.Type {
	case EventJob:
		select {
		case c.jobID <- ev.Job.ID:
		default:
		}
	case EventLine:
		select {
		case c.lines <- *ev.Line:
		default:
		}
	}
	return nil
}

func (c *collector) lineEvents() []Line {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []Line
	for _, ev := range c.events {
		if ev.Type == EventLine {
			out = append(out, *ev.Line)
		}
	}
	return out
}

// waitJobID waits for the job event of a stream started in the background.
func (c *collector) waitJobID(tb testing.TB) string {
	tb.Helper()
	select {
	case id := <-c.jobID:
		return id
	case <-time.After(60 * time.Second):
		tb.Fatal("no job event within 60s")
		return ""
	}
}

// waitLine waits for a line whose text has the prefix and returns it.
func (c *collector) waitLine(tb testing.TB, prefix string) Line {
	tb.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l := <-c.lines:
			if strings.HasPrefix(l.Text, prefix) {
				return l
			}
		case <-deadline:
			tb.Fatalf("no line starting with %q within 60s", prefix)
			return Line{}
		}
	}
}

// waitSeq waits for a line with Seq >= n.
func (c *collector) waitSeq(tb testing.TB, n int64) {
	tb.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l := <-c.lines:
			if l.Seq >= n {
				return
			}
		case <-deadline:
			tb.Fatalf("no line %d within 60s", n)
		}
	}
}

// runResult is the outcome of a Run in the background.
type runResult struct {
	rec JobRecord
	err error
}

func runAsync(ctx context.Context, c *Client, req RunRequest, col *collector) <-chan runResult {
	ch := make(chan runResult, 1)
	go func() {
		rec, err := c.Run(ctx, req, col.on)
		ch <- runResult{rec, err}
	}()
	return ch
}

func waitResult(tb testing.TB, ch <-chan runResult) runResult {
	tb.Helper()
	select {
	case r := <-ch:
		return r
	case <-time.After(2 * time.Minute):
		tb.Fatal("job did not end within 2 minutes")
		return runResult{}
	}
}

// processGone reports whether pid no longer runs (absent, or a zombie
// waiting for a reaper that is not ours).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return true
	}
	// Format: pid (comm) state ...; comm may contain spaces.
	s := string(data)
	i := strings.LastIndexByte(s, ')')
	return i >= 0 && i+2 < len(s) && (s[i+2] == 'Z' || s[i+2] == 'X')
}

// waitGone polls until pid is gone.
func waitGone(tb testing.TB, pid int, what string) {
	tb.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !processGone(pid) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL) // do not leave it behind
			tb.Fatalf("%s (pid %d) still runs 60s later", what, pid)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// pidFromLine parses "pid N" / "grandchild N".
func pidFromLine(tb testing.TB, l Line) int {
	tb.Helper()
	f := strings.Fields(l.Text)
	if len(f) != 2 {
		tb.Fatalf("not a pid line: %q", l.Text)
	}
	n, err := strconv.Atoi(f[1])
	if err != nil {
		tb.Fatalf("not a pid line: %q", l.Text)
	}
	return n
}

// rawRequest sends a request with the bot's certificate and returns status
// and body.
func rawRequest(tb testing.TB, c *Client, method, path, body string) (int, []byte) {
	tb.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, c.url(path, nil), rd)
	if err != nil {
		tb.Fatal(err)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, data
}
