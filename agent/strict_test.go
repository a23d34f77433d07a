package agent

import (
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestStrictDecoding: a body the agent cannot read in exactly one way is
// refused before anything starts. encoding/json alone would run the last
// of duplicate keys, so {"operation":"migrate-status","operation":"migrate"}
// used to run migrate.
func TestStrictDecoding(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {}})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)

	migrateArgv := `"argv":["gitlab-rake","db:migrate"]`
	cases := []struct {
		name   string
		body   string
		status int
		says   string
	}{
		{"duplicate operation", `{"operation":"migrate-status","operation":"migrate",` + migrateArgv + `}`,
			http.StatusBadRequest, `key "operation" more than once`},
		{"duplicate operation, other case", `{"operation":"migrate-status","Operation":"migrate",` + migrateArgv + `}`,
			http.StatusBadRequest, `more than once`},
		{"duplicate key, long s folds to s", `{"operation":"services","requester":"alice","requeſter":"mallory"}`,
			http.StatusBadRequest, `more than once`},
		{"duplicate nested key", `{"operation":"services","args":{"service":"puma","service":"gitaly"}}`,
			http.StatusBadRequest, `key "args.service" more than once`},
		{"duplicate argv", `{"operation":"services","argv":["gitlab-ctl","status"],"argv":["gitlab-ctl","status"]}`,
			http.StatusBadRequest, `more than once`},
		{"unknown field", `{"operation":"services","bogus":1}`, http.StatusBadRequest, `unknown field "bogus"`},
		{"unknown nested field", `{"operation":"services","args":{"service":"puma","program":"/bin/sh"}}`,
			http.StatusBadRequest, `unknown field "program"`},
		{"trailing data", `{"operation":"services"} {"operation":"migrate"}`, http.StatusBadRequest, "after the JSON object"},
		{"empty", ` `, http.StatusBadRequest, "empty"},
		{"oversized", `{"operation":"services","requester":"` + strings.Repeat("a", maxRunBody) + `"}`,
			http.StatusRequestEntityTooLarge, "larger than"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, data := rawRequest(t, c, http.MethodPost, "/v1/jobs", tc.body)
			var er ErrorResponse
			if err := json.Unmarshal(data, &er); err != nil || status != tc.status || !strings.Contains(er.Error, tc.says) {
				t.Errorf("status %d %s, want %d saying %q", status, data, tc.status, tc.says)
			}
		})
	}
	if got := ranLog(t, fake); len(got) != 0 {
		t.Errorf("refused bodies ran: %q", got)
	}
	if entries, _ := os.ReadDir(filepath.Join(cfg.StateDir, jobsDirName)); len(entries) != 0 {
		t.Errorf("refused bodies left %d job records", len(entries))
	}
	// The strict body is still accepted.
	status, data := rawRequest(t, c, http.MethodPost, "/v1/jobs", `{"operation":"services","argv":["gitlab-ctl","status"]}`)
	if status != http.StatusOK {
		t.Errorf("a well-formed request: %d %s", status, data)
	}
}

// TestArgvMismatchRefused: the agent runs only the argv that was approved.
// A bot whose catalogue built something else gets a refusal naming both
// command lines, and nothing starts.
func TestArgvMismatchRefused(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {}})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	c := botClient(t, rs.url, certs)
	ctx := testCtx(t)

	other := approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-argv"})
	other.Argv = []string{"gitlab-rake", "db:migrate", "VERBOSE=true"}
	missing := approved(t, certs, RunRequest{Operation: gitlab.OpRestart, RequestID: "req-noargv"})
	missing.Argv = nil
	readOnly := RunRequest{Operation: gitlab.OpServices, Argv: []string{"gitlab-ctl", "status", "postgresql"}}
	for _, tc := range []struct {
		name string
		req  RunRequest
		says []string
	}{
		{"mutating, other argv", other, []string{`["gitlab-rake" "db:migrate" "VERBOSE=true"]`, `["gitlab-rake" "db:migrate"]`, "nothing was started"}},
		{"mutating, no argv", missing, []string{"argv: required for restart"}},
		{"read-only, other argv", readOnly, []string{`["gitlab-ctl" "status" "postgresql"]`, `["gitlab-ctl" "status"]`}},
	} {
		_, err := c.Run(ctx, tc.req, nil)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || ae.Field != "argv" {
			t.Errorf("%s: want 400 naming argv, got %v", tc.name, err)
			continue
		}
		for _, s := range tc.says {
			if !strings.Contains(ae.Message, s) {
				t.Errorf("%s: refusal %q does not say %q", tc.name, ae.Message, s)
			}
		}
	}
	if got := ranLog(t, fake); len(got) != 0 {
		t.Errorf("refused requests ran: %q", got)
	}
	log, err := os.ReadFile(filepath.Join(cfg.StateDir, requestsLogName))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), "is not what this agent builds for migrate") {
		t.Errorf("requests.log lacks the refusal:\n%s", log)
	}
	// The same request with the agent's argv runs: the refusal was about
	// the argv alone.
	if _, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "req-argv"}), nil); err != nil {
		t.Errorf("the matching argv was refused: %v", err)
	}
}
