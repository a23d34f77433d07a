package agent

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// BenchmarkStream1GiB streams 1 GiB of output (200-byte lines) from a fake
// gitlab-rake through a real agent process over mutual TLS to a client that
// consumes every line and verifies the digest. It reports the agent's peak
// resident memory (VmHWM), which must stay bounded whatever the output
// size: the log stops at max_log_bytes and live delivery uses bounded
// buffers. Run with:
//
//	go test -run XXX -bench Stream1GiB -benchtime 1x ./agent
func BenchmarkStream1GiB(b *testing.B) {
	const total = 1 << 30
	certs := testCerts(b)
	fake := fakeGitLab(b, map[string]fakeBehavior{
		"db:migrate:status": {Mode: "bytes", Bytes: total, LineLen: 200},
	})
	configPath := writeAgentConfig(b, fake, certs, b.TempDir(), "timeouts:\n  migrate-status: 1h\n")
	a := startAgentProc(b, configPath, certs)
	c := botClient(b, a.url, certs)
	ctx := testCtx(b)

	b.SetBytes(total)
	b.ResetTimer()
	start := time.Now()
	var lines int64
	for range b.N {
		var got, gotBytes int64
		rec, err := c.Run(ctx, RunRequest{Operation: gitlab.OpMigrateStatus}, func(ev Event) error {
			if ev.Type == EventLine {
				got++
				gotBytes += int64(len(ev.Line.Text)) + 1
			}
			return nil
		})
		if err != nil { // includes a digest mismatch
			b.Fatal(err)
		}
		if rec.State != StateSucceeded || rec.Bytes != total || rec.Lines != got || gotBytes != total || !rec.LogTruncated {
			b.Fatalf("record %s: %d bytes %d lines truncated=%v; client saw %d lines %d bytes",
				rec.State, rec.Bytes, rec.Lines, rec.LogTruncated, got, gotBytes)
		}
		lines += got
	}
	b.StopTimer()
	elapsed := time.Since(start)
	hwm, err := vmHWM(a.pid())
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(hwm)/(1<<20), "agent-peak-RSS-MiB")
	if cpu, err := cpuSeconds(a.pid()); err == nil {
		b.ReportMetric(cpu, "agent-CPU-s")
	}
	b.ReportMetric(float64(lines)/elapsed.Seconds(), "lines/s")
}

// vmHWM reads a process's peak resident set size in bytes.
func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM %q: %w", rest, err)
			}
			return kb << 10, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM in /proc/%d/status", pid)
}

// cpuSeconds reads a process's user+system CPU time from /proc/<pid>/stat.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(data)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	// After "pid (comm) ": state is f[0]; utime and stime are fields 14
	// and 15 of the line, f[11] and f[12] here, in clock ticks (USER_HZ,
	// 100 on Linux).
	if len(f) < 13 {
		return 0, fmt.Errorf("short /proc/%d/stat", pid)
	}
	ut, err1 := strconv.ParseInt(f[11], 10, 64)
	st, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, fmt.Errorf("parse /proc/%d/stat", pid)
	}
	return float64(ut+st) / 100, nil
}
