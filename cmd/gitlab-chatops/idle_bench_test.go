package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// BenchmarkServeStart1M (issue 15, figure P6): the real `gitlab-chatops
// serve` process (Mattermost, on a fake API) started on a store of
// AUDIT_BENCH_ENTRIES (default 1,000,000) audit entries, with one real
// agent process (the simulator, instant): start-ms is from the exec to
// the first 200 from /readyz (the store open, the agent and the chat
// reached); then, after IDLE_BENCH_WAIT (default 3 s) of nothing, the
// resident memory (VmRSS) of the bot and of the agent. The goals (≤ 300 ms,
// ≤ 40 MiB bot, ≤ 20 MiB agent) are judged by scripts/bench.
//
//	go test -run '^$' -bench ServeStart1M -benchtime 1x ./cmd/gitlab-chatops/
func BenchmarkServeStart1M(b *testing.B) {
	_, store, keyFile := auditBenchStore(b)
	wait := 3 * time.Second
	if s := os.Getenv("IDLE_BENCH_WAIT"); s != "" {
		var err error
		if wait, err = time.ParseDuration(s); err != nil {
			b.Fatalf("IDLE_BENCH_WAIT=%q: %v", s, err)
		}
	}
	dir := b.TempDir()
	agentDir := filepath.Join(dir, "agent")
	agentPort, port := freePort(b), freePort(b)
	agentPID := startAgentSpeed(b, agentDir, agentPort, "0")
	fm := newFakeMattermostAPI(b)
	config := filepath.Join(dir, "serve.yaml")
	if err := os.WriteFile(config, []byte(mmServeYAML("store: "+store, port, keyFile, agentDir, agentPort, fm, "8j3n5pzm1fbq7c6yy9qfg5w4xr", "")), 0o600); err != nil {
		b.Fatal(err)
	}
	ready := fmt.Sprintf("http://127.0.0.1:%d/readyz", port)
	hc := &http.Client{Timeout: time.Second}

	var start, botRSS, agentRSS []float64
	var botFile float64 // of the bot's RSS, the pages of files it maps (its binary, the store)
	b.ResetTimer()
	for range b.N {
		var log strings.Builder
		cmd := exec.Command(binary, "serve", "--config", config)
		cmd.Stdout, cmd.Stderr = &log, &log
		began := time.Now()
		if err := cmd.Start(); err != nil {
			b.Fatal(err)
		}
		exited := make(chan error, 1)
		go func() { exited <- cmd.Wait() }()
		for {
			if resp, err := hc.Get(ready); err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					break
				}
			}
			select {
			case err := <-exited:
				b.Fatalf("serve exited (%v) before it was ready:\n%s", err, log.String())
			case <-time.After(2 * time.Millisecond):
			}
			if time.Since(began) > time.Minute {
				b.Fatalf("serve not ready after a minute:\n%s", log.String())
			}
		}
		start = append(start, float64(time.Since(began).Microseconds())/1000)
		time.Sleep(wait)
		botRSS = append(botRSS, procStatusMiB(b, cmd.Process.Pid, "VmRSS:"))
		botFile = procStatusMiB(b, cmd.Process.Pid, "RssFile:")
		agentRSS = append(agentRSS, procStatusMiB(b, agentPID, "VmRSS:"))
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			b.Fatal(err)
		}
		if err := <-exited; err != nil {
			b.Fatalf("serve: %v\n%s", err, log.String())
		}
	}
	b.StopTimer()
	b.ReportMetric(start[len(start)-1], "start-ms")
	b.ReportMetric(botRSS[len(botRSS)-1], "bot-idle-RSS-MiB")
	b.ReportMetric(agentRSS[len(agentRSS)-1], "agent-idle-RSS-MiB")
	b.ReportMetric(botFile, "bot-idle-RssFile-MiB")
}

// procStatusMiB is a memory field of a process's /proc/PID/status now
// ("VmRSS:", "RssFile:"), in MiB.
func procStatusMiB(b *testing.B, pid int, field string) float64 {
	b.Helper()
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, l := range strings.Split(string(raw), "\n") {
		if f := strings.Fields(l); len(f) >= 2 && f[0] == field {
			kb, err := strconv.ParseFloat(f[1], 64)
			if err != nil {
				b.Fatalf("%s of %d: %q", field, pid, l)
			}
			return kb / 1024
		}
	}
	b.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}
