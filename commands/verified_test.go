package commands_test

import (
	"context"
	"errors"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// pending returns the pending requests.
func pending(t *testing.T, s *simtest.Stack) []*approvals.Request {
	t.Helper()
	reqs, err := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if err != nil {
		t.Fatal(err)
	}
	return reqs
}

// onePending returns the only pending request.
func onePending(t *testing.T, s *simtest.Stack) *approvals.Request {
	t.Helper()
	reqs := pending(t, s)
	if len(reqs) != 1 {
		t.Fatalf("want one pending request, got %d", len(reqs))
	}
	return reqs[0]
}

// approveAndGet approves id as bob and returns the request as it ended.
func approveAndGet(t *testing.T, s *simtest.Stack, rec *recorder, id string) *approvals.Request {
	t.Helper()
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	req, err := s.DB.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return req
}

func refusal(t *testing.T, err error) string {
	t.Helper()
	var re replyError
	if !errors.As(err, &re) || !re.Refused {
		t.Fatalf("want a refusal, got %v", err)
	}
	return re.Message.Text.String()
}

// TestUnprefixedDecomposedMigrateNamesDatabasesFromStatus: GitLab before
// the main:/ci: prefixes names no database; the status the request was
// based on does, so main's migrations are main's, the failure is ci's, and
// the offered finalize is finalize:ci.
func TestUnprefixedDecomposedMigrateNamesDatabasesFromStatus(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "decomposed-unprefixed"})
	id, root := openMigrate(t, s, rec)
	req := approveAndGet(t, s, rec, id)
	th := rec.thread(root)
	contains(t, th, "Migrated main: 3 (20250610142207, 20250611093054, 20250613150102).")
	contains(t, th, "Stopped at 20250612112233 EnsureCiBuildNeedsBigintBackfillIsFinishedForSelfHosts (ci)")
	contains(t, th, "Database: ci (status active)")
	contains(t, th, "it runs `gitlab:background_migrations:finalize:ci`")
	if strings.Contains(strings.Join(th, "\n"), "Migrated main: 4") || strings.Contains(strings.Join(th, "\n"), "Database: main") {
		t.Error("a ci migration was reported as main's")
	}
	if req.State != approvals.StateFailed || !strings.HasPrefix(req.Error, "PARTLY: 3 migrated, then it stopped at 20250612112233") {
		t.Errorf("request ended %s %q, want PARTLY", req.State, req.Error)
	}
	contains(t, th, "Partly done: migrate on gitlab-sim")
	// The suggestion is kept on the failed request through the Service,
	// audited as request.annotated with what GitLab asked (while the request
	// still runs: it ends failed after).
	annotated := annotations(t, s, id)
	if len(annotated) != 1 || annotated[0].Actor != approvals.ActorSystem || annotated[0].Outcome != string(approvals.StateRunning) ||
		annotated[0].Detail != "GitLab asked to finalize CopyColumnUsingBackgroundMigrationJob on ci_build_needs.id first; offered as `finalize --from "+id+"`" {
		t.Fatalf("want one request.annotated entry for %s naming the suggested finalize, got %+v", id, annotated)
	}
	if len(req.Params) == 0 {
		t.Errorf("the failed request keeps no suggestion: %+v", req.Params)
	}

	if err := command(t, s, rec, alice, "finalize --from "+id+" -- as GitLab asked"); err != nil {
		t.Fatal(err)
	}
	fin := onePending(t, s)
	if len(fin.Argv) != 2 || !strings.HasPrefix(fin.Argv[1], "gitlab:background_migrations:finalize:ci[CopyColumnUsingBackgroundMigrationJob,ci_build_needs,id,") {
		t.Fatalf("finalize argv %q", fin.Argv)
	}
}

// annotations are request id's request.annotated audit entries.
func annotations(t *testing.T, s *simtest.Stack, id string) []approvals.AuditEntry {
	t.Helper()
	entries, err := s.DB.TailAudit(context.Background(), 1000)
	if err != nil {
		t.Fatal(err)
	}
	var out []approvals.AuditEntry
	for _, e := range entries {
		if e.Action == approvals.ActionRequestAnnotated && e.RequestID == id {
			out = append(out, e)
		}
	}
	return out
}

// TestUnnamedDatabaseIsNotGuessed: every pending version was pending on
// both databases and the output names none, so the bot says so, and
// finalize --from needs --db, which it then accepts.
func TestUnnamedDatabaseIsNotGuessed(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "decomposed-bbm-unfinished-unprefixed"})
	id, root := openMigrate(t, s, rec)
	approveAndGet(t, s, rec, id)
	th := rec.thread(root)
	// Rails 6.1 prints a version run on both databases twice: listed once.
	contains(t, th, "Migrated on both databases (GitLab did not name them): 2 (20250610142207, 20250611093054); on a database GitLab did not name: 3 (")
	contains(t, th, "(database not named by GitLab; it was pending on more than one)")
	// The background-migration status has the batched migration on ci
	// only, so the offer names ci (the migrate output alone could not).
	contains(t, th, "Database: not named by GitLab; unfinished only on ci (status active)")
	contains(t, th, "finalize --from "+id+" --db ci -- finish CopyColumnUsingBackgroundMigrationJob")
	msg := refusal(t, command(t, s, rec, alice, "finalize --from "+id))
	if !strings.Contains(msg, "add --db main or --db ci") {
		t.Errorf("finalize --from without --db: %q", msg)
	}
	msg = refusal(t, command(t, s, rec, alice, "finalize --from "+id+" --db sec"))
	if !strings.Contains(msg, "has no sec database") {
		t.Errorf("finalize --from --db sec: %q", msg)
	}
	if err := command(t, s, rec, alice, "finalize --from "+id+" --db ci -- GitLab did not say"); err != nil {
		t.Fatal(err)
	}
	fin := onePending(t, s)
	if !strings.HasPrefix(fin.Argv[1], "gitlab:background_migrations:finalize:ci[CopyColumnUsingBackgroundMigrationJob,ci_build_needs,id,") || fin.FromRequest != id {
		t.Fatalf("finalize %q from %q", fin.Argv, fin.FromRequest)
	}
	done := approveAndGet(t, s, rec, fin.ID)
	if done.State != approvals.StateSucceeded || !strings.HasPrefix(done.Outcome, "SUCCEEDED: ") {
		t.Errorf("finalize ended %s %q %q", done.State, done.Outcome, done.Error)
	}
}

// TestFromRefusesAContradictingDB: when the evidence named the database,
// --db may not say otherwise.
func TestFromRefusesAContradictingDB(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "decomposed-bbm-unfinished"})
	id, _ := openMigrate(t, s, rec)
	approveAndGet(t, s, rec, id)
	msg := refusal(t, command(t, s, rec, alice, "finalize --from "+id+" --db main"))
	if !strings.Contains(msg, "failed on the ci database") {
		t.Errorf("got %q", msg)
	}
	if err := command(t, s, rec, alice, "finalize --from "+id+" --db ci"); err != nil {
		t.Errorf("--db matching the evidence refused: %v", err)
	}
}

// TestPreflightRefusesImpossibleRequests: nothing impossible reaches an
// approver, and each refusal says why and what to type instead.
func TestPreflightRefusesImpossibleRequests(t *testing.T) {
	const buildNeeds = `CopyColumnUsingBackgroundMigrationJob ci_build_needs id '[["id","build_id"],["id_convert_to_bigint","build_id_convert_to_bigint"]]'`
	cases := []struct {
		name, scenario, text string
		says                 []string
	}{
		{"unknown service", "default", "restart nosuchservice", []string{`has no enabled service called "nosuchservice"`, "sidekiq"}},
		{"plain finalize on a decomposed install", "decomposed-bbm-unfinished", "finalize " + buildNeeds,
			[]string{"several databases (main, ci)", "Please specify the database", "finalize --db ci --host gitlab-sim " + buildNeeds}},
		{"wrong database", "decomposed-bbm-unfinished", "finalize --db main " + buildNeeds, []string{"is on the ci database, not main", "finalize --db ci"}},
		{"db on a single-database install", "bbm-unfinished", `finalize --db ci CopyColumnUsingBackgroundMigrationJob merge_request_metrics id '[["id"],["id_convert_to_bigint"]]'`,
			[]string{"has one database", "leave out --db"}},
		{"no such batched migration", "bbm-unfinished", `finalize NoSuchJob merge_request_metrics id '[["id"],["id_convert_to_bigint"]]'`,
			[]string{"No batched background migration on gitlab-sim matches NoSuchJob", "Not finished there: main: CopyColumnUsingBackgroundMigrationJob merge_request_metrics.id"}},
		{"already finished", "default", `finalize CopyColumnUsingBackgroundMigrationJob merge_request_metrics id '[["id"],["id_convert_to_bigint"]]'`,
			[]string{"is already finished: there is nothing to finalize"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s, rec := setup(t, simtest.Options{Scenario: c.scenario})
			if err := command(t, s, rec, alice, c.text); err != nil {
				t.Fatal(err)
			}
			if n := len(pending(t, s)); n != 0 {
				t.Fatalf("%d requests opened", n)
			}
			th := rec.thread(rec.roots()[0])
			contains(t, th, "request opened")
			for _, w := range c.says {
				contains(t, th, w)
			}
			if n := agentJobs(t, s, "finalize") + agentJobs(t, s, "restart"); n != 0 {
				t.Errorf("%d destructive jobs ran", n)
			}
			if got := count(auditActions(t, s), approvals.ActionCommandRefused); got != 1 {
				t.Errorf("audit has %d refusals, want 1", got)
			}
		})
	}
}

// TestPreflightFindingsOnTheCard: the approver sees what the pre-flight
// found, including the finalize a migrate will probably need.
func TestPreflightFindingsOnTheCard(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "bbm-unfinished"})
	_, root := openMigrate(t, s, rec)
	m := text(rec.message(root))
	for _, w := range []string{"Pre-flight: • batched background migration CopyColumnUsingBackgroundMigrationJob (merge_request_metrics.id) on main is active",
		"migrate will stop and need `/gitlab-migrations finalize --host gitlab-sim CopyColumnUsingBackgroundMigrationJob merge_request_metrics id '[[\"id\"],[\"id_convert_to_bigint\"]]'`"} {
		if !strings.Contains(m, w) {
			t.Errorf("card lacks %q:\n%s", w, m)
		}
	}

	s, rec = setup(t, simtest.Options{Scenario: "decomposed-bbm-unfinished"})
	if err := command(t, s, rec, alice, `finalize --db ci CopyColumnUsingBackgroundMigrationJob ci_build_needs id '[["id","build_id"],["id_convert_to_bigint","build_id_convert_to_bigint"]]'`); err != nil {
		t.Fatal(err)
	}
	fin := onePending(t, s)
	if m := text(rec.message(fin.Thread)); !strings.Contains(m, "Pre-flight: • the batched background migration exists on ci and is active") {
		t.Errorf("finalize card:\n%s", m)
	}
}

// TestFinalizeThatMatchedNothingHasNoEffect: GitLab prints Done. whatever
// happened; the card says NO EFFECT when nothing matched. (The request is
// opened past the router, as a state change between pre-flight and
// approval would leave it.)
func TestFinalizeThatMatchedNothingHasNoEffect(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "default"})
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", text2msg("approval"))
	params := map[string]string{"job_class": "NoSuchJob", "table": "t", "column": "c", "job_arguments": "[]"}
	req, err := s.Approvals.Open(ctx, approvals.NewRequest{Platform: "test", Channel: "C1", Thread: root.ID, Host: "gitlab-sim", Operation: "finalize",
		Params: params, Argv: []string{"gitlab-rake", "gitlab:background_migrations:finalize[NoSuchJob,t,c,[]]"}, Requester: approvals.User{ID: alice.ID, Name: alice.Name}})
	if err != nil {
		t.Fatal(err)
	}
	done := approveAndGet(t, s, rec, req.ID)
	if done.State != approvals.StateFailed || !strings.HasPrefix(done.Error, "NO EFFECT: finalize printed Done., but it matched no batched background migration") {
		t.Fatalf("ended %s %q", done.State, done.Error)
	}
	m := rec.message(root.ID)
	if !strings.HasPrefix(m.Title.String(), "No effect: finalize on gitlab-sim") || strings.Contains(text(m), "SUCCEEDED") {
		t.Errorf("card: %s", text(m))
	}
}

// TestRestartReportsEveryService: restarting sidekiq while puma
// crash-loops is PARTLY, and the thread reports every service.
func TestRestartReportsEveryService(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "services-down", Router: commands.Options{RestartWait: 2 * time.Second, RestartPoll: 100 * time.Millisecond}})
	if err := command(t, s, rec, alice, "restart sidekiq -- stopped by mistake"); err != nil {
		t.Fatal(err)
	}
	req := onePending(t, s)
	contains(t, []string{text(rec.message(req.Thread))}, "Pre-flight: • not running now: puma (down, crash loop?), sidekiq (down)")
	done := approveAndGet(t, s, rec, req.ID)
	th := rec.thread(req.Thread)
	contains(t, th, "Services on gitlab-sim after the restart")
	contains(t, th, "1 of 15 services are not running")
	contains(t, th, "*puma*: down")
	if done.State != approvals.StateFailed || done.Error != "PARTLY: sidekiq restarted and running; also not running: puma (down, crash loop?)" {
		t.Errorf("ended %s %q", done.State, done.Error)
	}
	contains(t, th, "Partly done: restart on gitlab-sim")

	// A full restart brings both back: SUCCEEDED, confirmed.
	if err := command(t, s, rec, alice, "restart -- all of them"); err != nil {
		t.Fatal(err)
	}
	req = onePending(t, s)
	done = approveAndGet(t, s, rec, req.ID)
	if done.State != approvals.StateSucceeded || !strings.HasSuffix(done.Outcome, "all 15 services running") {
		t.Errorf("full restart ended %s %q %q", done.State, done.Outcome, done.Error)
	}
}

// TestAgentNotAnswering: a Go error never reaches the channel; the user
// gets the next step.
func TestAgentNotAnswering(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there any more
	dir := t.TempDir()
	if err := agent.GenerateCerts(dir, []string{"localhost"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	cl, err := agent.NewClient(agent.ClientConfig{URL: "https://" + addr, CAFile: filepath.Join(dir, "ca.pem"), CertFile: filepath.Join(dir, "bot.pem"), KeyFile: filepath.Join(dir, "bot-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	s, rec := setup(t, simtest.Options{Router: commands.Options{Hosts: []commands.Host{{Name: "gitlab-1", Agent: cl}}}})
	if err := command(t, s, rec, alice, "status --host gitlab-1"); err != nil {
		t.Fatal(err)
	}
	th := strings.Join(rec.thread(rec.roots()[0]), "\n")
	if !strings.Contains(th, "gitlab-1's agent is not answering; check `systemctl status gitlab-chatops-agent` on it.") {
		t.Errorf("thread:\n%s", th)
	}
	for _, raw := range []string{"agent client", "127.0.0.1", "connection refused", "dial tcp"} {
		if strings.Contains(th, raw) {
			t.Errorf("the channel sees %q:\n%s", raw, th)
		}
	}
}

// TestStatusDatabaseChecks: --db is validated, and a database the install
// does not have is named as such instead of a rake stack trace.
func TestStatusDatabaseChecks(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	msg := refusal(t, command(t, s, rec, alice, "status --db foo"))
	if !strings.Contains(msg, `database "foo" is not one of GitLab's databases: use main or ci`) {
		t.Errorf("status --db foo: %q", msg)
	}
	if err := command(t, s, rec, alice, "status --db ci"); err != nil {
		t.Fatal(err)
	}
	th := strings.Join(rec.thread(rec.roots()[0]), "\n")
	if !strings.Contains(th, "gitlab-sim has no ci database") || strings.Contains(th, "rake aborted") || strings.Contains(th, "Don't know how") {
		t.Errorf("thread:\n%s", th)
	}
}

// TestUsageErrorsCount: the numbers in a usage error add up.
func TestUsageErrorsCount(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	msg := refusal(t, command(t, s, rec, alice, "approve a b c d e f g h i j"))
	if !strings.Contains(msg, "approve takes at most 1 argument, got 10; remove the 9 extra") {
		t.Errorf("got %q", msg)
	}
}

// TestExpiryRepliesInThread: like deny and cancel, expiry says so in the
// thread.
func TestExpiryRepliesInThread(t *testing.T) {
	clock := approvalstest.NewClock(time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC))
	s, rec := setup(t, simtest.Options{Clock: clock.Now})
	_, root := openMigrate(t, s, rec)
	clock.Advance(16 * time.Minute)
	s.Router.ExpireNow(context.Background())
	contains(t, rec.thread(root)[1:], "Expired: no approval within 15m0s. Nothing ran.")
}

func text2msg(s string) bot.Message { return bot.Message{Text: bot.Plain(s)} }

// TestRestartOfNothingHasNoEffect: should a restart of a service the host
// does not have get past the pre-flight (opened past the router here), it
// ends NO EFFECT at once instead of polling for a service that never
// appears.
func TestRestartOfNothingHasNoEffect(t *testing.T) {
	s, rec := setup(t, simtest.Options{Router: commands.Options{RestartWait: time.Minute, RestartPoll: 100 * time.Millisecond}})
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", text2msg("approval"))
	req, err := s.Approvals.Open(ctx, approvals.NewRequest{Platform: "test", Channel: "C1", Thread: root.ID, Host: "gitlab-sim", Operation: "restart",
		Params: map[string]string{"service": "nosuchservice"}, Argv: []string{"gitlab-ctl", "restart", "nosuchservice"}, Requester: approvals.User{ID: alice.ID, Name: alice.Name}})
	if err != nil {
		t.Fatal(err)
	}
	done := approveAndGet(t, s, rec, req.ID)
	if n := agentJobs(t, s, "services"); n != 0 {
		t.Errorf("%d gitlab-ctl status runs: it polled for a service that does not exist", n)
	}
	if done.State != approvals.StateFailed || !strings.HasPrefix(done.Error, "NO EFFECT: gitlab-ctl restarted no service") {
		t.Errorf("ended %s %q", done.State, done.Error)
	}
	th := rec.thread(root.ID)
	// The result reply under the card says it too.
	contains(t, th, "restart on gitlab-sim: no effect")
	contains(t, th, "gitlab-ctl printed nothing")
	if strings.Contains(strings.Join(th, "\n"), "SUCCEEDED") {
		t.Error("the thread says SUCCEEDED")
	}
}

// TestFailedFinalizeSaysWhy: a plain finalize that reached a decomposed
// install (opened past the router, which would refuse it) ends FAILED with
// GitLab's reason and what to do, not with an exit code.
func TestFailedFinalizeSaysWhy(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "decomposed-bbm-unfinished"})
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", text2msg("approval"))
	args := `[["id","build_id"],["id_convert_to_bigint","build_id_convert_to_bigint"]]`
	req, err := s.Approvals.Open(ctx, approvals.NewRequest{Platform: "test", Channel: "C1", Thread: root.ID, Host: "gitlab-sim", Operation: "finalize",
		Params:    map[string]string{"job_class": "CopyColumnUsingBackgroundMigrationJob", "table": "ci_build_needs", "column": "id", "job_arguments": args},
		Argv:      []string{"gitlab-rake", "gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_build_needs,id," + strings.ReplaceAll(args, ",", `\,`) + "]"},
		Requester: approvals.User{ID: alice.ID, Name: alice.Name}})
	if err != nil {
		t.Fatal(err)
	}
	done := approveAndGet(t, s, rec, req.ID)
	if done.State != approvals.StateFailed || done.Error != "FAILED: finalize failed: this install has several databases: request the finalize again with --db main or --db ci" {
		t.Errorf("ended %s %q", done.State, done.Error)
	}
	th := strings.Join(rec.thread(root.ID), "\n")
	for _, bad := range []string{"exit status", "SUCCEEDED"} {
		if strings.Contains(th, bad) {
			t.Errorf("thread says %q:\n%s", bad, th)
		}
	}
}

// TestRestartWithSupervisorDownFails: when runit itself is down nothing
// restarts, and the card says FAILED with the services that did not.
func TestRestartWithSupervisorDownFails(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "runsvdir-down", Router: commands.Options{RestartWait: time.Second, RestartPoll: 100 * time.Millisecond}})
	if err := command(t, s, rec, alice, "restart -- everything is down"); err != nil {
		t.Fatal(err)
	}
	req := onePending(t, s)
	done := approveAndGet(t, s, rec, req.ID)
	if done.State != approvals.StateFailed || !strings.HasPrefix(done.Error, "FAILED: did not restart: alertmanager (fail), gitaly (fail)") || !strings.Contains(done.Error, "… 9 more") {
		t.Errorf("ended %s %q", done.State, done.Error)
	}
}

// TestArgumentRefusalsAreOneSentence: an argument refusal reads as one
// sentence, without the operation's name or stacked colons in front.
func TestArgumentRefusalsAreOneSentence(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	msg := refusal(t, command(t, s, rec, alice, `finalize --db geo CopyColumnUsingBackgroundMigrationJob merge_request_metrics id '[]'`))
	if !strings.HasPrefix(msg, `database "geo" has no finalize task (GitLab defines finalize:<db> for every database except geo)`) {
		t.Errorf("finalize --db geo: %q", msg)
	}
}

// TestRequestIDEchoesAreShort: a mistyped request ID is quoted back at
// most 80 characters long, whichever subcommand took it.
func TestRequestIDEchoesAreShort(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	long := strings.Repeat("q", 1000)
	for _, line := range []string{"approve " + long, "cancel " + long, "deny " + long, "finalize --from " + long} {
		msg := refusal(t, command(t, s, rec, alice, line))
		if !strings.Contains(msg, strings.Repeat("q", 79)+"…\" is not a request ID") || strings.Contains(msg, strings.Repeat("q", 80)) {
			t.Errorf("%s…: %.300q", line[:10], msg)
		}
	}
}

// TestApprovingAFinishedRequestSaysItsVerdict: the store records PARTLY
// as failed; a late approval is told what really happened.
func TestApprovingAFinishedRequestSaysItsVerdict(t *testing.T) {
	s, rec := setup(t, simtest.Options{Scenario: "bbm-unfinished"})
	id, _ := openMigrate(t, s, rec)
	if done := approveAndGet(t, s, rec, id); !strings.HasPrefix(done.Error, "PARTLY: ") {
		t.Fatalf("migrate ended %s %q", done.State, done.Error)
	}
	msg := refusal(t, command(t, s, rec, carol, "approve "+id))
	if !strings.Contains(msg, "already ran: partly done (ended at ") || strings.Contains(msg, "it failed") {
		t.Errorf("late approval: %q", msg)
	}
}
