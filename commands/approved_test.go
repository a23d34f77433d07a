package commands_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestAgentRefusesArgvItDoesNotBuild: a bot whose catalogue builds another
// argv than the agent's (injected) has its approved request refused by the
// agent. The request ends failed with the agent's reason, naming both
// command lines, in the thread, and nothing ran on the host: no job, and
// the simulated GitLab still has its migrations down.
func TestAgentRefusesArgvItDoesNotBuild(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	commands.SetArgvSent(s.Router, func(argv []string) []string {
		return append(slices.Clone(argv), "VERBOSE=true")
	})
	id, root := openMigrate(t, s, rec)
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	req, err := s.DB.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if req.State != approvals.StateFailed || !strings.Contains(req.Error, `["gitlab-rake" "db:migrate" "VERBOSE=true"]`) ||
		!strings.Contains(req.Error, `builds for migrate (["gitlab-rake" "db:migrate"])`) {
		t.Errorf("request %s: %q, want failed naming both argvs", req.State, req.Error)
	}
	th := rec.thread(root)
	contains(t, th, "nothing was started")
	contains(t, th, `["gitlab-rake" "db:migrate" "VERBOSE=true"]`)
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Errorf("migrate ran %d times on the agent, want 0", n)
	}
	// The simulated GitLab is untouched: its migrations are still down.
	commands.SetArgvSent(s.Router, nil)
	if err := command(t, s, rec, alice, "status"); err != nil {
		t.Fatal(err)
	}
	var status []string
	for _, r := range rec.roots() {
		if r != root {
			status = append(status, rec.thread(r)...)
		}
	}
	contains(t, status, "48 up, 6 down")
}

// TestAgentRefusesStatementForAnotherHost: when the bot's name for a host
// is not the agent's own, the agent refuses the signed statement (it
// approves a run elsewhere); the request ends failed with the agent's
// reason in the thread, and nothing ran.
func TestAgentRefusesStatementForAnotherHost(t *testing.T) {
	s, rec := setup(t, simtest.Options{AgentName: "gitlab-other"})
	id, root := openMigrate(t, s, rec)
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	req, err := s.DB.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if req.State != approvals.StateFailed || !strings.Contains(req.Error, `host "gitlab-sim", not "gitlab-other"`) {
		t.Errorf("request %s: %q, want failed naming both hosts", req.State, req.Error)
	}
	contains(t, rec.thread(root), "nothing was started")
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Errorf("migrate ran %d times on the agent, want 0", n)
	}
	log, err := os.ReadFile(filepath.Join(s.Dir, "agent", "requests.log"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(log), `"status":403`) || !strings.Contains(string(log), "gitlab-other") {
		t.Errorf("the agent's requests.log lacks the refusal:\n%s", log)
	}
}
