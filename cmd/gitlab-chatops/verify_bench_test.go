package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// BenchmarkAuditVerify1M runs the real `gitlab-chatops audit verify` on a
// generated store of AUDIT_BENCH_ENTRIES entries (default 1,000,000) and
// reports entries/s and the child's peak RSS: VmHWM from its
// /proc/PID/status, which counts the pages of the mapped file it touched.
// (getrusage's ru_maxrss of the child is no use here: Linux carries the
// RSS of this test process, whose memory the child shared until exec,
// into it.) Targets: ≥ 200,000 entries/s and ≤ 64 MiB. With
// AUDIT_BENCH_THROUGH_BOT=1 the store is held as a running bot holds it, so
// verify reads through its admin socket.
//
//	go test -run '^$' -bench AuditVerify1M -benchtime 1x ./cmd/gitlab-chatops/
//	AUDIT_BENCH_THROUGH_BOT=1 go test -run '^$' -bench AuditVerify1M -benchtime 1x ./cmd/gitlab-chatops/
func BenchmarkAuditVerify1M(b *testing.B) {
	n, store, keyFile := auditBenchStore(b)

	if os.Getenv("AUDIT_BENCH_THROUGH_BOT") != "" {
		// The store held as serve holds it: verify reads through the
		// admin socket, and the targets are the same.
		stop, _ := holdStore(b, store, keyFile)
		defer stop()
		b.Logf("through the running bot's admin socket")
		// The bot is this process: its Go heap must not grow with the
		// trail it streams.
		peak := heapPeak()
		defer func() { b.Logf("bot (this process) peak Go heap in use while answering: %d MiB", peak()>>20) }()
	}
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		cmd := exec.Command(binary, "audit", "verify", "--db", store, "--key-file", keyFile)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		hwm := peakRSS(cmd.Process.Pid, done)
		err := <-done
		took := time.Since(start)
		if err != nil {
			b.Fatalf("audit verify: %v\n%s", err, out.String())
		}
		if !strings.Contains(out.String(), fmt.Sprintf("intact: %d entries", n)) {
			b.Fatalf("audit verify printed %s", out.String())
		}
		rss := hwm >> 10 // KiB to MiB
		rate := float64(n) / took.Seconds()
		b.ReportMetric(rate, "entries/s")
		b.ReportMetric(float64(rss), "peak-RSS-MiB")
		b.Logf("audit verify: %d entries in %s = %.0f entries/s, peak RSS %d MiB", n, took.Round(time.Millisecond), rate, rss)
		// The baseline (issue 15, figure P6): sha256sum of the same file,
		// which reads every byte once; verify is to take ≤ 1.5× as long.
		start = time.Now()
		if out, err := exec.Command("sha256sum", store).CombinedOutput(); err != nil {
			b.Fatalf("sha256sum: %v: %s", err, out)
		}
		sum := time.Since(start)
		b.ReportMetric(took.Seconds(), "verify-s")
		b.ReportMetric(sum.Seconds(), "sha256sum-s")
		b.Logf("sha256sum of the store: %s (verify %.2f× that)", sum.Round(time.Millisecond), took.Seconds()/sum.Seconds())
		if n >= 1_000_000 && (rss > 64 || rate < 200_000) && os.Getenv("AUDIT_BENCH_NO_TARGET") == "" {
			b.Errorf("target missed: want ≥ 200,000 entries/s and ≤ 64 MiB peak RSS")
		}
		// The export, for the record (no target): every entry, streamed.
		start = time.Now()
		export := exec.Command(binary, "audit", "export", "--db", store)
		var bytes countWriter
		export.Stdout = &bytes
		if err := export.Run(); err != nil {
			b.Fatalf("audit export: %v", err)
		}
		b.Logf("audit export: %d bytes in %s", int64(bytes), time.Since(start).Round(time.Millisecond))
	}
}

// auditBenchStore generates the benchmarks' store: AUDIT_BENCH_ENTRIES
// (default 1,000,000) typical entries in a bbolt file, and its audit key
// file.
func auditBenchStore(b *testing.B) (n int, store, keyFile string) {
	b.Helper()
	n = 1_000_000
	if s := os.Getenv("AUDIT_BENCH_ENTRIES"); s != "" {
		var err error
		if n, err = strconv.Atoi(s); err != nil || n < 1 {
			b.Fatalf("AUDIT_BENCH_ENTRIES=%q: want a positive number", s)
		}
	}
	dir := b.TempDir()
	store = filepath.Join(dir, "chatops.db")
	keyFile = filepath.Join(dir, "audit.key")
	key := "bench-audit-key-0123456789abcdef0123456789"
	if err := os.WriteFile(keyFile, []byte(key), 0o600); err != nil {
		b.Fatal(err)
	}
	generate(b, store, key, n)
	fi, _ := os.Stat(store)
	b.Logf("%d entries, store %d MiB", n, fi.Size()>>20)
	return n, store, keyFile
}

// heapPeak samples this process's heap in use every 5 ms until the
// returned func is called, which returns the peak in bytes.
func heapPeak() func() uint64 {
	stop := make(chan struct{})
	result := make(chan uint64, 1)
	go func() {
		var peak uint64
		var m runtime.MemStats
		for {
			runtime.ReadMemStats(&m)
			peak = max(peak, m.HeapInuse)
			select {
			case <-stop:
				result <- peak
				return
			case <-time.After(5 * time.Millisecond):
			}
		}
	}()
	return func() uint64 { close(stop); return <-result }
}

// countWriter counts what is written to it.
type countWriter int64

func (c *countWriter) Write(p []byte) (int, error) {
	*c += countWriter(len(p))
	return len(p), nil
}

// peakRSS polls /proc/pid/status every 2 ms until done has a value (which
// it puts back) and returns the last VmHWM read, in KiB. VmHWM only grows,
// so the last read misses at most the final 2 ms of the process.
func peakRSS(pid int, done chan error) int64 {
	var hwm int64
	for {
		if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid)); err == nil {
			for _, l := range strings.Split(string(b), "\n") {
				if f := strings.Fields(l); len(f) >= 2 && f[0] == "VmHWM:" {
					if v, err := strconv.ParseInt(f[1], 10, 64); err == nil && v > hwm {
						hwm = v
					}
				}
			}
		}
		select {
		case err := <-done:
			done <- err
			return hwm
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// generate fills store with n typical entries, 2,000 per transaction.
func generate(b *testing.B, store, key string, n int) {
	b.Helper()
	db, err := storage.Open(store, storage.Options{AuditKey: []byte(key)})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	e := approvalstest.TypicalEntry()
	batch := make([]approvals.AuditEntry, 0, 2000)
	for i := 0; i < n; i += len(batch) {
		batch = batch[:0]
		for j := 0; j < cap(batch) && i+j < n; j++ {
			batch = append(batch, e)
		}
		if _, err := db.Append(context.Background(), batch...); err != nil {
			b.Fatal(err)
		}
	}
}
