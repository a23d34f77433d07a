package agent

import (
	"encoding/hex"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
)

// TestApprovalStatementEncoding: the signed bytes are a fixed, versioned
// encoding (a change breaks every bot/agent pair of different versions,
// so it must be deliberate: -update and a new version), and unambiguous:
// moving bytes between fields changes them.
func TestApprovalStatementEncoding(t *testing.T) {
	st := ApprovalStatement{Version: 1, RequestID: "r-1", Host: "gitlab-1", Operation: "migrate",
		Argv: []string{"gitlab-rake", "db:migrate"}, Requester: "U-alice", Approvers: []string{"U-bob", "U-carol"},
		IssuedAt: 1767225600, ExpiresAt: 1767225900}
	b, err := st.SignedBytes()
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "approval-statement-v1.hex", []byte(hex.Dump(b)))

	variants := []func(*ApprovalStatement){
		func(s *ApprovalStatement) { s.Argv = []string{"gitlab-rakedb:migrate"} },
		func(s *ApprovalStatement) { s.Argv = []string{"gitlab-rake", "db:migrate", ""} },
		func(s *ApprovalStatement) { s.RequestID, s.Host = "r-1gitlab-1", "" },
		func(s *ApprovalStatement) { s.Requester, s.Approvers = "U-aliceU-bob", []string{"U-carol"} },
		func(s *ApprovalStatement) { s.ExpiresAt++ },
	}
	for i, f := range variants {
		v := st
		f(&v)
		vb, err := v.SignedBytes()
		if err != nil {
			t.Fatal(err)
		}
		if string(vb) == string(b) {
			t.Errorf("variant %d encodes like the original", i)
		}
	}
	for _, bad := range []ApprovalStatement{{Version: 2}, {Version: 1, Requester: "\xff"}} {
		if _, err := bad.SignedBytes(); err == nil {
			t.Errorf("%+v encoded", bad)
		}
	}
}

// TestMutatingRunNeedsApproval: with the bot's client certificate, a
// mutating run without a valid statement for exactly this run is refused
// (403, field approval) and recorded in requests.log; nothing starts.
// Read-only runs need only the certificate.
func TestMutatingRunNeedsApproval(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {}})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	// The attacker: the bot's certificate, and the request the issue found
	// running db:migrate with no approval evidence.
	status, data := rawRequest(t, c, http.MethodPost, "/v1/jobs", `{"operation":"migrate"}`)
	if status != http.StatusBadRequest || !strings.Contains(string(data), "nothing was started") {
		t.Errorf(`{"operation":"migrate"}: %d %s`, status, data)
	}
	status, data = rawRequest(t, c, http.MethodPost, "/v1/jobs", `{"operation":"migrate","argv":["gitlab-rake","db:migrate"],"request_id":"r-x","requester":"mallory","approvers":["eve"]}`)
	if status != http.StatusForbidden || !strings.Contains(string(data), "no approval statement") {
		t.Errorf("migrate with argv, without statement: %d %s", status, data)
	}

	otherDir := t.TempDir()
	if err := GenerateApprovalKeys(otherDir); err != nil {
		t.Fatal(err)
	}
	forger := testSigner(t, otherDir)
	own := testSigner(t, certs)
	past := own
	past.ApprovalSigner = &ApprovalSigner{key: own.key, ttl: DefaultApprovalTTL, now: func() time.Time { return time.Now().Add(-time.Hour) }}
	future := own
	future.ApprovalSigner = &ApprovalSigner{key: own.key, ttl: DefaultApprovalTTL, now: func() time.Time { return time.Now().Add(time.Hour) }}
	long := own
	long.ApprovalSigner = &ApprovalSigner{key: own.key, ttl: 2 * MaxApprovalTTL, now: time.Now}

	// base is a valid approved migrate; each case breaks one thing.
	base := func() RunRequest {
		return approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "r-1", Requester: "alice", Approvers: []string{"bob"}})
	}
	resign := func(s signer, edit func(*ApprovalStatement)) RunRequest {
		req := base()
		st := *req.Approval
		edit(&st)
		st = s.mustSign(t, st)
		req.Approval = &st
		return req
	}
	cases := []struct {
		name string
		req  RunRequest
		says string
	}{
		{"unsigned", func() RunRequest { r := base(); r.Approval = nil; return r }(), "no approval statement"},
		{"forged: another key", resign(forger, func(*ApprovalStatement) {}), "signature does not verify"},
		{"altered after signing", func() RunRequest {
			r := base()
			r.Approval.Approvers = []string{"mallory"}
			r.Approvers = []string{"mallory"}
			return r
		}(), "signature does not verify"},
		{"no signature", func() RunRequest { r := base(); r.Approval.Signature = nil; return r }(), "signature does not verify"},
		{"expired", resign(past, func(*ApprovalStatement) {}), "expired at"},
		{"issued in the future", resign(future, func(*ApprovalStatement) {}), "in this host's future"},
		{"valid too long", resign(long, func(*ApprovalStatement) {}), "more than the 1h0m0s allowed"},
		{"other host", resign(own, func(s *ApprovalStatement) { s.Host = "gitlab-2" }), `host "gitlab-2", not "test-host"`},
		{"other request", resign(own, func(s *ApprovalStatement) { s.RequestID = "r-2" }), `request "r-2", not "r-1"`},
		{"other operation", resign(own, func(s *ApprovalStatement) { s.Operation = gitlab.OpRestart }), `operation "restart", not "migrate"`},
		{"other argv", resign(own, func(s *ApprovalStatement) { s.Argv = []string{"gitlab-ctl", "restart"} }), `approves ["gitlab-ctl" "restart"]`},
		{"other requester", resign(own, func(s *ApprovalStatement) { s.Requester = "carol" }), `requester "carol"`},
		{"other approvers", resign(own, func(s *ApprovalStatement) { s.Approvers = []string{"carol"} }), `approvers ["carol"]`},
		{"self-approved", func() RunRequest {
			r := base()
			r.Approvers = []string{"alice"}
			st := *r.Approval
			st.Approvers = r.Approvers
			st = own.mustSign(t, st)
			r.Approval = &st
			return r
		}(), "other than the requester"},
	}
	for _, tc := range cases {
		_, err := c.Run(ctx, tc.req, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden || ae.Field != "approval" || !strings.Contains(ae.Message, tc.says) {
			t.Errorf("%s: want 403 on approval saying %q, got %v", tc.name, tc.says, err)
		}
	}
	if got := ranLog(t, fake); len(got) != 0 {
		t.Fatalf("refused runs ran: %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.StateDir, jobsDirName)); len(entries) != 0 {
		t.Errorf("refused runs left %d job records", len(entries))
	}
	log, err := os.ReadFile(filepath.Join(cfg.StateDir, requestsLogName))
	if err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(string(log), `"status":403`); n != len(cases)+1 {
		t.Errorf("requests.log has %d refusals (403), want %d:\n%s", n, len(cases)+1, log)
	}
	if !strings.Contains(string(log), "signature does not verify") {
		t.Errorf("requests.log does not say why:\n%s", log)
	}

	// A read-only run needs no statement and takes none.
	if _, err := c.Run(ctx, RunRequest{Operation: gitlab.OpServices}, nil); err != nil {
		t.Errorf("read-only run without a statement: %v", err)
	}
	ro := RunRequest{Operation: gitlab.OpServices, Approval: base().Approval}
	var ae *APIError
	if _, err := c.Run(ctx, ro, nil); !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field != "approval" {
		t.Errorf("read-only run with a statement: want 400 on approval, got %v", err)
	}
	// And the valid statement runs.
	if _, err := c.Run(ctx, base(), nil); err != nil {
		t.Fatalf("a valid statement was refused: %v", err)
	}
	if got := ranLog(t, fake); len(got) != 2 {
		t.Errorf("want the status and the approved migrate to have run, got %q", got)
	}
}

// TestReplayedStatementRefused: a statement starts one job at most, even
// when the job's record was pruned and the agent restarted in between.
func TestReplayedStatementRefused(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {}})
	cfg := testConfig(t, fake, certs)
	cfg.KeepJobs = 1 // every new job prunes the one before
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	req := approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "r-replay"})
	first, err := c.Run(ctx, req, nil)
	if err != nil {
		t.Fatal(err)
	}
	replay := func(c *Client, when string) {
		t.Helper()
		_, err := c.Run(ctx, req, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusConflict {
			t.Errorf("%s: want 409, got %v", when, err)
		}
	}
	replay(c, "at once")
	// A read-only job prunes the migrate's record: only the record of used
	// statements remembers it now.
	if _, err := c.Run(ctx, RunRequest{Operation: gitlab.OpServices}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Job(ctx, first.ID); !errors.Is(err, ErrJobNotFound) {
		t.Fatalf("the migrate's record was not pruned: %v", err)
	}
	replay(c, "after the record was pruned")
	rs.stop()
	rs2 := startServer(t, cfg)
	replay(botClient(t, rs2.url, certs), "after a restart")
	if got := ranLog(t, fake); len(got) != 2 {
		t.Errorf("want one migrate and one status, got %q", got)
	}
}
