package agent

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestJobForRequest: the bot can find a request's job by request ID while
// it runs, once it ended and after an agent restart; a request that never
// ran is reported as such, and a missing request_id is a 400.
func TestJobForRequest(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{
		"db:migrate": {Mode: "count", N: 6, Interval: "200ms"},
	})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	if _, err := c.JobForRequest(ctx, "req-never"); !errors.Is(err, ErrNoJobForRequest) {
		t.Fatalf("unknown request: want ErrNoJobForRequest, got %v", err)
	}
	col := newCollector()
	done := runAsync(ctx, c, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-1", Requester: "alice"}), col)
	id := col.waitJobID(t)
	running, err := c.JobForRequest(ctx, "req-1")
	if err != nil {
		t.Fatalf("lookup while running: %v", err)
	}
	if running.ID != id || running.RequestID != "req-1" {
		t.Errorf("lookup while running: got job %s for %q, want %s", running.ID, running.RequestID, id)
	}
	res := waitResult(t, done)
	if res.err != nil {
		t.Fatal(res.err)
	}
	ended, err := c.JobForRequest(ctx, "req-1")
	if err != nil || ended.ID != id || ended.State != StateSucceeded || ended.Digest != res.rec.Digest {
		t.Fatalf("lookup after the end: got %+v, %v; want the final record of %s", ended.Summary(), err, id)
	}

	rs.stop()
	rs2 := startServer(t, cfg)
	c2 := botClient(t, rs2.url, certs)
	if again, err := c2.JobForRequest(ctx, "req-1"); err != nil || again.ID != id {
		t.Fatalf("lookup after an agent restart: got %s, %v; want %s", again.ID, err, id)
	}
	if status, body := rawRequest(t, c2, http.MethodGet, "/v1/jobs", ""); status != http.StatusBadRequest {
		t.Errorf("no request_id: got %d %s, want 400", status, body)
	}
}

// TestLookupMissClosesRequest: a lookup that finds no job for a request
// closes it, so the agent's "no job" is definitive: the request's run,
// arriving late (its statement signed before the lookup and still valid),
// is refused with 409 and starts nothing, also after an agent restart. A
// request whose statement was used but whose job was pruned is not
// declared not started: its outcome is unknown (410).
func TestLookupMissClosesRequest(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{
		"db:migrate": {Lines: []fakeLine{{"stdout", "main: == 1 X: migrated (0.1s)"}}},
	})
	cfg := testConfig(t, fake, certs)
	cfg.KeepJobs = 1
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	late := approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-late", Requester: "alice"})
	lateAfterRestart := approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-late-2", Requester: "alice"})
	for _, rid := range []string{"req-late", "req-late-2"} {
		if _, err := c.JobForRequest(ctx, rid); !errors.Is(err, ErrNoJobForRequest) {
			t.Fatalf("lookup of %s: want ErrNoJobForRequest, got %v", rid, err)
		}
	}
	// Asking again gives the same answer.
	if _, err := c.JobForRequest(ctx, "req-late"); !errors.Is(err, ErrNoJobForRequest) {
		t.Fatalf("second lookup: want ErrNoJobForRequest, got %v", err)
	}
	declared := func(c *Client, req RunRequest) {
		t.Helper()
		_, err := c.Run(ctx, req, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Message, "this request was declared not started; open a new request") {
			t.Fatalf("late run of %s: want 409 declared not started, got %v", req.RequestID, err)
		}
	}
	declared(c, late)
	if got := ranLog(t, fake); len(got) != 0 {
		t.Fatalf("the program ran for a request declared not started: %q", got)
	}

	// Another request runs, and is then pruned (keep_jobs 1) by a third.
	if _, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-ran"}), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-ran-2"}), nil); err != nil {
		t.Fatal(err)
	}

	rs.stop()
	rs2 := startServer(t, cfg)
	c2 := botClient(t, rs2.url, certs)
	declared(c2, late)
	declared(c2, lateAfterRestart)
	if got := ranLog(t, fake); len(got) != 2 {
		t.Fatalf("the program ran %d times, want 2 (the two other requests): %q", len(got), got)
	}
	_, err := c2.JobForRequest(ctx, "req-ran")
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusGone {
		t.Fatalf("lookup of a pruned request that ran: want 410 (outcome unknown), got %v", err)
	}
}
