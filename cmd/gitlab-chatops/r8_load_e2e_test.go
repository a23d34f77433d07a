package main

import (
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// r8Commands is R8's load: that many signed slash commands at once.
const r8Commands = 1000

// TestR8NoCommandLostUnderLoad (issue 15, R8: no command is lost under
// load): 1000 concurrent Slack-signed `/gitlab-migrations status` slash
// commands, each from a channel and user of its own, reach a real serve
// process on loopback (real agent over the simulator, fake Slack Web
// API). Every one is acknowledged (200, empty body), every one's thread
// gets its status answer, and after serve stops the audit trail holds
// exactly 1000 status runs, no refusal, and verifies. Counts only: how
// fast is BenchmarkAckUnderLoad's business.
func TestR8NoCommandLostUnderLoad(t *testing.T) {
	e := newLoadEnv(t)
	srv := e.startServe(t)

	acked, failures := e.burst("r8", r8Commands)
	if acked != r8Commands {
		t.Fatalf("%d of %d commands acknowledged; first failures: %.5q\nserve log:\n%.3000s", acked, r8Commands, failures, srv.logs.String())
	}
	deadline := time.Now().Add(3 * time.Minute)
	for {
		done, other := e.slack.answered("r8", r8Commands)
		if other != "" {
			t.Fatalf("a thread got a reply that is no status answer: %.300s", other)
		}
		if done == r8Commands {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 3 minutes %d of %d commands have their status answer\nserve log:\n%.3000s", done, r8Commands, srv.logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}

	// serve holds the store: stop it as systemd does, then count.
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.cmd.Wait(); err != nil {
		t.Fatalf("serve after SIGTERM: %v\n%.3000s", err, srv.logs.String())
	}
	if strings.Contains(srv.logs.String(), `"level":"ERROR"`) {
		t.Errorf("serve logged errors:\n%.3000s", srv.logs.String())
	}
	entries := e.auditTrail(t)
	if n := countAction(entries, approvals.ActionReadOnlyRun, gitlab.OpMigrateStatus); n != r8Commands {
		t.Errorf("the audit trail holds %d status runs, want exactly %d", n, r8Commands)
	}
	if n := countAction(entries, approvals.ActionAuthRefused, ""); n != 0 {
		t.Errorf("the audit trail holds %d refusals of signed commands", n)
	}
	e.verify(t)
}
