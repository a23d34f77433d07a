package commands

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// The stall benchmark (issue 8 §6): a job's output must reach the bot at
// full speed whatever the chat does. Run with:
//
//	go test ./commands -run XXX -bench StallingChat -benchtime 1x
//
// It runs a real agent (in process, mutual TLS on 127.0.0.1) whose
// gitlab-rake is this test binary printing lines (stallPrinter), and the
// bot's job follower (runJob with its progress mailbox) against a chat
// whose Update takes 1 s and against an instant one:
//   - slow/instant: the ratio of the two runs' wall times (target <= 1.2);
//   - min-edit-gap-s: the shortest time between the starts of two progress
//     edits of the slow chat (>= 1: at most one edit per second);
//   - reattaches: how often the bot had to re-attach (0: the agent never
//     dropped the reader at its write timeout);
//   - the digest is verified by runJob on both runs;
//   - bot-peak-RSS-MiB: VmHWM of a separate bot process (this binary,
//     stallBot) that follows a 1 GiB job through the slow chat (<= 64).
//
// A missed target fails the benchmark (b.Errorf); .ci/run runs it once.
// TestStallingChatNeverStallsTheStream checks the same structure without
// timing, in every `go test`.

// Environment of the re-executed test binary.
const (
	envPrintLines = "STALLBENCH_LINES" // print this many lines, paced
	envPrintBytes = "STALLBENCH_BYTES" // print this many bytes in 200-byte lines, at full speed
	envBot        = "STALLBENCH_BOT"   // act as the bot: JSON stallBotConfig
	benchLines    = 100_000
	benchGiB      = 1 << 30
	slowUpdate    = time.Second
	printerBatch  = 2_000                  // lines per batch…
	printerPause  = 100 * time.Millisecond // …and the pause after each: 100k lines take about 5 s
)

func init() {
	switch {
	case os.Getenv(envPrintLines) != "":
		stallPrinter()
	case os.Getenv(envPrintBytes) != "":
		stallPrinter()
	case os.Getenv(envBot) != "":
		stallBot()
	}
}

// stallPrinter is the job: numbered lines on stdout.
func stallPrinter() {
	w := bufio.NewWriterSize(os.Stdout, 64<<10)
	if n, _ := strconv.Atoi(os.Getenv(envPrintLines)); n > 0 {
		for i := 1; i <= n; i++ {
			fmt.Fprintf(w, "== %08d StallBenchMigration: migrating, line %d of %d\n", i, i, n)
			if i%printerBatch == 0 {
				w.Flush()
				time.Sleep(printerPause)
			}
		}
	} else {
		total, _ := strconv.ParseInt(os.Getenv(envPrintBytes), 10, 64)
		line := []byte(strings.Repeat("x", 199) + "\n")
		for written := int64(0); written < total; written += int64(len(line)) {
			w.Write(line)
		}
	}
	w.Flush()
	os.Exit(0)
}

// slowChat is a chat whose Update takes delay; it records when each edit
// started.
type slowChat struct {
	bot.Chat
	delay  time.Duration
	mu     sync.Mutex
	starts []time.Time
}

func (c *slowChat) Update(ctx context.Context, _ bot.Ref, _ bot.Message) error {
	c.mu.Lock()
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	select {
	case <-time.After(c.delay):
	case <-ctx.Done():
	}
	return nil
}

// countingAgent counts re-attaches: a stream the agent dropped.
type countingAgent struct {
	Agent
	attaches atomic.Int64
}

func (a *countingAgent) Attach(ctx context.Context, id string, from int64, on func(agent.Event) error) (agent.JobRecord, error) {
	a.attaches.Add(1)
	return a.Agent.Attach(ctx, id, from, on)
}

// stallAgent starts an agent whose gitlab-rake is this binary with env.
func stallAgent(tb testing.TB, env ...string) (url, certs string) {
	tb.Helper()
	exe, err := os.Executable()
	if err != nil {
		tb.Fatal(err)
	}
	return programAgent(tb, agent.Program{Path: exe}, env...)
}

// programAgent starts an agent (in process, mutual TLS on 127.0.0.1) whose
// gitlab-rake and gitlab-ctl are prog, run with env.
func programAgent(tb testing.TB, prog agent.Program, env ...string) (url, certs string) {
	tb.Helper()
	dir := tb.TempDir()
	certs = filepath.Join(dir, "certs")
	if err := agent.GenerateCerts(certs, []string{"localhost"}, time.Hour); err != nil {
		tb.Fatal(err)
	}
	cfg := agent.DefaultConfig()
	cfg.Name = "bench"
	cfg.Listen = "127.0.0.1:0"
	cfg.ApprovalPublicKey = filepath.Join(certs, agent.ApprovalPublicKeyFile)
	cfg.TLS = agent.TLSFiles{Cert: filepath.Join(certs, "agent.pem"), Key: filepath.Join(certs, "agent-key.pem"), ClientCA: filepath.Join(certs, "ca.pem")}
	cfg.Rake = prog
	cfg.Ctl = prog
	cfg.Env = env
	cfg.StateDir = filepath.Join(dir, "agent")
	cfg.Timeouts["migrate-status"] = time.Hour
	srv, err := agent.NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		tb.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	tb.Cleanup(func() { cancel(); <-done })
	return "https://" + ln.Addr().String(), certs
}

func stallClient(url, certs string) (*agent.Client, error) {
	return agent.NewClient(agent.ClientConfig{URL: url, CAFile: filepath.Join(certs, "ca.pem"),
		CertFile: filepath.Join(certs, "bot.pem"), KeyFile: filepath.Join(certs, "bot-key.pem")})
}

// stallRun is one job through the bot's follower.
type stallRun struct {
	Wall       time.Duration
	Lines      int64
	Edits      int
	MinGap     time.Duration // shortest time between the starts of two edits
	Reattaches int64
	Err        string
}

func followStall(ctx context.Context, c Agent, delay time.Duration, requestID string) stallRun {
	ca := &countingAgent{Agent: c}
	r := &Router{opt: Options{ProgressEvery: time.Second, Clock: time.Now, RetryMax: 15 * time.Second}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	chat := &slowChat{delay: delay}
	box := r.newProgress(ctx, chat, bot.Ref{Channel: "C", ID: "progress"}, "gitlab-rake db:migrate:status", "bench")
	start := time.Now()
	// A request ID makes runJob spool the output, as for a mutating job.
	rec, out, err := r.runJob(ctx, Host{Name: "bench", Agent: ca}, agent.RunRequest{Operation: "migrate-status", RequestID: requestID}, jobWatch{progress: box})
	wall := time.Since(start)
	box.stop()
	defer out.close()
	res := stallRun{Wall: wall, Lines: out.lines, Edits: len(chat.starts), Reattaches: ca.attaches.Load()}
	for i := 1; i < len(chat.starts); i++ {
		if gap := chat.starts[i].Sub(chat.starts[i-1]); i == 1 || gap < res.MinGap {
			res.MinGap = gap
		}
	}
	switch {
	case err != nil: // a digest mismatch included
		res.Err = err.Error()
	case rec.State != agent.StateSucceeded || rec.Lines != out.lines:
		res.Err = fmt.Sprintf("job %s with %d lines, the bot read %d", rec.State, rec.Lines, out.lines)
	case !out.inOrder:
		res.Err = "the digest was not checked: lines arrived with gaps"
	}
	return res
}

// stallBotConfig is what the parent tells the bot process.
type stallBotConfig struct{ URL, Certs string }

// stallBot is the bot process of the 1 GiB run: it follows the job through
// the slow chat and prints its result and its peak RSS as JSON.
func stallBot() {
	var cfg stallBotConfig
	res := struct {
		stallRun
		PeakRSS int64
	}{}
	c, err := func() (*agent.Client, error) {
		if err := json.Unmarshal([]byte(os.Getenv(envBot)), &cfg); err != nil {
			return nil, err
		}
		return stallClient(cfg.URL, cfg.Certs)
	}()
	if err != nil {
		res.Err = err.Error()
	} else {
		res.stallRun = followStall(context.Background(), c, slowUpdate, "bench-gib")
	}
	res.PeakRSS, _ = peakRSS()
	_ = json.NewEncoder(os.Stdout).Encode(res)
	os.Exit(0)
}

// peakRSS is this process's VmHWM in bytes.
func peakRSS() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(l, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10, err
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/self/status")
}

func BenchmarkStallingChat(b *testing.B) {
	url, certs := stallAgent(b, envPrintLines+"="+strconv.Itoa(benchLines))
	c, err := stallClient(url, certs)
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	var slow, instant stallRun
	for i := range b.N {
		instant = followStall(ctx, c, 0, fmt.Sprintf("bench-instant-%d", i))
		slow = followStall(ctx, c, slowUpdate, fmt.Sprintf("bench-slow-%d", i))
		for name, r := range map[string]stallRun{"instant": instant, "slow": slow} {
			if r.Err != "" || r.Lines != benchLines {
				b.Fatalf("%s chat: %d lines: %s", name, r.Lines, r.Err)
			}
		}
	}
	b.StopTimer()
	b.ReportMetric(slow.Wall.Seconds(), "slow-chat-s")
	b.ReportMetric(instant.Wall.Seconds(), "instant-chat-s")
	b.ReportMetric(slow.Wall.Seconds()/instant.Wall.Seconds(), "slow/instant")
	b.ReportMetric(float64(slow.Edits), "slow-chat-edits")
	b.ReportMetric(slow.MinGap.Seconds(), "min-edit-gap-s")
	b.ReportMetric(float64(slow.Reattaches+instant.Reattaches), "reattaches")

	// The 1 GiB run, in a bot process of its own so that its memory is
	// measured alone.
	gurl, gcerts := stallAgent(b, envPrintBytes+"="+strconv.Itoa(benchGiB))
	exe, err := os.Executable()
	if err != nil {
		b.Fatal(err)
	}
	spec, _ := json.Marshal(stallBotConfig{URL: gurl, Certs: gcerts})
	cmd := exec.CommandContext(ctx, exe, "-test.run=^$")
	cmd.Env = append(os.Environ(), envBot+"="+string(spec))
	cmd.Stderr = os.Stderr
	outb, err := cmd.Output()
	if err != nil {
		b.Fatalf("bot process: %v\n%s", err, outb)
	}
	var gib struct {
		stallRun
		PeakRSS int64
	}
	if err := json.Unmarshal(outb, &gib); err != nil {
		b.Fatalf("bot process output %q: %v", outb, err)
	}
	if gib.Err != "" {
		b.Fatalf("1 GiB run: %s", gib.Err)
	}
	b.ReportMetric(gib.Wall.Seconds(), "GiB-s")
	b.ReportMetric(float64(gib.PeakRSS)/(1<<20), "bot-peak-RSS-MiB")
	b.ReportMetric(float64(gib.Reattaches), "GiB-reattaches")
	b.ReportMetric(gib.MinGap.Seconds(), "GiB-min-edit-gap-s")

	// The targets (issue 8 §6): a miss fails the benchmark, and CI with it
	// (.ci/run). A digest that did not verify already failed above.
	// STALL_BENCH_NO_TARGET=1 reports the figures without judging them:
	// scripts/bench (figure P4) judges them on the median over its rounds.
	if os.Getenv("STALL_BENCH_NO_TARGET") != "" {
		return
	}
	if ratio := slow.Wall.Seconds() / instant.Wall.Seconds(); ratio > maxSlowRatio {
		b.Errorf("the slow chat's run took %.2f× the instant one's (%s vs %s), want ≤ %.1f×: the stream waited for chat", ratio, slow.Wall, instant.Wall, maxSlowRatio)
	}
	for name, r := range map[string]stallRun{"100k-line": slow, "1 GiB": gib.stallRun} {
		if r.Edits > 1 && r.MinGap < slowUpdate {
			b.Errorf("%s run: two progress edits started %s apart, want at least %s", name, r.MinGap, slowUpdate)
		}
	}
	if n := slow.Reattaches + instant.Reattaches + gib.Reattaches; n > 0 {
		b.Errorf("the bot re-attached %d times: the agent dropped a reader that fell behind (its write timeout)", n)
	}
	if gib.PeakRSS > maxBotRSS {
		b.Errorf("the bot's peak RSS following the 1 GiB job was %d MiB, want ≤ %d MiB", gib.PeakRSS>>20, maxBotRSS>>20)
	}
}

// The targets BenchmarkStallingChat asserts.
const (
	maxSlowRatio = 1.2      // slow-chat wall time / instant-chat wall time
	maxBotRSS    = 64 << 20 // the bot's peak RSS following a 1 GiB job
)
