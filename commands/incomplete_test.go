package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// losingAgent hands the bot every event of op's runs but line 2: the
// agent's record counts a line the bot never received.
type losingAgent struct {
	commands.Agent
	op string
}

func (a losingAgent) Run(ctx context.Context, req agent.RunRequest, on func(agent.Event) error) (agent.JobRecord, error) {
	if req.Operation != a.op {
		return a.Agent.Run(ctx, req, on)
	}
	return a.Agent.Run(ctx, req, func(ev agent.Event) error {
		if ev.Type == agent.EventLine && ev.Line != nil && ev.Line.Seq == 2 {
			return nil
		}
		return on(ev)
	})
}

// TestIncompleteOutputIsNotVerified: a migrate whose output reached the
// bot with a line missing ends as its job and after-check say, but the
// thread, the card and the outcome say the output is incomplete and not
// verified, and the audit's job.output entry says so too.
func TestIncompleteOutputIsNotVerified(t *testing.T) {
	s, rec := setup(t, simtest.Options{WrapAgent: func(a commands.Agent) commands.Agent { return losingAgent{Agent: a, op: "migrate"} }})
	id, root := openMigrate(t, s, rec)
	req := approveAndGet(t, s, rec, id)
	const want = "Output incomplete: I received"
	if !strings.Contains(req.Outcome+req.Error, want) {
		t.Errorf("request ended %s, outcome %q, error %q: want %q", req.State, req.Outcome, req.Error, want)
	}
	th := rec.thread(root)
	if !strings.Contains(th[0], want) {
		t.Errorf("the request's card does not say the output is incomplete:\n%s", th[0])
	}
	contains(t, th[1:], want) // the result in the thread
	contains(t, th[1:], "not verified against the agent's digest")
	var found bool
	if _, err := s.DB.ReadAudit(context.Background(), func(_ uint64, stored []byte) error {
		if strings.Contains(string(stored), commands.ActionJobOutput) && strings.Contains(string(stored), "is incomplete") {
			found = true
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if !found {
		t.Error("no job.output audit entry says the output is incomplete")
	}
}

// TestIncompleteReadOnlyOutputIsNotTrusted: a status whose output lost a
// line is not parsed as if it were whole: the reply says it is incomplete.
func TestIncompleteReadOnlyOutputIsNotTrusted(t *testing.T) {
	s, rec := setup(t, simtest.Options{WrapAgent: func(a commands.Agent) commands.Agent { return losingAgent{Agent: a, op: "migrate-status"} }})
	if err := command(t, s, rec, alice, "status"); err != nil {
		t.Fatal(err)
	}
	contains(t, rec.thread(rec.roots()[0]), "Output incomplete: I received")
}
