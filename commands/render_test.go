package commands

import (
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

const fixtures = "../../shared/fixtures/gitlab"

func checkMessage(t *testing.T, name string, m bot.Message) {
	t.Helper()
	golden.Check(t, name, golden.Message(m))
}

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(fixtures, name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestSummaryGolden renders the parsed fixtures as the thread replies a
// user sees.
func TestSummaryGolden(t *testing.T) {
	for _, name := range []string{"migrate-status-multi-db.txt", "migrate-status-single-db-all-up.txt", "migrate-status-large.txt"} {
		s, err := gitlab.ParseMigrateStatus(fixture(t, name))
		if err != nil {
			t.Fatal(err)
		}
		checkMessage(t, "status-"+name, statusMessage("gitlab-1", s))
	}
	b, err := gitlab.ParseBBMStatus(fixture(t, "bbm-status-multi-db.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checkMessage(t, "bbm-status-multi-db.txt", bbmMessage("gitlab-1", b))
	c, err := gitlab.ParseCtlStatus(fixture(t, "ctl-status-some-down.txt"))
	if err != nil {
		t.Fatal(err)
	}
	checkMessage(t, "services-ctl-status-some-down.txt", servicesMessage("gitlab-1", c))
	m := gitlab.ParseMigrate(fixture(t, "migrate-fail-batched-bbm.txt"))
	a, known := suggestedFinalize(m.Failure, gitlab.DownBefore{Databases: []string{"main"}})
	checkMessage(t, "finalize-offer", finalizeOfferMessage(&approvals.Request{ID: "r7k2qxa9"}, m.Failure, a, known, ""))

	// The real Rails 6.1 capture names no database: the status before the
	// run does, so main's three are main's and the failure and its
	// finalize are ci's.
	st, err := gitlab.ParseMigrateStatus(fixture(t, "migrate-status-decomposed-before-unprefixed-fail.txt"))
	if err != nil {
		t.Fatal(err)
	}
	before := gitlab.DownBeforeOf(st)
	exit1 := 1
	failedRec := agent.JobRecord{State: agent.StateFailed, ExitCode: &exit1, DurationMS: 5400}
	u := gitlab.ParseMigrate(fixture(t, "migrate-fail-batched-bbm-decomposed-unprefixed.txt")).Attribute(before)
	checkMessage(t, "migrate-decomposed-unprefixed", migrateMessage("gitlab-1", failedRec, u, before, nil))
	a, known = suggestedFinalize(u.Failure, before)
	checkMessage(t, "finalize-offer-decomposed-unprefixed", finalizeOfferMessage(&approvals.Request{ID: "r7k2qxa9"}, u.Failure, a, known, ""))
	// Without that evidence (the version pending on both) nothing is guessed.
	both := gitlab.DownBefore{Databases: []string{"main", "ci"}, Down: map[string][]string{"main": {"20231011100118"}, "ci": {"20231011100118"}}}
	g := gitlab.ParseMigrate(fixture(t, "migrate-fail-batched-bbm-decomposed-unprefixed.txt")).Attribute(both)
	checkMessage(t, "migrate-database-unnamed", migrateMessage("gitlab-1", failedRec, g, both, nil))
	a, known = suggestedFinalize(g.Failure, both)
	checkMessage(t, "finalize-offer-database-unnamed", finalizeOfferMessage(&approvals.Request{ID: "r7k2qxa9"}, g.Failure, a, known, ""))
	checkMessage(t, "finalize-offer-database-unnamed-unfinished-on-ci", finalizeOfferMessage(&approvals.Request{ID: "r7k2qxa9"}, g.Failure, a, known, "ci"))
}

// TestRequestMessageGolden renders an approval message in each state.
func TestRequestMessageGolden(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	base := approvals.Request{
		ID: "r7k2qxa9", Host: "gitlab-1", Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"},
		Requester: approvals.User{ID: "U1", Name: "alice"}, Reason: "upgrade to 17.5",
		FingerprintInfo: "main: 2 down (main:20250611093054, main:20250612101733)",
		Required:        1, ApproverIDs: []string{"U2", "U3"},
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute), State: approvals.StatePending,
	}
	bob := approvals.Decision{User: approvals.User{ID: "U2", Name: "bob"}, Verdict: approvals.VerdictApprove, At: now.Add(2 * time.Minute)}
	states := map[string]func(r *approvals.Request){
		"pending": func(*approvals.Request) {},
		"running": func(r *approvals.Request) { r.State, r.Decisions = approvals.StateRunning, []approvals.Decision{bob} },
		"running-unreachable": func(r *approvals.Request) {
			r.State, r.Decisions, r.Note = approvals.StateRunning, []approvals.Decision{bob}, "outcome unknown: agent unreachable since 10:04 UTC"
		},
		"succeeded": func(r *approvals.Request) {
			r.State, r.Decisions, r.EndedAt, r.Outcome = approvals.StateSucceeded, []approvals.Decision{bob}, now.Add(5*time.Minute), "SUCCEEDED: 6 migrated; every migration is up"
		},
		"failed": func(r *approvals.Request) {
			r.State, r.Decisions, r.EndedAt, r.Error = approvals.StateFailed, []approvals.Decision{bob}, now.Add(5*time.Minute), "FAILED: nothing migrated: it stopped at 20250514124512 EnsureX (main): a batched background migration is active and must be finalized first"
		},
		"failed-without-verdict": func(r *approvals.Request) {
			r.State, r.Decisions, r.EndedAt, r.Error = approvals.StateFailed, []approvals.Decision{bob}, now.Add(5*time.Minute), "gitlab-1's agent is not answering; check `systemctl status gitlab-chatops-agent` on it."
		},
		"no-effect": func(r *approvals.Request) {
			r.Operation, r.State, r.Decisions, r.EndedAt = "finalize", approvals.StateFailed, []approvals.Decision{bob}, now.Add(5*time.Minute)
			r.Error = verdict{verdictNoEffect, "finalize printed Done., but it matched no batched background migration, so nothing was finalized"}.detail()
		},
		"partly": func(r *approvals.Request) {
			r.Operation, r.State, r.Decisions, r.EndedAt = "restart", approvals.StateFailed, []approvals.Decision{bob}, now.Add(5*time.Minute)
			r.Error = verdict{verdictPartly, "sidekiq restarted and running; also not running: puma (down, crash loop?)"}.detail()
		},
		"not-verified": func(r *approvals.Request) {
			r.State, r.Decisions, r.EndedAt = approvals.StateInterrupted, []approvals.Decision{bob}, now.Add(5*time.Minute)
			r.Error = verdict{verdictUnverified, "db:migrate exited 0 (6 migrated), but I could not check the status after it; check with /gitlab-migrations status"}.detail()
		},
		"pending-preflight": func(r *approvals.Request) {
			r.Params = map[string]string{"preflight": "batched background migration CopyColumnUsingBackgroundMigrationJob (merge_request_metrics.id) on main is active: if a migration needs it, migrate will stop and need `/gitlab-migrations finalize --host gitlab-1 CopyColumnUsingBackgroundMigrationJob merge_request_metrics id '[[\"id\"],[\"id_convert_to_bigint\"]]'`"}
		},
		"expired": func(r *approvals.Request) {
			r.State, r.Decisions = approvals.StateExpired, []approvals.Decision{{User: approvals.User{ID: "system", Name: "system"}, Verdict: approvals.VerdictExpire, At: now.Add(15 * time.Minute)}}
		},
		"cancelled": func(r *approvals.Request) {
			r.State, r.Decisions = approvals.StateCancelled, []approvals.Decision{{User: approvals.User{ID: "U1", Name: "alice"}, Verdict: approvals.VerdictCancel, At: now.Add(time.Minute)}}
		},
		"interrupted": func(r *approvals.Request) {
			r.State, r.Decisions, r.EndedAt = approvals.StateInterrupted, []approvals.Decision{bob}, now.Add(5*time.Minute)
			r.Error = "lost the agent's stream and could not re-attach, so the outcome is unknown; check with /gitlab-migrations status and services."
		},
		"denied": func(r *approvals.Request) {
			r.State, r.Decisions = approvals.StateDenied, []approvals.Decision{{User: approvals.User{ID: "U3", Name: "carol"}, Verdict: approvals.VerdictDeny, At: now.Add(time.Minute), Reason: "not during business hours"}}
		},
	}
	for name, set := range states {
		r := base
		set(&r)
		checkMessage(t, "request-"+name, requestMessage(&r, now))
	}
}
