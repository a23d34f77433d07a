package agent

import (
	"errors"
	"net/http"
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
