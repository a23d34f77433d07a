package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// upgrade-check answers "can I upgrade this GitLab now?" from three
// read-only questions asked of the host at once: which schema migrations
// are down, which batched background migrations are not finished, which
// services do not run. Which facts block an upgrade is GitLab's rule
// (gitlab.MigrationBlockers, BBMBlockers, ServiceBlockers); this file runs
// the questions and turns the answers into a verdict with the subcommand
// that fixes each reason. It never says READY on missing evidence: a
// question that could not be answered makes the verdict UpgradeCannotTell.

// Readiness is an upgrade-check verdict, as people read it.
type Readiness string

const (
	// UpgradeReady: every part was checked and nothing blocks.
	UpgradeReady Readiness = "READY"
	// UpgradeNotReady: at least one fact blocks an upgrade.
	UpgradeNotReady Readiness = "NOT READY"
	// UpgradeCannotTell: nothing found blocks, but a part could not be
	// checked, so the answer is not READY either.
	UpgradeCannotTell Readiness = "NOT READY (cannot tell)"
)

// The parts of an upgrade check, in the order they are reported. The
// order is also the order in which to fix things: a database needs its
// services, and a post-deployment migration may need a batched migration
// finished.
const (
	PartServices   = "services"
	PartBBM        = "batched background migrations"
	PartMigrations = "migrations"
)

// UpgradeReason is one reason the verdict is not READY: blocking facts
// (Blockers set) or a part that could not be checked (Unchecked).
type UpgradeReason struct {
	Part string `json:"part"`
	// Text says what was found (or why the part could not be checked), as
	// a sentence or two, without the fix.
	Text bot.Text `json:"text"`
	// Fix is the exact /gitlab-migrations line that fixes it, pasteable
	// as it stands; "" when no subcommand can.
	Fix string `json:"fix,omitempty"`
	// OnHost, when Fix is "", is what to run or look at on the host.
	OnHost string `json:"on_host,omitempty"`
	// Unchecked: the part could not be checked; Text says why.
	Unchecked bool `json:"unchecked,omitempty"`
	// Blockers are GitLab's facts behind the reason (none when Unchecked).
	Blockers []gitlab.UpgradeBlocker `json:"blockers,omitempty"`
}

// UpgradePart is what one part found, whatever the verdict.
type UpgradePart struct {
	Name string `json:"name"`
	// Found is a short summary ("main: all 54 up", "all 15 running",
	// "could not be checked").
	Found string `json:"found"`
	// Facts are comparable observations of this part, subject → value,
	// free of times and counters that move by themselves.
	Facts     map[string]string `json:"facts"`
	Unchecked bool              `json:"unchecked,omitempty"`
}

// UpgradeVerdict is the answer of upgrade-check on one host. Callers:
//   - Verdict is READY only when every part was checked and nothing
//     blocks;
//   - Reasons holds every blocking fact and every unchecked part, in fix
//     order, each with its fix;
//   - Summary() is one line for a list of hosts ("gitlab-1: NOT READY:
//     …");
//   - Facts() are comparable observations (for `when: changed`): two
//     verdicts describe the same state exactly when their Facts are equal;
//   - Problem() / Failed() / FailReason() map onto schedule.Result;
//   - upgradeMessage(v) renders it as the thread reply.
type UpgradeVerdict struct {
	Host    string          `json:"host"`
	Verdict Readiness       `json:"verdict"`
	Reasons []UpgradeReason `json:"reasons"`
	Parts   []UpgradePart   `json:"parts"`
	// Taken is when the oldest of the answers was taken (answers may be
	// shared with identical requests of the last few seconds); zero when
	// no part was answered.
	Taken time.Time `json:"taken,omitzero"`
}

// Problem reports whether the verdict is anything but READY.
func (v UpgradeVerdict) Problem() bool { return v.Verdict != UpgradeReady }

// Failed reports whether a part could not be checked.
func (v UpgradeVerdict) Failed() bool {
	return slices.ContainsFunc(v.Parts, func(p UpgradePart) bool { return p.Unchecked })
}

// FailReason says, as sentences, why parts could not be checked; "" when
// every part was.
func (v UpgradeVerdict) FailReason() string {
	var s []string
	for _, r := range v.Reasons {
		if r.Unchecked {
			s = append(s, r.Text.String()) // `code` stays readable as a sentence (bot.Sentence)
		}
	}
	return strings.Join(s, " ")
}

// Facts returns the comparable observations of every part, one subject
// per part whether or not it could be checked ("migrations": "main all up,
// ci 2 down", "services": "all running"), plus the verdict ("verdict":
// "READY"); prefix them with the host name when several hosts share a
// result.
func (v UpgradeVerdict) Facts() map[string]string {
	f := map[string]string{"verdict": string(v.Verdict)}
	for _, p := range v.Parts {
		for k, val := range p.Facts {
			f[k] = val
		}
	}
	return f
}

// Summary is the verdict in one line: the host, the verdict and what
// makes it so, e.g. "gitlab-1: NOT READY: services 2 of 15 not running;
// batched background migrations 1 not finished".
func (v UpgradeVerdict) Summary() string {
	if v.Verdict == UpgradeReady {
		return fmt.Sprintf("%s: %s", v.Host, v.Verdict)
	}
	var why []string
	for _, p := range v.Parts {
		if v.partBlocks(p.Name) || p.Unchecked {
			why = append(why, p.Name+" "+p.Found)
		}
	}
	return fmt.Sprintf("%s: %s: %s", v.Host, v.Verdict, strings.Join(why, "; "))
}

// partBlocks reports whether a reason names part.
func (v UpgradeVerdict) partBlocks(part string) bool {
	return slices.ContainsFunc(v.Reasons, func(r UpgradeReason) bool { return r.Part == part })
}

// upgradeRun is one agent run of a check, kept for the audit.
type upgradeRun struct {
	op     gitlab.Operation
	res    flightResult
	shared bool
}

// upgradeCheck asks host the three questions of upgrade-check at once
// (each through the shared read-only path, so identical questions asked
// within a few seconds share one agent job) and returns the verdict. by is
// who asked (the user, or the scheduler), for the audit: every agent run
// is audited as a read-only run, then the verdict itself, so callers need
// not audit it again. onBusy (may be nil) is called, at most once, when
// the agent had to be waited for.
//
// A part that cannot be checked (agent unreachable or busy for too long,
// rake aborted, unreadable or incomplete output, no task for it on this
// GitLab) is a reason in the verdict, never an error. The error is non-nil
// only when ctx ended before the parts did: the bot is stopping, and
// nothing should be posted.
func (r *Router) upgradeCheck(ctx context.Context, host Host, by approvals.User, onBusy func()) (UpgradeVerdict, error) {
	var once sync.Once
	busy := func() {
		if onBusy != nil {
			once.Do(onBusy)
		}
	}
	var (
		wg               sync.WaitGroup
		svc, bbm, mig    upgradeOutcome
		svcRuns, bbmRuns []upgradeRun
		migRuns          []upgradeRun
	)
	wg.Add(3)
	go func() { defer wg.Done(); svc, svcRuns = r.checkServices(ctx, host, by, busy) }()
	go func() { defer wg.Done(); bbm, bbmRuns = r.checkBBM(ctx, host, by, busy) }()
	go func() { defer wg.Done(); mig, migRuns = r.checkMigrations(ctx, host, by, busy) }()
	wg.Wait()
	runs := slices.Concat(svcRuns, bbmRuns, migRuns)
	// What ran on the host is audited even when the bot is stopping.
	actx := context.WithoutCancel(ctx)
	r.auditUpgradeRuns(actx, host, by, runs)
	if err := ctx.Err(); err != nil {
		return UpgradeVerdict{}, fmt.Errorf("upgrade check on %s: %w", host.Name, context.Cause(ctx))
	}
	v := UpgradeVerdict{Host: host.Name}
	for _, o := range []upgradeOutcome{svc, bbm, mig} {
		v.Parts = append(v.Parts, o.part)
		v.Reasons = append(v.Reasons, o.reasons...)
	}
	for _, run := range runs {
		if run.res.Err == nil && !run.res.Taken.IsZero() && (v.Taken.IsZero() || run.res.Taken.Before(v.Taken)) {
			v.Taken = run.res.Taken
		}
	}
	v.Verdict = UpgradeReady
	for _, reason := range v.Reasons {
		switch {
		case !reason.Unchecked:
			v.Verdict = UpgradeNotReady
		case v.Verdict == UpgradeReady:
			v.Verdict = UpgradeCannotTell
		}
	}
	r.audit(actx, approvals.AuditEntry{
		Actor: by.ID, ActorName: by.Name, Action: approvals.ActionReadOnlyRun,
		Host: host.Name, Operation: "upgrade-check", Outcome: string(v.Verdict), Detail: truncate(v.Summary(), 500),
	})
	return v, nil
}

// upgradeOutcome is what checking one part gave.
type upgradeOutcome struct {
	part    UpgradePart
	reasons []UpgradeReason
}

// unchecked is the outcome of a part that could not be checked.
func unchecked(part, text, onHost string) upgradeOutcome {
	return upgradeOutcome{
		part:    UpgradePart{Name: part, Found: "could not be checked", Facts: map[string]string{part: "not checked"}, Unchecked: true},
		reasons: []UpgradeReason{{Part: part, Text: bot.Sentence(text), OnHost: onHost, Unchecked: true}},
	}
}

// askShared runs op on host through the shared read-only path.
func (r *Router) askShared(ctx context.Context, host Host, by approvals.User, opName string, busy func()) upgradeRun {
	op, _ := gitlab.Lookup(opName) // the callers name catalogue operations
	res, shared := r.sharedRun(ctx, host, agent.RunRequest{Operation: op.Name, Requester: by.ID},
		readOnlyKey(host.Name, op.Name, gitlab.Args{}), readOnlyReuse, busy)
	return upgradeRun{op: op, res: res, shared: shared}
}

func (r *Router) checkServices(ctx context.Context, host Host, by approvals.User, busy func()) (upgradeOutcome, []upgradeRun) {
	run := r.askShared(ctx, host, by, gitlab.OpServices, busy)
	if run.res.Err != nil {
		return unchecked(PartServices, "I could not check the services: "+agentProblem(host.Name, run.res.Err), ""), []upgradeRun{run}
	}
	s, err := parseCtlRun(run.res.Rec, run.res.Out)
	if err == nil && run.res.Rec.ExitCode == nil {
		// Killed or timed out: what it printed may stop half-way.
		err = &unreadableError{commandOf(run.res.Rec, "gitlab-ctl status"), run.res.Rec, fmt.Errorf("the command %s", run.res.Rec.State), tail(run.res.Out, unreadableTail)}
	}
	if err == nil && len(s.Services) == 0 {
		return unchecked(PartServices, fmt.Sprintf("`gitlab-ctl status` on %s listed no services, so I cannot tell whether GitLab runs.", host.Name), "sudo gitlab-ctl status"), []upgradeRun{run}
	}
	if err != nil {
		return unchecked(PartServices, "I could not check the services: "+problem(host.Name, err), ""), []upgradeRun{run}
	}
	return servicesOutcome(host, s), []upgradeRun{run}
}

// servicesOutcome judges gitlab-ctl status.
func servicesOutcome(host Host, s gitlab.CtlStatus) upgradeOutcome {
	o := upgradeOutcome{part: UpgradePart{Name: PartServices, Facts: map[string]string{}}}
	down := s.Down()
	if len(down) == 0 {
		o.part.Found = fmt.Sprintf("all %d running", len(s.Services))
		o.part.Facts[PartServices] = "all running"
		return o
	}
	names := make([]string, len(down))
	for i, svc := range down {
		names[i] = svc.Name
	}
	o.part.Found = fmt.Sprintf("%d of %d not running", len(down), len(s.Services))
	o.part.Facts[PartServices] = "not running: " + strings.Join(names, ", ")
	for _, b := range gitlab.ServiceBlockers(s) {
		reason := UpgradeReason{Part: PartServices, Blockers: []gitlab.UpgradeBlocker{b}, OnHost: b.OnHost()}
		switch b.Kind {
		case gitlab.BlockerSupervisorDown:
			o.part.Facts[PartServices] = "supervisor down"
			reason.Text = bot.Textf("runit's supervisor is not running on %s: all %d services say %s, so no service runs and a restart cannot help.", host.Name, len(b.Services), bot.Code("runsv not running"))
		default:
			svc := b.Services[0]
			reason.Text = bot.Plain("Not running: " + describeDown(svc) + ".")
			if reason.OnHost == "" {
				reason.Fix = restartCommand(host, svc.Name)
			}
		}
		o.reasons = append(o.reasons, reason)
	}
	return o
}

// restartCommand is the /gitlab-migrations line that requests a restart
// of service on host.
func restartCommand(host Host, service string) string {
	return fmt.Sprintf("/gitlab-migrations restart --host %s %s", host.Name, service)
}

// migrateCommand is the /gitlab-migrations line that requests a migrate on
// host.
func migrateCommand(host Host) string {
	return "/gitlab-migrations migrate --host " + host.Name
}

func (r *Router) checkMigrations(ctx context.Context, host Host, by approvals.User, busy func()) (upgradeOutcome, []upgradeRun) {
	run := r.askShared(ctx, host, by, gitlab.OpMigrateStatus, busy)
	if run.res.Err != nil {
		return unchecked(PartMigrations, "I could not check the schema migrations: "+agentProblem(host.Name, run.res.Err), ""), []upgradeRun{run}
	}
	s, err := parseStatusRun(run.res.Rec, run.res.Out)
	if err != nil {
		return unchecked(PartMigrations, "I could not check the schema migrations: "+problem(host.Name, err), ""), []upgradeRun{run}
	}
	if len(s.Databases) == 0 {
		return unchecked(PartMigrations, fmt.Sprintf("`gitlab-rake db:migrate:status` on %s listed no database, so I cannot tell which migrations are up.", host.Name), "sudo gitlab-rake db:migrate:status"), []upgradeRun{run}
	}
	return migrationsOutcome(host, s), []upgradeRun{run}
}

// migrationsOutcome judges db:migrate:status.
func migrationsOutcome(host Host, s gitlab.MigrateStatus) upgradeOutcome {
	o := upgradeOutcome{part: UpgradePart{Name: PartMigrations, Facts: map[string]string{}}}
	var found, facts []string
	for _, d := range s.Databases {
		if d.Down == 0 {
			facts = append(facts, strings.TrimSpace(d.Config+" all up"))
			found = append(found, fmt.Sprintf("%s all %s up", d.Config, thousands(d.Up)))
			continue
		}
		facts = append(facts, strings.TrimSpace(fmt.Sprintf("%s %d down", d.Config, d.Down)))
		found = append(found, fmt.Sprintf("%s %s down", d.Config, thousands(d.Down)))
	}
	o.part.Found = strings.Join(found, ", ")
	// One subject for the part, as when it cannot be checked (the
	// databases are not known then): a change reads "migrations: main all
	// up → not checked", not as a database gone and a part appeared.
	o.part.Facts[PartMigrations] = strings.Join(facts, ", ")
	blockers := gitlab.MigrationBlockers(s)
	if len(blockers) == 0 {
		return o
	}
	// One migrate runs the down migrations of every database: one reason,
	// one fix. Databases with the same down versions (a decomposed install
	// lists every migration on both) are named together, not twice.
	var (
		dbs   []string
		names [][]string // database names per group, in output order
	)
	seen := map[string]int{} // down versions → index in dbs
	for _, b := range blockers {
		var versions, rows []string
		for j, row := range b.Down {
			versions = append(versions, row.Version)
			switch {
			case j < 5:
				rows = append(rows, fmt.Sprintf("`%s` %s", row.Version, row.Name))
			case j == 5:
				rows = append(rows, fmt.Sprintf("… and %d more", len(b.Down)-5))
			}
		}
		key := strings.Join(versions, ",")
		if i, ok := seen[key]; ok && b.Database != "" {
			names[i] = append(names[i], b.Database)
			continue
		}
		seen[key] = len(dbs)
		names = append(names, []string{b.Database})
		dbs = append(dbs, fmt.Sprintf("%s (%s)", plural(len(b.Down), "migration"), strings.Join(rows, ", ")))
	}
	for i := range dbs {
		if on := strings.Join(slices.DeleteFunc(names[i], func(n string) bool { return n == "" }), " and "); on != "" {
			dbs[i] = on + ": " + dbs[i]
		}
	}
	o.reasons = append(o.reasons, UpgradeReason{Part: PartMigrations, Blockers: blockers,
		Text: bot.Sentence("Schema migrations are down: " + strings.Join(dbs, "; ") + "."), Fix: migrateCommand(host)})
	return o
}

// checkBBM asks for the batched background migrations: the status task
// where it exists (every finalize argument), else the 18.x CLI's list
// (ids and states only), else it says that this GitLab has neither.
func (r *Router) checkBBM(ctx context.Context, host Host, by approvals.User, busy func()) (upgradeOutcome, []upgradeRun) {
	const cannot = "I could not check the batched background migrations: "
	run := r.askShared(ctx, host, by, gitlab.OpBBMStatus, busy)
	runs := []upgradeRun{run}
	if run.res.Err != nil {
		return unchecked(PartBBM, cannot+agentProblem(host.Name, run.res.Err), ""), runs
	}
	if run.res.Rec.State == agent.StateSucceeded || !gitlab.MissingTask(run.res.Out.combined(), gitlab.BBMStatusTask) {
		s, err := parseBBMRun(run.res.Rec, run.res.Out)
		if err != nil {
			return unchecked(PartBBM, cannot+problem(host.Name, err), ""), runs
		}
		return bbmOutcome(host, gitlab.BBMBlockers(s), countBBM(s)), runs
	}
	list := r.askShared(ctx, host, by, gitlab.OpBBMList, busy)
	runs = append(runs, list)
	if list.res.Err != nil {
		return unchecked(PartBBM, fmt.Sprintf("%sGitLab on %s has no `%s` task, and asking for `%s` failed: %s", cannot, host.Name, gitlab.BBMStatusTask, gitlab.BBMListTask, agentProblem(host.Name, list.res.Err)), ""), runs
	}
	if list.res.Rec.State != agent.StateSucceeded && gitlab.MissingTask(list.res.Out.combined(), gitlab.BBMListTask) {
		return unchecked(PartBBM, fmt.Sprintf("GitLab on %s has neither `%s` nor `%s` (a GitLab before 14.5), so I cannot tell whether its batched background migrations are finished. Look in %s.", host.Name, gitlab.BBMStatusTask, gitlab.BBMListTask, gitlab.BBMUncheckableBy), ""), runs
	}
	l, err := parseBBMListRun(list.res.Rec, list.res.Out)
	if err != nil {
		return unchecked(PartBBM, cannot+problem(host.Name, err), ""), runs
	}
	return bbmOutcome(host, gitlab.BBMListBlockers(l), len(l.Migrations)), runs
}

func countBBM(s gitlab.BBMStatus) int {
	n := 0
	for _, d := range s.Databases {
		n += len(d.Migrations)
	}
	return n
}

// bbmOutcome judges the unfinished batched migrations (from either task)
// of total listed.
func bbmOutcome(host Host, blockers []gitlab.UpgradeBlocker, total int) upgradeOutcome {
	o := upgradeOutcome{part: UpgradePart{Name: PartBBM, Facts: map[string]string{}}}
	if len(blockers) == 0 {
		o.part.Found = fmt.Sprintf("all %s finished or finalized", thousands(total))
		o.part.Facts[PartBBM] = "all finished"
		return o
	}
	o.part.Found = fmt.Sprintf("%d of %s not finished", len(blockers), thousands(total))
	var ids []string
	for _, b := range blockers {
		reason := UpgradeReason{Part: PartBBM, Blockers: []gitlab.UpgradeBlocker{b}, OnHost: b.OnHost()}
		on := ""
		if b.Database != "" {
			on = " on " + b.Database
		}
		switch {
		case b.BBM != nil:
			m := b.BBM
			ids = append(ids, fmt.Sprintf("%s%s %s.%s %s %s", dbPrefix(b.Database), m.JobClass, m.Table, m.Column, m.JobArguments, m.Status))
			reason.Text = bot.Textf("Batched background migration %s %s.%s %s%s is %s.", bot.Code(m.JobClass), m.Table, m.Column, bot.Code(m.JobArguments), on, bot.Bold(m.Status))
			reason.Fix = finalizeFix(host, b)
		default:
			l := b.Listed
			ids = append(ids, fmt.Sprintf("%s %s %s", l.ID, l.JobClass, l.Status))
			reason.Text = bot.Textf("Batched background migration %s %s on %s%s is %s. GitLab's list does not print the column and job arguments finalize needs: %s prints them; then request %s.", l.ID, bot.Code(l.JobClass), l.Table, on, bot.Bold(l.Status), bot.Code("show["+l.ID+"]"), bot.Code("/gitlab-migrations finalize --host "+host.Name+" <job class> <table> <column> '<job arguments>'"))
		}
		o.reasons = append(o.reasons, reason)
	}
	o.part.Facts[PartBBM] = "not finished: " + strings.Join(ids, "; ")
	return o
}

func dbPrefix(db string) string {
	if db == "" {
		return ""
	}
	return db + ": "
}

// finalizeFix is the /gitlab-migrations finalize line for an unfinished
// batched migration from the status task: the database is named exactly
// when the install is decomposed (finalize:main / finalize:ci), as
// pre-flight requires.
func finalizeFix(host Host, b gitlab.UpgradeBlocker) string {
	db := ""
	if b.Decomposed {
		db = b.Database
	}
	return finalizeCommand(host, gitlab.Args{BatchedMigration: b.BBM.BatchedMigration}, db)
}

// auditUpgradeRuns records every agent run of a check as a read-only run
// of by's, as runReadOnly does for one.
func (r *Router) auditUpgradeRuns(ctx context.Context, host Host, by approvals.User, runs []upgradeRun) {
	for _, run := range runs {
		c, _ := run.op.Command(gitlab.Args{})
		outcome := run.res.Rec.State
		if run.res.Err != nil {
			outcome = "error"
		}
		detail := joinContext("upgrade-check", errText(run.res.Err))
		if run.shared && run.res.Rec.ID != "" {
			detail = joinContext(detail, "answer shared from agent job "+run.res.Rec.ID)
		}
		r.audit(ctx, approvals.AuditEntry{
			Actor: by.ID, ActorName: by.Name, Action: approvals.ActionReadOnlyRun,
			Host: host.Name, Operation: run.op.Name, Argv: c.Argv(), Outcome: outcome, OutputDigest: run.res.Rec.Digest,
			Detail: detail,
		})
	}
}
