package commands

import (
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// Fixture is one message the router builds, named for a golden file.
type Fixture struct {
	Name    string
	Message bot.Message
	// Form, when set, is the form Message stands in for where no form
	// can be opened (a Reply carrying both), for adapters that render
	// forms.
	Form *bot.Form
}

// Fixtures returns one message of every kind the router builds, each made
// by the router's own render function from canned input, so that they
// change when the router's messages do. bot/bottest renders them through
// every adapter into a golden file per adapter. Nothing at run time calls
// it. The order is stable.
func Fixtures() []Fixture {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	var fs []Fixture
	add := func(name string, m bot.Message) { fs = append(fs, Fixture{Name: name, Message: m}) }

	base := approvals.Request{
		ID: "r7k2qxa9", Host: "gitlab-1", Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"},
		Requester: approvals.User{ID: "U1", Name: "alice"}, Reason: "upgrade to 17.5 *now* <!here> & `x`",
		FingerprintInfo: "main: 2 down (main:20250611093054, main:20250612101733)",
		Required:        1, ApproverIDs: []string{"U2", "S3"}, Channel: "C1",
		CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute), State: approvals.StatePending,
	}
	bob := approvals.Decision{User: approvals.User{ID: "U2", Name: "bob"}, Verdict: approvals.VerdictApprove, At: now.Add(2 * time.Minute)}
	ended := now.Add(5 * time.Minute)
	for _, c := range []struct {
		name string
		set  func(r *approvals.Request)
	}{
		{"approval-pending", func(*approvals.Request) {}},
		{"approved-running", func(r *approvals.Request) { r.State, r.Decisions = approvals.StateRunning, []approvals.Decision{bob} }},
		{"result-succeeded", func(r *approvals.Request) {
			r.State, r.Decisions, r.EndedAt, r.Outcome = approvals.StateSucceeded, []approvals.Decision{bob}, ended, "SUCCEEDED: 6 migrated; every migration is up"
		}},
		{"result-failed", func(r *approvals.Request) {
			r.State, r.Decisions, r.EndedAt = approvals.StateFailed, []approvals.Decision{bob}, ended
			r.Error = "FAILED: nothing migrated: it stopped at 20250514124512 EnsureX (main): a batched background migration is active and must be finalized first"
		}},
		{"result-partly", func(r *approvals.Request) {
			r.Operation, r.State, r.Decisions, r.EndedAt = "restart", approvals.StateFailed, []approvals.Decision{bob}, ended
			r.Error = verdict{verdictPartly, "sidekiq restarted and running; also not running: puma (down, crash loop?)"}.detail()
		}},
		{"result-no-effect", func(r *approvals.Request) {
			r.Operation, r.State, r.Decisions, r.EndedAt = "finalize", approvals.StateFailed, []approvals.Decision{bob}, ended
			r.Error = verdict{verdictNoEffect, "finalize printed Done., but it matched no batched background migration, so nothing was finalized"}.detail()
		}},
		{"result-not-verified", func(r *approvals.Request) {
			r.State, r.Decisions, r.EndedAt = approvals.StateInterrupted, []approvals.Decision{bob}, ended
			r.Error = verdict{verdictUnverified, "db:migrate exited 0 (6 migrated), but I could not check the status after it; check with /gitlab-migrations status"}.detail()
		}},
		{"denied", func(r *approvals.Request) {
			r.State, r.Decisions = approvals.StateDenied, []approvals.Decision{{User: approvals.User{ID: "U3", Name: "carol"}, Verdict: approvals.VerdictDeny, At: now.Add(time.Minute), Reason: "not during *business* hours"}}
		}},
		{"expired", func(r *approvals.Request) {
			r.State, r.Decisions = approvals.StateExpired, []approvals.Decision{{User: approvals.User{ID: approvals.ActorSystem, Name: approvals.ActorSystem}, Verdict: approvals.VerdictExpire, At: now.Add(15 * time.Minute)}}
		}},
	} {
		r := base
		c.set(&r)
		add(c.name, requestMessage(&r, now))
	}

	status, _ := gitlab.ParseMigrateStatus([]byte(fixtureMigrateStatus))
	add("status-summary", statusMessage("gitlab-1", status))
	bbm, _ := gitlab.ParseBBMStatus([]byte(fixtureBBMStatus))
	add("bbm", bbmMessage("gitlab-1", bbm))
	ctl, _ := gitlab.ParseCtlStatus([]byte(fixtureCtlStatus))
	add("services", servicesMessage("gitlab-1", ctl))
	add("busy", busyMessage("gitlab-1", 2*time.Minute))
	add("progress", progressMessage("gitlab-rake db:migrate", "gitlab-1", 83*time.Second, progressView{lines: 412, lastLine: "main: == 20250611093054 CreateProjectComplianceViolations: migrating ==", jobID: "j-5f2c"}))
	add("progress-problem", progressMessage("gitlab-rake db:migrate", "gitlab-1", 95*time.Second, progressView{lines: 430, problem: "agent unreachable, retrying"}))
	refused := &agent.APIError{Status: 409, Message: "another mutating job is running"}
	add("agent-error", agentErrorMessage("gitlab-1", "status", refused))
	add("outcome-unknown", unreachableMessage("gitlab-1", now, refused))
	add("approved-reply", approvedReply("bob", 1, 2))
	codeReq := base
	form := codeForm(&codeReq)
	fs = append(fs, Fixture{"approve-code", codePromptMessage(&codeReq), &form})
	add("enrolment", enrolMessage("otpauth://totp/gitlab-chatops:bob?algorithm=SHA1&digits=6&issuer=gitlab-chatops&period=30&secret=JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP", true,
		approvals.Policy{Reauth: map[string]string{"migrate": approvals.ReauthTOTP, "finalize": approvals.ReauthTOTP}}))
	add("denied-reply", decidedReply(approvals.StateDenied, "carol", "not during *business* hours <!here>"))
	expiring := base
	expiring.State = approvals.StateExpired
	add("expired-reply", expiredReply(&expiring))
	running := base
	running.ID, running.State, running.StartedAt, running.Note = "q4m8zt2b", approvals.StateRunning, now.Add(-3*time.Minute), "outcome unknown: agent unreachable since 09:58 UTC"
	emergency := base
	emergency.ID, emergency.Emergency, emergency.Required, emergency.EmergencyApprovers = "e3v9wq5k", true, 2, []string{"S4"}
	emergency.Reason = "INC-1234 deploy blocked *now*"
	add("emergency-pending", requestMessage(&emergency, now))
	add("emergency-notice-opened", emergencyMessage(&emergency, "opened"))
	ran := emergency
	ran.State, ran.Decisions, ran.StartedAt, ran.EndedAt = approvals.StateSucceeded, []approvals.Decision{bob, {User: approvals.User{ID: "U3", Name: "carol"}, Verdict: approvals.VerdictApprove, At: now.Add(3 * time.Minute)}}, now.Add(4*time.Minute), ended
	ran.Outcome, ran.ReviewDue = "SUCCEEDED: 6 migrated; every migration is up", ended.Add(approvals.ReviewWithin)
	add("emergency-notice-running", emergencyMessage(&ran, "running"))
	add("emergency-result-review-due", requestMessage(&ran, now))
	add("review-reminder", reviewReminder(&ran))
	reviewed := ran
	reviewed.Review = &approvals.Review{By: approvals.User{ID: "U9", Name: "dave"}, At: ended.Add(time.Hour), Note: "postmortem PM-7 <!here>"}
	add("emergency-result-reviewed", requestMessage(&reviewed, now))
	overdue := ran
	overdue.ID, overdue.ReviewDue = "m2x7kd4p", now.Add(-time.Hour)
	add("pending", withReviews(pendingList([]*approvals.Request{&base, &running}, now), []*approvals.Request{&ran, &overdue}, now))
	add("pending-none", pendingList(nil, now))
	add("hosts", hostsList([]hostCheck{
		{Host: Host{Name: "gitlab-1", Default: true}, Version: "1.4.0", Latency: 12 * time.Millisecond},
		{Host: Host{Name: "gitlab-2"}, Err: refused},
	}, "gitlab-1", true, now))

	h := Host{Name: "gitlab-1"}
	ready := []upgradeOutcome{servicesOutcome(h, gitlab.CtlStatus{}), bbmOutcome(h, nil, 12), migrationsOutcome(h, gitlab.MigrateStatus{})}
	notReady := []upgradeOutcome{servicesOutcome(h, ctl), bbmOutcome(h, gitlab.BBMBlockers(bbm), 9), migrationsOutcome(h, status)}
	add("upgrade-check-ready", upgradeMessage(fixtureVerdict(h.Name, UpgradeReady, ready, now)))
	add("upgrade-check-not-ready", upgradeMessage(fixtureVerdict(h.Name, UpgradeNotReady, notReady, now)))

	exit1 := 1
	failedRec := agent.JobRecord{State: agent.StateFailed, ExitCode: &exit1, DurationMS: 5400}
	mig := gitlab.ParseMigrate([]byte(fixtureMigrateFail))
	before := gitlab.DownBefore{Databases: []string{"main"}}
	add("migrate-result-failed", migrateMessage("gitlab-1", failedRec, mig, before, nil))
	if mig.Failure != nil && mig.Failure.Finalize != nil {
		a, known := suggestedFinalize(mig.Failure, before)
		add("finalize-offer", finalizeOfferMessage(&base, mig.Failure, a, known, ""))
	}

	entries := []approvals.AuditEntry{
		{Seq: 41, Time: now, Actor: "U1", ActorName: "alice", Action: approvals.ActionRequestOpened, RequestID: "r7k2qxa9", Operation: "migrate"},
		{Seq: 42, Time: now.Add(2 * time.Minute), Actor: "U2", ActorName: "bob", Action: approvals.ActionRequestApproved, RequestID: "r7k2qxa9", Operation: "migrate"},
	}
	page, lines := auditPageMessage(entries, 2, 0)
	page.Code = lines
	add("audit-page", page)
	shown := base
	shown.State, shown.Decisions, shown.Thread = approvals.StateRunning, []approvals.Decision{bob}, "1700000000.000001"
	add("show", showMessage(&shown, entries, "https://chat.example/archives/C1/p1700000000000001"))
	add("help", helpMessage(Invocation{Sub: "help"}))
	add("help-migrate", helpMessage(Invocation{Sub: "help", Args: []string{"migrate"}}))
	add("unknown-subcommand", helpMessage(Invocation{Sub: "help", Args: []string{"<!channel>"}}))
	if _, err := Parse("status --host gitlab-1 --host gitlab-2"); err != nil {
		// What the router refuses it with (refused), as an adapter shows it.
		m, _, _ := bot.Refusal(&Refusal{Msg: peopleText(err)})
		add("usage-error", m)
	}

	daily := schedule.Schedule{ID: "daily-status", Spec: "0 8 * * 1-5", TZ: "Europe/Berlin", Platform: "slack", Channel: "C1", What: schedule.WhatStatus, When: schedule.WhenChanged, CatchUp: true, Source: schedule.SourceConfig}
	add("schedules-list", schedulesMessage([]schedule.Entry{
		{Schedule: daily, Next: now.Add(22 * time.Hour), HasLast: true, Last: schedule.Result{At: now.Add(-2 * time.Hour), Facts: map[string]string{"main": "2 down"}, Problem: true}},
	}, now))
	answer := []hostAnswer{{Host: "gitlab-1", Msg: statusMessage("gitlab-1", status), Line: bot.Plain(statusLine(status)), Tone: bot.ToneWarning}}
	add("scheduled-post-changes", scheduledMessage(daily, bot.Code("/gitlab-migrations status"), answer, schedule.Post{Changes: []string{"main: all up → 2 down"}}))
	add("scheduled-post-catch-up", scheduledMessage(daily, bot.Code("/gitlab-migrations status"), answer, schedule.Post{CatchUp: true}))
	return fs
}

// Degrade is chat as the router posts on it (degrade.go): chat itself
// when its platform can show everything, else wrapped so that what the
// platform lacks is degraded. bot/bottest runs its suite through it, so
// an adapter is tested as the router uses it. Nothing at run time calls
// it.
func Degrade(chat bot.Chat) bot.Chat { return degrade(chat) }

// fixtureVerdict puts outcomes together as upgradeCheck does.
func fixtureVerdict(host string, v Readiness, outs []upgradeOutcome, taken time.Time) UpgradeVerdict {
	u := UpgradeVerdict{Host: host, Verdict: v, Taken: taken}
	for _, o := range outs {
		u.Parts = append(u.Parts, o.part)
		u.Reasons = append(u.Reasons, o.reasons...)
	}
	return u
}

// Small real captures (shapes of ../shared/fixtures/gitlab).
const (
	fixtureMigrateStatus = `
database: gitlabhq_production

 Status   Migration ID    Migration Name
--------------------------------------------------
   up     20250422043041  Add multi column not null constraint to ci runners
   up     20250423005300  Swap namespace statistics metadata convert to bigint
  down    20250611093054  Create project compliance violations
  down    20250612101733  Add text limit to project compliance violations title
`
	fixtureBBMStatus = `Database: main
finalized  | BackfillWorkItemTransitions,issues,id,[]
active     | CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,[["id"],["id_convert_to_bigint"]]
failed     | CopyColumnUsingBackgroundMigrationJob,ci_build_needs,id,[["id","build_id"],["id_convert_to_bigint","build_id_convert_to_bigint"]]
Database: ci
finalizing | BackfillCiRunnerMachinesOrganizationId,ci_runner_machines,id,[]
`
	fixtureMigrateFail = `main: == [advisory_lock_connection] object_id: 131480, pg_backend_pid: 2220117
main: == 20250508093412 AddIndexOnCiRunnerMachinesOrganizationId: migrating =========
main: == 20250508093412 AddIndexOnCiRunnerMachinesOrganizationId: migrated (2.5236s) 

main: == 20250514124512 EnsureMergeRequestMetricsIdBigintBackfillIsFinishedForSelfHosts: migrating 
main: -- transaction_open?(nil)
main:    -> 0.0000s
main: -- transaction_open?(nil)
main:    -> 0.0000s
main: == [advisory_lock_connection] object_id: 131480, pg_backend_pid: 2220117
rake aborted!
StandardError: An error has occurred, all later migrations canceled:

Expected batched background migration for the given configuration to be marked as 'finished', but it is 'active':	{:job_class_name=>"CopyColumnUsingBackgroundMigrationJob", :table_name=>"merge_request_metrics", :column_name=>"id", :job_arguments=>[["id"], ["id_convert_to_bigint"]]}

Finalize it manually by running the following command in a ` + "`" + `bash` + "`" + ` or ` + "`" + `sh` + "`" + ` shell:

	sudo gitlab-rake gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,'[["id"]\,["id_convert_to_bigint"]]']
Tasks: TOP => db:migrate
`
	fixtureCtlStatus = `run: gitaly: (pid 1048) 1209349s; run: log: (pid 1004) 1209405s
run: postgresql: (pid 1106) 1209335s; run: log: (pid 1028) 1209402s
down: puma: 1s, normally up, want up; run: log: (pid 1034) 1209405s
down: sidekiq: 1432s, normally up; run: log: (pid 1043) 1209404s
`
)
