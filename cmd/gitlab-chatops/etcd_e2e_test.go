package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics/metricstest"
)

// TestServeOnEtcdSurvivesEtcdRestart runs serve on a real etcd
// (storage.backend: etcd) with a real agent whose migrate takes a few
// seconds, and stops and restarts etcd while that migrate runs: /readyz
// says etcd is not ready meanwhile and ready again after; the replica
// stops leading (gitlab_chatops_leader 0) and following the job while it
// cannot renew its lease, reconnects by itself, is elected again and
// re-attaches to the job; the migrate's outcome is recorded and posted
// once (and its job ID recorded once); a status typed while etcd is down
// is answered and audited (once); commands typed after the restart work; and the audit trail,
// read from etcd by `audit verify|export --config`, verifies and holds
// every step of each request exactly once.
func TestServeOnEtcdSurvivesEtcdRestart(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	if testing.Short() {
		t.Skip("starts etcd, an agent and serve")
	}
	etcdSrv := etcdtest.Start(t)
	storage := fmt.Sprintf("storage: {backend: etcd, endpoints: [%q], prefix: /restart-test/, lease_ttl: 4s}\n", etcdSrv.Endpoints()[0])
	channel, alice, bob := model.NewId(), model.NewId(), model.NewId()
	// At speed 1 a migrate takes about 7 s: long enough to restart etcd
	// within it.
	srv := startMMServeOn(t, storage, "1", bob, "")
	waitReady(t, srv, true)
	waitMetric(t, srv, "gitlab_chatops_leader", nil, 1) // the one replica is elected
	if !strings.Contains(srv.logs.String(), `"storage":"etcd","storage_at":"`+etcdSrv.Endpoints()[0]+` /restart-test/"`) {
		t.Errorf("the start log does not name the etcd backend:\n%s", srv.logs.String())
	}

	approve := func(nth int) {
		t.Helper()
		post, actx := srv.fm.approveContext(t)
		click, _ := json.Marshal(model.PostActionIntegrationRequest{UserId: bob, UserName: "bob", ChannelId: channel, PostId: post.Id, Context: actx})
		if a := send(mustRequest(t, "POST", srv.base+"/mattermost/actions", "application/json", string(click))); a.err != nil || a.status != 200 {
			t.Fatalf("approve click %d: %+v", nth, a)
		}
	}
	srv.slash(t, alice, channel, "migrate -- before the etcd restart")
	approve(1)
	// The request is running (read from etcd at the scrape) ...
	waitMetric(t, srv, "gitlab_chatops_requests", []string{"state", "running"}, 1)
	// ... when etcd goes away, for a few seconds.
	etcdSrv.Stop()
	waitReady(t, srv, false)
	// Unable to renew its lease, the replica stops leading (and following
	// the job) before the lease could expire.
	waitMetric(t, srv, "gitlab_chatops_leader", nil, 0)
	// A command typed meanwhile waits for etcd: it is answered, and
	// audited, once etcd is back (counted below).
	srv.slash(t, alice, channel, "status")
	etcdSrv.Restart()
	waitReady(t, srv, true)
	waitMetric(t, srv, "gitlab_chatops_leader", nil, 1) // leading again
	srv.waitChat(t, "Done: migrate on gitlab-sim succeeded")

	// The status typed while etcd was down is answered.
	srv.waitChat(t, "**status** on **gitlab-sim**")
	// After the restart the replica works as before.
	srv.slash(t, alice, channel, "restart puma -- after the etcd restart")
	approve(2)
	srv.waitChat(t, "Done: restart")
	waitMetric(t, srv, "gitlab_chatops_request_transitions_total", []string{"operation", "restart", "state", "succeeded"}, 1)
	if n := len(srv.fm.postsWith("Done: migrate on gitlab-sim succeeded")); n != 1 {
		t.Errorf("the migrate's outcome was posted %d times, want once", n)
	}

	// The trail, read from etcd while serve runs: intact, and each
	// request's steps recorded once.
	var out, errOut bytes.Buffer
	if code := run(context.Background(), []string{"audit", "verify", "--config", srv.config}, nil, &out, &errOut); code != 0 {
		t.Fatalf("audit verify: exit %d\n%s%s", code, out.String(), errOut.String())
	}
	if !strings.HasPrefix(out.String(), "audit trail intact: ") {
		t.Errorf("audit verify: %s", out.String())
	}
	out.Reset()
	if code := run(context.Background(), []string{"audit", "export", "--config", srv.config}, nil, &out, &errOut); code != 0 {
		t.Fatalf("audit export: exit %d\n%s", code, errOut.String())
	}
	steps := map[string]map[string]int{} // request → action → count
	statuses := 0
	for line := range strings.Lines(out.String()) {
		var e approvals.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		if e.Action == approvals.ActionReadOnlyRun && e.Operation == "migrate-status" {
			statuses++
		}
		if e.RequestID == "" {
			continue
		}
		if steps[e.RequestID] == nil {
			steps[e.RequestID] = map[string]int{}
		}
		steps[e.RequestID][e.Action]++
	}
	if statuses != 1 {
		t.Errorf("%d status runs audited, want 1 (typed while etcd was down):\n%s", statuses, out.String())
	}
	if len(steps) != 2 {
		t.Fatalf("the trail names %d requests, want 2:\n%s", len(steps), out.String())
	}
	for id, actions := range steps {
		for _, a := range []string{approvals.ActionRequestOpened, approvals.ActionRequestApproved, approvals.ActionRequestStarted, approvals.ActionRequestFinished} {
			if actions[a] != 1 {
				t.Errorf("request %s: %d %s entries, want 1 (all: %v)", id, actions[a], a, actions)
			}
		}
		for a, n := range actions {
			if n > 1 {
				t.Errorf("request %s: %s recorded %d times, want once (all: %v)", id, a, n, actions)
			}
		}
	}
}

// TestServeOnEtcdStopsWhileEtcdIsDown: serve on etcd stops cleanly and
// within shutdown_grace when etcd is gone at SIGTERM: nothing waits for
// etcd without bound (resigning, releasing, revoking the lease).
func TestServeOnEtcdStopsWhileEtcdIsDown(t *testing.T) {
	t.Parallel() // real processes, own state and ports; mostly waiting (TTLs, timeouts), so it overlaps another
	if testing.Short() {
		t.Skip("starts etcd, an agent and serve")
	}
	etcdSrv := etcdtest.Start(t)
	storage := fmt.Sprintf("storage: {backend: etcd, endpoints: [%q], prefix: /stop-test/, lease_ttl: 4s}\n", etcdSrv.Endpoints()[0])
	srv := startMMServeOn(t, storage, "0", model.NewId(), "shutdown_grace: 20s\n")
	waitMetric(t, srv, "gitlab_chatops_leader", nil, 1)
	etcdSrv.Stop()
	waitReady(t, srv, false)
	start := time.Now()
	srv.stop() // fails the test if serve returns an error
	d := time.Since(start)
	if d > 20*time.Second {
		t.Errorf("serve took %s to stop, beyond its shutdown_grace of 20s", d)
	}
	t.Logf("serve stopped in %s with etcd down", d.Round(time.Millisecond))
}

// waitReady waits (60 s at most) until serve's /readyz says ready (200) or,
// when !ready, that etcd is not ready (503 naming etcd).
func waitReady(t *testing.T, srv *mmServe, ready bool) {
	t.Helper()
	var last answer
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		last = send(mustRequest(t, "GET", srv.base+"/readyz", "", ""))
		if ready && last.status == http.StatusOK || !ready && last.status == http.StatusServiceUnavailable && strings.Contains(last.body, `"etcd":`) {
			return
		}
	}
	t.Fatalf("/readyz never said ready=%v: last %+v\nlog:\n%s", ready, last, srv.logs.String())
}

// waitMetric waits (60 s at most) until serve's /metrics has name{labels}
// at want.
func waitMetric(t *testing.T, srv *mmServe, name string, labels []string, want float64) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if got, _ = metricstest.Scrape(t, srv.base+"/metrics").Value(name, labels...); got == want {
			return
		}
	}
	t.Fatalf("%s%v is %v, want %v\nlog:\n%s", name, labels, got, want, srv.logs.String())
}

// TestAuditOnEtcdRefusals: the audit commands with a configuration whose
// trail is in etcd refuse, with what to do, a --db (a bbolt file) beside
// it, a prefix that holds no gitlab-chatops data (writing nothing there),
// and an etcd that does not answer.
func TestAuditOnEtcdRefusals(t *testing.T) {
	if testing.Short() {
		t.Skip("starts etcd")
	}
	clearChatEnv(t)
	etcdSrv := etcdtest.Start(t)
	dir := t.TempDir()
	write := func(name, endpoint string) string {
		p := filepath.Join(dir, name)
		cfg := fmt.Sprintf("storage: {backend: etcd, endpoints: [%q], prefix: /nothing-here/}\napproval_key: %s\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n", endpoint, testApprovalKey(t, filepath.Join(dir, name+".keys")))
		if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, down := write("etcd.yaml", etcdSrv.Endpoints()[0]), write("down.yaml", fmt.Sprintf("http://127.0.0.1:%d", freePort(t)))
	for _, tc := range []struct {
		name string
		args []string
		code int
		want string
	}{
		{"--db beside etcd", []string{"audit", "verify", "--config", good, "--db", filepath.Join(dir, "x.db")}, 2,
			"audit verify: --db names a bbolt file, but " + good + " keeps the trail in etcd (storage.backend: etcd); leave --db out to read etcd"},
		{"empty prefix", []string{"audit", "export", "--config", good}, 2,
			"etcd at " + etcdSrv.Endpoints()[0] + " holds no gitlab-chatops data under the prefix /nothing-here/ (no meta/schema_version): check storage.prefix, or copy a bbolt store there first with `gitlab-chatops storage copy`"},
		{"etcd down", []string{"audit", "tail", "--config", down}, 1, "check storage.endpoints and storage.tls, and that etcd runs"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			if code := run(context.Background(), tc.args, nil, &out, &errOut); code != tc.code || !strings.Contains(errOut.String(), tc.want) {
				t.Errorf("exit %d, want %d and %q:\n%s%s", code, tc.code, tc.want, out.String(), errOut.String())
			}
		})
	}
	// Nothing was written under the prefix.
	c, err := clientv3.New(clientv3.Config{Endpoints: etcdSrv.Endpoints(), DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Get(context.Background(), "/nothing-here/", clientv3.WithPrefix(), clientv3.WithCountOnly())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Count != 0 {
		t.Errorf("the audit commands wrote %d keys under the prefix", resp.Count)
	}
}
