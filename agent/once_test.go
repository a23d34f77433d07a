package agent

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestRequestRunsOnce: the agent refuses a second mutating job for a
// request ID it already ran, also after a restart (records are reloaded).
func TestRequestRunsOnce(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{
		"db:migrate": {Lines: []fakeLine{{"stdout", "main: == 1 X: migrated (0.1s)"}}},
	})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)
	first, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-once", Requester: "alice"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-once", Requester: "alice"}), nil)
	var ae *APIError
	if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Message, "already ran here as job "+first.ID) {
		t.Fatalf("second run of the same request: want 409 naming job %s, got %v", first.ID, err)
	}
	if got := ranLog(t, fake); len(got) != 1 {
		t.Errorf("the program ran %d times, want 1: %q", len(got), got)
	}
	// Read-only jobs and other requests are not affected.
	if _, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-other"}), nil); err != nil {
		t.Errorf("another request was refused: %v", err)
	}

	// A new agent on the same state directory remembers.
	rs.stop()
	rs2 := startServer(t, cfg)
	c2 := botClient(t, rs2.url, certs)
	if _, err := c2.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-once"}), nil); !errors.As(err, &ae) || ae.Status != http.StatusConflict {
		t.Fatalf("after a restart: want 409, got %v", err)
	}
}
