package commands_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/sim"
)

// upgradeGolden is what a golden file of upgrade-check holds: the one-line
// summary, the comparable facts, the verdict's reasons with their fixes,
// and the thread reply a user sees (taken-at time left out: it is the
// clock's).
func upgradeGolden(t *testing.T, name string, v commands.UpgradeVerdict) {
	t.Helper()
	v.Taken = time.Time{}
	var b strings.Builder
	fmt.Fprintf(&b, "summary: %s\n", v.Summary())
	facts := v.Facts()
	for _, k := range slices.Sorted(func(yield func(string) bool) {
		for k := range facts {
			if !yield(k) {
				return
			}
		}
	}) {
		fmt.Fprintf(&b, "fact %s = %s\n", k, facts[k])
	}
	fmt.Fprintf(&b, "problem=%v failed=%v\n", v.Problem(), v.Failed())
	b.Write(golden.Message(commands.UpgradeMessage(v)))
	// The simulated host's gitlab-rake and gitlab-ctl are this test binary
	// (simtest); GitLab's sentences name the command it ran.
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	out := strings.NewReplacer(exe+" rake", "/opt/gitlab/bin/gitlab-rake", exe+" ctl", "/opt/gitlab/bin/gitlab-ctl").Replace(b.String())
	golden.Check(t, "upgrade-check-"+name, []byte(out))
}

// wantVerdict is each scenario's verdict, so that a golden file refreshed
// with -update cannot quietly turn a NOT READY into a READY.
var wantVerdict = map[string]commands.Readiness{
	"default":                              commands.UpgradeNotReady,
	"up-to-date":                           commands.UpgradeReady,
	"bbm-unfinished":                       commands.UpgradeNotReady,
	"decomposed":                           commands.UpgradeNotReady,
	"decomposed-bbm-unfinished":            commands.UpgradeNotReady,
	"bigint-runbook":                       commands.UpgradeNotReady,
	"decomposed-unprefixed":                commands.UpgradeNotReady,
	"decomposed-bbm-unfinished-unprefixed": commands.UpgradeNotReady,
	"services-down":                        commands.UpgradeNotReady,
	"runsvdir-down":                        commands.UpgradeNotReady,
	"bbm-list-only":                        commands.UpgradeNotReady,
	"no-bbm-tasks":                         commands.UpgradeCannotTell,
}

// TestUpgradeCheckScenarios runs upgrade-check through a real agent on
// every simulator scenario and compares the verdict with its golden file.
// Every fix it offers is then typed into the bot as it stands and must
// open a request (pre-flight included), not be refused: the lines are
// pasteable.
func TestUpgradeCheckScenarios(t *testing.T) {
	for _, name := range sim.ScenarioNames() {
		t.Run(name, func(t *testing.T) {
			want, ok := wantVerdict[name]
			if !ok {
				t.Fatalf("scenario %s has no expected verdict in wantVerdict: add it", name)
			}
			s, rec := setup(t, simtest.Options{Scenario: name})
			v, err := commands.UpgradeCheck(context.Background(), s.Router, s.Host, approvals.User{ID: alice.ID, Name: alice.Name})
			if err != nil {
				t.Fatal(err)
			}
			if v.Verdict != want {
				t.Errorf("verdict %s, want %s: %s", v.Verdict, want, v.Summary())
			}
			upgradeGolden(t, name, v)
			fixes := 0
			for _, r := range v.Reasons {
				if r.Fix == "" && r.OnHost == "" && !r.Unchecked {
					t.Errorf("reason without a fix: %s", r.Text)
				}
				if r.Fix == "" {
					continue
				}
				line := strings.TrimPrefix(r.Fix, "/gitlab-migrations ")
				fixes++
				if err := command(t, s, rec, bob, line+" -- upgrade-check said so"); err != nil {
					t.Errorf("the fix %q is refused: %v", r.Fix, err)
				}
			}
			// Pre-flight runs in the background: each fix must have opened
			// its request, not been refused there.
			reqs, err := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
			if err != nil {
				t.Fatal(err)
			}
			if len(reqs) != fixes {
				var th []string
				for _, id := range rec.roots() {
					th = append(th, rec.thread(id)...)
				}
				t.Errorf("%d fixes opened %d requests:\n%s", fixes, len(reqs), strings.Join(th, "\n---\n"))
			}
		})
	}
}

// TestUpgradeCheckUnreachable: an agent nobody answers for leaves every
// part unchecked, and the verdict is NOT READY (cannot tell), never READY.
func TestUpgradeCheckUnreachable(t *testing.T) {
	s := simtest.Start(t, simtest.Options{Scenario: "up-to-date"})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	certs := filepath.Join(s.Dir, "certs")
	client, err := agent.NewClient(agent.ClientConfig{URL: "https://" + addr,
		CAFile: filepath.Join(certs, "ca.pem"), CertFile: filepath.Join(certs, "bot.pem"), KeyFile: filepath.Join(certs, "bot-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	host := commands.Host{Name: "gitlab-gone", Agent: client, Signer: s.Signer}
	r, err := commands.New(commands.Options{Hosts: []commands.Host{host}, Approvals: s.Approvals, Audit: s.DB, RetryMax: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	v, err := commands.UpgradeCheck(context.Background(), r, host, approvals.User{ID: alice.ID, Name: alice.Name})
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != commands.UpgradeCannotTell || !v.Failed() || !v.Problem() {
		t.Errorf("verdict %s (failed %v), want %s", v.Verdict, v.Failed(), commands.UpgradeCannotTell)
	}
	if len(v.Reasons) != 3 {
		t.Errorf("want one reason per part, got %d", len(v.Reasons))
	}
	upgradeGolden(t, "unreachable", v)
	// Audited: a read-only run per part, then the verdict.
	entries, err := s.DB.TailAudit(context.Background(), 10)
	if err != nil {
		t.Fatal(err)
	}
	var ops []string
	for _, e := range entries {
		if e.Action == approvals.ActionReadOnlyRun && e.Actor == alice.ID {
			ops = append(ops, e.Operation+"="+e.Outcome)
		}
	}
	slices.Sort(ops)
	if want := []string{"bbm-status=error", "migrate-status=error", "services=error", "upgrade-check=NOT READY (cannot tell)"}; !slices.Equal(ops, want) {
		t.Errorf("audit: %v, want %v", ops, want)
	}
}

// TestUpgradeCheckCommand: the subcommand answers in a thread, the
// verdict and its fixes as the reply.
func TestUpgradeCheckCommand(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "services-down"})
	if err := command(t, s, rec, alice, "upgrade-check"); err != nil {
		t.Fatal(err)
	}
	roots := rec.roots()
	if len(roots) != 1 {
		t.Fatalf("want one root post, got %d", len(roots))
	}
	th := rec.thread(roots[0])
	contains(t, th, "*upgrade-check* on *gitlab-sim*, asked by alice")
	contains(t, th, "Upgrade check on gitlab-sim: NOT READY")
	contains(t, th, "`/gitlab-migrations restart --host gitlab-sim puma`")
	contains(t, th, "taken at ")
}

// TestUpgradeCheckIncompleteOutput: a part whose output lost a line on
// the way is not judged from it: NOT READY (cannot tell), never READY.
func TestUpgradeCheckIncompleteOutput(t *testing.T) {
	s := simtest.Start(t, simtest.Options{Scenario: "up-to-date", WrapAgent: func(a commands.Agent) commands.Agent { return losingAgent{Agent: a, op: "migrate-status"} }})
	v, err := commands.UpgradeCheck(context.Background(), s.Router, s.Host, approvals.User{ID: alice.ID, Name: alice.Name})
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != commands.UpgradeCannotTell || len(v.Reasons) != 1 || !strings.Contains(v.Reasons[0].Text.String(), "Output incomplete: I received") {
		t.Errorf("verdict %s, reasons %+v: want %s because the status output is incomplete", v.Verdict, v.Reasons, commands.UpgradeCannotTell)
	}
}

// TestUpgradeCheckParallelAndShared: the parts run at the same time on
// the agent (their jobs overlap), and two checks asked together share
// each agent job instead of running it twice.
func TestUpgradeCheckParallelAndShared(t *testing.T) {
	s := simtest.Start(t, simtest.Options{Scenario: "up-to-date", Agent: func(cfg *agent.Config) {
		simtest.SimSpeed(cfg, "0.5") // rake boots for 0.4 s
	}})
	var got [2]commands.UpgradeVerdict
	done := make(chan error, 2)
	for i := range got {
		go func() {
			var err error
			got[i], err = commands.UpgradeCheck(context.Background(), s.Router, s.Host, approvals.User{ID: alice.ID, Name: alice.Name})
			done <- err
		}()
	}
	for range got {
		if err := <-done; err != nil {
			t.Fatal(err)
		}
	}
	for _, v := range got {
		if v.Verdict != commands.UpgradeReady {
			t.Errorf("verdict %s, want READY: %s", v.Verdict, v.Summary())
		}
	}
	status, bbm := jobSpans(t, s, "migrate-status"), jobSpans(t, s, "bbm-status")
	if len(status) != 1 || len(bbm) != 1 || len(jobSpans(t, s, "services")) != 1 {
		t.Fatalf("two checks ran %d status, %d bbm and %d services jobs; want one each, shared", len(status), len(bbm), len(jobSpans(t, s, "services")))
	}
	if !status[0].Started.Before(bbm[0].Ended) || !bbm[0].Started.Before(status[0].Ended) {
		t.Errorf("the parts ran one after the other: status %s–%s, bbm %s–%s", status[0].Started, status[0].Ended, bbm[0].Started, bbm[0].Ended)
	}
}

// TestUpgradeCheckOneSlot: an agent with one read-only slot takes the
// parts one at a time; the check waits its turn (429, Retry-After) and
// still answers from every part.
func TestUpgradeCheckOneSlot(t *testing.T) {
	s := simtest.Start(t, simtest.Options{Scenario: "up-to-date", Agent: busyAgent})
	v, err := commands.UpgradeCheck(context.Background(), s.Router, s.Host, approvals.User{ID: alice.ID, Name: alice.Name})
	if err != nil {
		t.Fatal(err)
	}
	if v.Verdict != commands.UpgradeReady {
		t.Errorf("verdict %s, want READY: %s", v.Verdict, v.Summary())
	}
	for _, op := range []string{"migrate-status", "bbm-status", "services"} {
		if n := agentJobs(t, s, op); n != 1 {
			t.Errorf("%s ran %d times, want once", op, n)
		}
	}
}

// BenchmarkUpgradeCheck measures one upgrade-check on an agent whose
// GitLab boots Rails for 0.8 s (GITLAB_SIM_SPEED=1), next to the sum of
// its agent jobs' durations: with the parts in parallel, ns/op stays near
// the longest part, not the sum. Each iteration waits out the shared
// answer's reuse window, so that it runs anew.
//
//	go test -run '^$' -bench UpgradeCheck -benchtime 3x ./commands
func BenchmarkUpgradeCheck(b *testing.B) {
	s := simtest.Start(b, simtest.Options{Scenario: "up-to-date", Agent: func(cfg *agent.Config) {
		simtest.SimSpeed(cfg, "1")
	}})
	var jobs time.Duration
	for b.Loop() {
		b.StopTimer()
		time.Sleep(3100 * time.Millisecond) // readOnlyReuse
		before := sumJobs(b, s)
		b.StartTimer()
		if _, err := commands.UpgradeCheck(context.Background(), s.Router, s.Host, approvals.User{ID: alice.ID}); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		jobs += sumJobs(b, s) - before
		b.StartTimer()
	}
	b.ReportMetric(float64(jobs.Milliseconds())/float64(b.N), "job-ms/op")
}

// sumJobs adds up the durations of every job the agent ran.
func sumJobs(tb testing.TB, s *simtest.Stack) time.Duration {
	var d time.Duration
	for _, op := range []string{"migrate-status", "bbm-status", "services"} {
		for _, r := range jobSpans(tb, s, op) {
			d += time.Duration(r.DurationMS) * time.Millisecond
		}
	}
	return d
}

// TestUpgradeCheckChangesReadWell: a scheduled upgrade-check under `when:
// changed` says what changed part by part; a part that could not be
// checked reads "→ not checked" under the same subject as when it was,
// and back, with no "(none)" or "(gone)" subjects and no failure
// paragraph standing in for a part.
func TestUpgradeCheckChangesReadWell(t *testing.T) {
	user := approvals.User{ID: alice.ID, Name: alice.Name}
	result := func(v commands.UpgradeVerdict) schedule.Result {
		return schedule.Result{Facts: v.Facts(), Problem: v.Problem(), Failed: v.Failed(), Reason: v.FailReason()}
	}
	whole := simtest.Start(t, simtest.Options{Scenario: "up-to-date"})
	ready, err := commands.UpgradeCheck(context.Background(), whole.Router, whole.Host, user)
	if err != nil {
		t.Fatal(err)
	}
	lossy := simtest.Start(t, simtest.Options{Scenario: "up-to-date", WrapAgent: func(a commands.Agent) commands.Agent { return losingAgent{Agent: a, op: "migrate-status"} }})
	partial, err := commands.UpgradeCheck(context.Background(), lossy.Router, lossy.Host, user)
	if err != nil {
		t.Fatal(err)
	}
	down := simtest.Start(t, simtest.Options{Scenario: "decomposed"})
	blocked, err := commands.UpgradeCheck(context.Background(), down.Router, down.Host, user)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name          string
		before, after commands.UpgradeVerdict
		want          []string
	}{
		{"a part cannot be checked", ready, partial, []string{"migrations: main all up → not checked", "verdict: READY → NOT READY (cannot tell)"}},
		{"it can again", partial, ready, []string{"migrations: not checked → main all up", "verdict: NOT READY (cannot tell) → READY"}},
		{"migrations go down on both databases", ready, blocked, []string{"migrations: main all up → main 4 down, ci 4 down", "verdict: READY → NOT READY"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := schedule.Changes(result(tc.before), result(tc.after)); !slices.Equal(got, tc.want) {
				t.Errorf("changes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
		})
	}
}
