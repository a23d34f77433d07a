package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics/metricstest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestMain lets the test binary play gitlab-sim: the simulated agent runs
// its own executable as gitlab-rake and gitlab-ctl.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "gitlab-sim" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// TestAgentMetricsListener runs the real agent (serve --simulate, its jobs
// real processes) with a metrics listener, runs a status and a migrate
// through the agent client, has a second migrate refused as busy while
// the first runs, and scrapes: /metrics counts the jobs, their durations
// and the busy rejection; /healthz answers without naming any job; and
// the agent's own port serves neither.
func TestAgentMetricsListener(t *testing.T) {
	dir := t.TempDir()
	port, mport := freePort(t), freePort(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var logs simtest.LockedBuffer
	go func() {
		done <- runContext(ctx, []string{"serve", "--simulate", "--port", strconv.Itoa(port), "--state-dir", dir,
			"--sim-speed", "0.2", "--metrics-listen", fmt.Sprintf("127.0.0.1:%d", mport)}, &logs, &logs)
	}()
	t.Cleanup(func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("agent exited %d:\n%s", code, logs.String())
		}
	})
	base := fmt.Sprintf("http://127.0.0.1:%d", mport)
	waitHTTP(t, base+"/healthz", &logs)

	c, err := agent.NewClient(agent.ClientConfig{URL: fmt.Sprintf("http://127.0.0.1:%d", port)})
	if err != nil {
		t.Fatal(err)
	}
	if rec, err := c.Run(ctx, agent.RunRequest{Operation: gitlab.OpMigrateStatus}, func(agent.Event) error { return nil }); err != nil || rec.State != agent.StateSucceeded {
		t.Fatalf("status: %v %+v", err, rec)
	}

	signer, err := agent.LoadApprovalSigner(filepath.Join(dir, agent.ApprovalKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	migrate := func(id string) agent.RunRequest {
		argv := []string{"gitlab-rake", "db:migrate"}
		st, err := signer.Sign(agent.ApprovalStatement{RequestID: id, Host: simHostName, Operation: gitlab.OpMigrate,
			Argv: argv, Requester: "U-alice", Approvers: []string{"U-bob"}})
		if err != nil {
			t.Fatal(err)
		}
		return agent.RunRequest{Operation: gitlab.OpMigrate, Argv: argv, RequestID: id, Requester: "U-alice", Approvers: []string{"U-bob"}, Approval: &st}
	}
	started := make(chan struct{})
	first := make(chan error, 1)
	go func() {
		var once sync.Once
		rec, err := c.Run(ctx, migrate("r-first"), func(ev agent.Event) error {
			once.Do(func() { close(started) })
			return nil
		})
		if err == nil && rec.State != agent.StateSucceeded {
			err = fmt.Errorf("first migrate %s", rec.State)
		}
		first <- err
	}()
	select {
	case <-started:
	case err := <-first:
		t.Fatalf("first migrate ended before it streamed: %v", err)
	}
	_, err = c.Run(ctx, migrate("r-second"), func(agent.Event) error { return nil })
	var busy *agent.BusyError
	if !errors.As(err, &busy) {
		t.Fatalf("second migrate while the first runs: %v, want busy (409)", err)
	}
	if err := <-first; err != nil {
		t.Fatal(err)
	}

	// The agent publishes a job's end to its client before it counts the
	// job in its metrics (runJob): wait until both ended jobs are counted.
	fams := scrapeUntil(t, base+"/metrics", "both ended jobs counted", func(f metricstest.Families) bool {
		status, _ := f.Value("gitlab_chatops_agent_job_run_seconds_count", "operation", "migrate-status", "state", "succeeded")
		migrate, _ := f.Value("gitlab_chatops_agent_job_run_seconds_count", "operation", "migrate", "state", "succeeded")
		return status >= 1 && migrate >= 1
	})
	fams.Check(t,
		metricstest.Want{Name: "gitlab_chatops_agent_jobs_started_total", Labels: []string{"operation", "migrate-status"}, Value: 1},
		metricstest.Want{Name: "gitlab_chatops_agent_jobs_started_total", Labels: []string{"operation", "migrate"}, Value: 1},
		metricstest.Want{Name: "gitlab_chatops_agent_job_run_seconds_count", Labels: []string{"operation", "migrate-status", "state", "succeeded"}, Value: 1},
		metricstest.Want{Name: "gitlab_chatops_agent_job_run_seconds_count", Labels: []string{"operation", "migrate", "state", "succeeded"}, Value: 1},
		metricstest.Want{Name: "gitlab_chatops_agent_busy_rejections_total", Labels: []string{"kind", "mutating"}, Value: 1},
		metricstest.Want{Name: "gitlab_chatops_agent_busy_rejections_total", Labels: []string{"kind", "read_only"}, Value: 0},
		metricstest.Want{Name: "gitlab_chatops_agent_jobs_running", Labels: []string{"kind", "mutating"}, Value: 0},
		metricstest.Want{Name: "gitlab_chatops_agent_jobs_running", Labels: []string{"kind", "read_only"}, Value: 0},
	)
	if sum, _ := fams.Value("gitlab_chatops_agent_job_run_seconds_sum", "operation", "migrate", "state", "succeeded"); sum <= 0 {
		t.Errorf("the migrate's duration is %v s", sum)
	}

	resp, err := http.Get(base + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	var h map[string]string
	err = json.NewDecoder(resp.Body).Decode(&h)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 200 || h["status"] != "ok" || len(h) != 2 {
		t.Errorf("/healthz: %d %v %v, want 200 with status ok and the version only", resp.StatusCode, h, err)
	}
	for _, path := range []string{"/metrics", "/healthz"} {
		resp, err := http.Get(fmt.Sprintf("http://127.0.0.1:%d%s", port, path))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("the agent's own port serves %s: %s", path, resp.Status)
		}
	}
}

// scrapeUntil scrapes url until cond holds of the scrape and returns it
// (a deadlock guard of 10 s fails t with what; no timing assumption).
func scrapeUntil(t *testing.T, url, what string, cond func(metricstest.Families) bool) metricstest.Families {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		fams := metricstest.Scrape(t, url)
		if cond(fams) {
			return fams
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s on %s", what, url)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitHTTP waits until url answers 200 (the agent has started).
func waitHTTP(t *testing.T, url string, logs *simtest.LockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not answer: %v\n%s", url, err, logs.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
