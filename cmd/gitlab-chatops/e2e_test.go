package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// binary and agentBinary are the executables built once for the
// end-to-end tests: they run the real programs, as a user would, against
// the simulator.
var binary, agentBinary string

func TestMain(m *testing.M) {
	// The agents of internal/simtest re-execute this binary as gitlab-sim;
	// BenchmarkAckUnderLoad re-executes it as its targets.
	simtest.RunSimIfAsked()
	if os.Getenv(envAckRole) != "" {
		os.Exit(ackChild())
	}
	dir, err := os.MkdirTemp("", "gitlab-chatops-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binary = filepath.Join(dir, "gitlab-chatops")
	agentBinary = filepath.Join(dir, "gitlab-chatops-agent")
	for out, pkg := range map[string]string{binary: ".", agentBinary: "../gitlab-chatops-agent"} {
		build := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", out, pkg)
		build.Stderr = os.Stderr
		if err := build.Run(); err != nil {
			fmt.Fprintln(os.Stderr, "building", pkg, err)
			os.Exit(1)
		}
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// runConsoleScript runs `gitlab-chatops console --simulate` (with extra
// flags, if any) with script as piped input and returns what it printed.
func runConsoleScript(t *testing.T, stateDir, scenario, script string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	args := append([]string{"console", "--simulate", "--scenario", scenario, "--state-dir", stateDir, "--sim-speed", "0"}, extra...)
	cmd := exec.CommandContext(ctx, binary, args...)
	cmd.Stdin = strings.NewReader(script)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		t.Fatalf("console: %v\nstdout:\n%s\nstderr:\n%s", err, out.String(), errb.String())
	}
	if errb.Len() > 0 {
		t.Logf("console stderr:\n%s", errb.String())
	}
	return out.String()
}

// section returns the output from the first line containing from.
func section(t *testing.T, out, from string) string {
	t.Helper()
	i := strings.Index(out, from)
	if i < 0 {
		t.Fatalf("output has no %q:\n%s", from, out)
	}
	return out[i:]
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("output:\n%s", out)
	}
}

func auditVerify(t *testing.T, stateDir string) string {
	t.Helper()
	return auditVerifyFile(t, filepath.Join(stateDir, "gitlab-chatops.db"))
}

var requestIDRE = regexp.MustCompile(`APPROVAL NEEDED: MIGRATE ON GITLAB-SIM(?s:.*?)request ([a-z0-9]+)`)

// TestConsoleMigrateFlow is the quick start: status shows what is down,
// migrate asks for approval, the requester cannot approve it, a second
// person can, it runs once, and the thread ends with everything up.
func TestConsoleMigrateFlow(t *testing.T) {
	state := t.TempDir()
	out := runConsoleScript(t, state, "default", strings.Join([]string{
		"alice: /gitlab-migrations status",
		"alice: /gitlab-migrations migrate -- upgrade to 17.5",
		"alice: /gitlab-migrations approve $LAST",
		"bob: /gitlab-migrations approve $LAST",
		"bob: /gitlab-migrations approve $LAST",
		"carol: /gitlab-migrations audit 3",
	}, "\n")+"\n")

	status := section(t, out, "MIGRATION STATUS ON GITLAB-SIM")
	if !regexp.MustCompile(`\*main \(gitlabhq_production\)\*: [\d,]+ up, \d+ down`).MatchString(status) {
		t.Errorf("status does not summarise up and down:\n%s", status)
	}
	m := requestIDRE.FindStringSubmatch(out)
	if m == nil {
		t.Fatalf("no approval request in:\n%s", out)
	}
	id := m[1]
	mustContain(t, out,
		"Requested by: alice",
		"Reason: upgrade to 17.5",
		"[ Approve ] [ Deny ]",
		"click approve "+id,
	)
	self := section(t, out, "(only alice sees this)")
	mustContain(t, self[:200], "alice")
	if !strings.Contains(self[:300], "yourself; a different person must approve it.") {
		t.Errorf("self-approval refusal does not say why:\n%s", self[:300])
	}
	// The result waits for the status check before it says "succeeded".
	after := section(t, out, "DB:MIGRATE ON GITLAB-SIM EXITED 0; CHECKING…")
	mustContain(t, after, "ALL UP ON GITLAB-SIM", "DB:MIGRATE ON GITLAB-SIM SUCCEEDED", "DONE: MIGRATE ON GITLAB-SIM SUCCEEDED")
	if strings.Index(after, "ALL UP ON GITLAB-SIM") > strings.Index(after, "DB:MIGRATE ON GITLAB-SIM SUCCEEDED") {
		t.Errorf("the result said succeeded before the status check:\n%s", after)
	}
	// bob's second approval comes after the run: refused, nothing runs twice.
	if n := strings.Count(out, "DB:MIGRATE ON GITLAB-SIM SUCCEEDED"); n != 1 {
		t.Errorf("migrate ran %d times, want exactly once", n)
	}
	mustContain(t, section(t, out, "(only bob sees this)"), id)
	mustContain(t, auditVerify(t, state), "audit trail intact")
}

// TestConsoleBatchedMigrationFlow: migrate stops on an unfinished batched
// background migration; the bot offers the finalize GitLab asked for as a
// new request, which needs its own approval, runs, is confirmed, and the
// re-run migrate succeeds.
func TestConsoleBatchedMigrationFlow(t *testing.T) {
	state := t.TempDir()
	out := runConsoleScript(t, state, "bbm-unfinished", strings.Join([]string{
		"alice: /gitlab-migrations migrate -- upgrade to 17.5",
		"bob: click approve $LAST",
		"alice: /gitlab-migrations finalize --from $LAST -- as GitLab asked",
		"alice: /gitlab-migrations approve $LAST",
		"bob: /gitlab-migrations approve $LAST",
		"alice: /gitlab-migrations migrate -- upgrade to 17.5, second try",
		"bob: /gitlab-migrations approve $LAST",
	}, "\n")+"\n")

	// One migration ran before the stop: the result agrees with the card.
	failed := section(t, out, "DB:MIGRATE ON GITLAB-SIM EXITED 1; CHECKING…")
	mustContain(t, failed,
		"DB:MIGRATE ON GITLAB-SIM: PARTLY DONE",
		"PARTLY DONE: MIGRATE ON GITLAB-SIM",
		"GITLAB NEEDS A BATCHED BACKGROUND MIGRATION FINALIZED FIRST",
		"Job class: CopyColumnUsingBackgroundMigrationJob",
		"Table.column: merge_request_metrics.id",
		`Job arguments: `+"`"+`[["id"],["id_convert_to_bigint"]]`+"`",
		"finalize --from",
	)
	fin := section(t, failed, "APPROVAL NEEDED: FINALIZE ON GITLAB-SIM")
	mustContain(t, fin,
		`gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,[["id"]\,["id_convert_to_bigint"]]]`,
		"Suggested by: failed request",
		"(only alice sees this)",
		"FINALIZED",
		"DB:MIGRATE ON GITLAB-SIM SUCCEEDED",
		"ALL UP ON GITLAB-SIM",
	)
	mustContain(t, auditVerify(t, state), "audit trail intact")
}
