package commands

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// The router is the scheduler's Runner: a scheduled run is the read-only
// run a person would type (readOnlyAnswer, upgradeCheck), on one host or
// on every host (eachHost), audited as asked by the actor "scheduler".
var _ schedule.Runner = (*Router)(nil)

// scheduledRun is what one scheduled run found on one host: the answer
// for the thread and the comparable facts for the Result.
type scheduledRun struct {
	answer hostAnswer
	facts  map[string]string
	// problem: something down, unfinished or not running; failed: the run
	// itself failed, reason says why as a sentence.
	problem, failed bool
	reason          string
}

// Run implements schedule.Runner. It runs s.What, never anything
// destructive, on s.Host (the default host when empty, every host for
// schedule.AllHosts), and returns the facts to compare with the last run
// and the PostFunc that posts them into s's channel. A run that fails
// (agent unreachable, rake aborted) is a Result with Failed set; the error
// is for a schedule the bot cannot even try (unknown host, a `what` that
// is not read-only).
func (r *Router) Run(ctx context.Context, s schedule.Schedule) (schedule.Result, schedule.PostFunc, error) {
	ask, commands, err := r.scheduledAsk(s.What)
	if err != nil {
		return schedule.Result{}, nil, err
	}
	hosts, err := r.targets(s.Host)
	if err != nil {
		// The bot cannot even try (the host left the configuration, or
		// several hosts have no default); the channel is told why, as a
		// failed run is.
		why := peopleText(err)
		host := s.Host
		if host == "" {
			host = "the default host"
		}
		failed := []scheduledRun{{answer: hostAnswer{Host: host, Tone: bot.ToneDanger, Line: bot.Join(bot.Plain("could not run: "), bot.Sentence(sentenceOf(why)))}}}
		post := func(ctx context.Context, p schedule.Post) error {
			return r.postScheduled(ctx, s, commands, failed, p)
		}
		return schedule.Result{}, post, refuse("schedule %s cannot run: %s", s.ID, why)
	}
	by := bot.User{ID: approvals.ActorScheduler, Name: approvals.ActorScheduler + ": schedule " + s.ID}
	runs := make([]scheduledRun, len(hosts))
	for i, h := range hosts {
		runs[i] = scheduledRun{answer: hostAnswer{Host: h.Name, Tone: bot.ToneDanger, Line: bot.Plain("the bot failed inside while asking; its log has the details")},
			failed: true, reason: "the bot failed inside while asking"}
	}
	r.eachHost(ctx, hosts, func(ctx context.Context, i int, h Host) {
		runs[i] = ask(ctx, h, by)
	})
	res := resultOf(runs, len(hosts) > 1)
	post := func(ctx context.Context, p schedule.Post) error {
		return r.postScheduled(ctx, s, commands, runs, p)
	}
	return res, post, nil
}

// scheduledAsk is how a schedule's what runs on one host, and the
// commands it runs (for the post). Only read-only subcommands qualify:
// schedule.Validate refuses the others, and this refuses them again so
// that no stored or configured schedule can ever reach a destructive one.
func (r *Router) scheduledAsk(what string) (func(ctx context.Context, h Host, by bot.User) scheduledRun, bot.Text, error) {
	row, ok := operationOf(what)
	if ok && row.schedulable && row.scheduled != nil {
		return func(ctx context.Context, h Host, by bot.User) scheduledRun { return row.scheduled(r, ctx, h, by) }, row.commands, nil
	}
	if !ok || !row.schedulable || destructive(what) || row.op == "" {
		return nil, nil, refuse("a schedule cannot run %q: only %s", echo(what), andList(schedulableSubs()))
	}
	op, args, err := readOnlyOp(Invocation{Sub: what})
	if err != nil || op.Kind != gitlab.ReadOnly {
		return nil, nil, refuse("a schedule cannot run %q: it is not a read-only subcommand", echo(what))
	}
	c, _ := op.Command(args) // validated by readOnlyOp
	return func(ctx context.Context, h Host, by bot.User) scheduledRun {
		a := r.readOnlyAnswer(ctx, by, h, op, args, nil)
		return scheduledFacts(h, op.Name, a)
	}, bot.Code(c.String()), nil
}

// scheduledUpgradeCheck is upgrade-check on one host, as a scheduled run.
func (r *Router) scheduledUpgradeCheck(ctx context.Context, h Host, by bot.User) scheduledRun {
	v, err := r.upgradeCheck(ctx, h, approvals.User{ID: by.ID, Name: by.Name}, nil)
	if err != nil {
		return scheduledRun{answer: hostAnswer{Host: h.Name, Err: err, Tone: bot.ToneWarning, Line: bot.Plain("the bot stopped before the answer came")},
			failed: true, reason: "the bot stopped before the answer came"}
	}
	m := upgradeMessage(v)
	a := hostAnswer{Host: h.Name, Msg: m, Tone: m.Tone, Line: bot.Sentence(strings.TrimPrefix(v.Summary(), v.Host+": "))}
	return scheduledRun{answer: a, facts: v.Facts(), problem: v.Problem(), failed: v.Failed(), reason: v.FailReason()}
}

// scheduledFacts reads a read-only answer as comparable facts: per
// database "all up" or "2 down" (status), "all finished" or "3 unfinished"
// (bbm); which services are not running (services). An answer that could
// not be had or read is a failed run with the reason as a sentence.
func scheduledFacts(h Host, opName string, a hostAnswer) scheduledRun {
	run := scheduledRun{answer: a, facts: map[string]string{}}
	if a.Err != nil {
		run.failed, run.reason = true, agentProblem(h.Name, a.Err)
		return run
	}
	var err error
	if row, ok := operationFor(opName); ok && row.facts != nil {
		var facts map[string]string
		if facts, run.problem, err = row.facts(h, a.Rec, a.Out); err == nil {
			maps.Copy(run.facts, facts)
		}
	} else {
		err = fmt.Errorf("no facts for %s", opName)
	}
	if err != nil {
		run.failed, run.reason = true, problem(h.Name, err)
	}
	return run
}

// statusFacts: per database "all up" or "2 down".
func statusFacts(_ Host, rec agent.JobRecord, out *output) (map[string]string, bool, error) {
	s, err := parseStatusRun(rec, out)
	if err != nil {
		return nil, false, err
	}
	facts, problem := map[string]string{}, false
	for _, d := range s.Databases {
		facts[d.Config] = "all up"
		if d.Down > 0 {
			facts[d.Config] = fmt.Sprintf("%d down", d.Down)
			problem = true
		}
	}
	return facts, problem, nil
}

// bbmFacts: per database "all finished" or "3 unfinished".
func bbmFacts(_ Host, rec agent.JobRecord, out *output) (map[string]string, bool, error) {
	s, err := parseBBMRun(rec, out)
	if err != nil {
		return nil, false, err
	}
	unfinished, problem := map[string]int{}, false
	for _, d := range s.Databases {
		unfinished[cmpName(d.Name)] += 0
	}
	for _, p := range s.Pending() {
		unfinished[cmpName(p.Database)]++
		problem = true
	}
	facts := map[string]string{}
	for db, n := range unfinished {
		facts[db] = "all finished"
		if n > 0 {
			facts[db] = fmt.Sprintf("%d unfinished", n)
		}
	}
	return facts, problem, nil
}

// servicesFacts: which services are not running.
func servicesFacts(h Host, rec agent.JobRecord, out *output) (map[string]string, bool, error) {
	s, err := parseCtlRun(rec, out)
	if err != nil {
		return nil, false, err
	}
	return servicesOutcome(h, s).part.Facts, len(s.Down()) > 0 || len(s.Services) == 0, nil
}

// cmpName names a database block of the bbm status; GitLab before
// multi-database support printed none, and that one database is main.
func cmpName(db string) string {
	if db == "" {
		return "main"
	}
	return db
}

// resultOf combines the runs into one Result. With several hosts, each
// fact is prefixed with its host ("gitlab-1 main") and a host whose run
// failed is a fact of its own; the Result is Failed only when every host
// failed, otherwise such a host is a problem.
func resultOf(runs []scheduledRun, several bool) schedule.Result {
	res := schedule.Result{Facts: map[string]string{}}
	failed := 0
	var reasons []string
	for _, run := range runs {
		prefix := ""
		if several {
			prefix = run.answer.Host + " "
		}
		for k, v := range run.facts {
			res.Facts[prefix+k] = v
		}
		res.Problem = res.Problem || run.problem
		if run.failed {
			failed++
			reasons = append(reasons, run.reason)
			if several {
				res.Facts[run.answer.Host] = "run failed"
				res.Problem = true
			}
		}
	}
	if failed > 0 && failed == len(runs) {
		res.Failed, res.Reason = true, strings.Join(reasons, " ")
	}
	return res
}

// postScheduled posts a run's result into the schedule's channel: a root
// message whose headline names the schedule (id, spec, what, host), says
// when it is a catch-up, a run by hand or a recovery and what changed,
// then gives each host's answer in a line; each host's full answer (and
// its output, when long) follows in the thread, as the typed command
// gives it.
func (r *Router) postScheduled(ctx context.Context, s schedule.Schedule, commands bot.Text, runs []scheduledRun, p schedule.Post) error {
	chat, ok := r.chat(s.Platform)
	if !ok {
		return fmt.Errorf("schedule %s posts to %s, which this bot is not connected to", s.ID, s.Platform)
	}
	answers := make([]hostAnswer, len(runs))
	for i, run := range runs {
		answers[i] = run.answer
	}
	root, err := chat.PostRoot(ctx, s.Channel, scheduledMessage(s, commands, answers, p))
	if err != nil {
		return fmt.Errorf("posting schedule %s into %s: %w", s.ID, s.Channel, err)
	}
	for _, a := range answers {
		if a.Msg.Title.IsEmpty() && a.Msg.Text.IsEmpty() {
			continue // its line says all there is
		}
		name := s.What
		if len(answers) > 1 {
			name += "-" + a.Host
		}
		r.replyWithOutput(ctx, chat, root, a.Msg, name, a.Out)
	}
	return nil
}

// scheduledMessage is the root post of a scheduled run.
func scheduledMessage(s schedule.Schedule, commands bot.Text, answers []hostAnswer, p schedule.Post) bot.Message {
	on := "every host"
	if s.Host != schedule.AllHosts {
		on = answers[0].Host
	}
	var lines []bot.Text
	switch {
	case p.Manual:
		lines = append(lines, bot.Textf("Run now by hand (%s).", bot.Code("schedules run "+s.ID)))
	case p.CatchUp:
		lines = append(lines, bot.Textf("%s: the bot was down when this schedule was due; this run makes up for the runs it missed.", bot.Bold("Catch-up")))
	}
	if p.Recovered {
		lines = append(lines, bot.Textf("✅ %s: the last post reported a problem, and this run finds none.", bot.Bold("Recovered")))
	}
	if len(p.Changes) > 0 {
		lines = append(lines, bot.Textf("%s:", bot.Bold("Changed")))
		for _, c := range p.Changes {
			lines = append(lines, bot.Join(bot.Plain("• "), bot.Sentence(c)))
		}
	}
	m := combinedMessage(answers)
	if len(answers) == 1 {
		m.Text = answers[0].Line
	}
	m.Title = bot.Textf("Scheduled %s on %s (schedule %s)", s.What, on, s.ID)
	m.Text = bot.JoinWith("\n", append(lines, m.Text)...)
	m.Context = joinSmallPrint(joinSmallPrint(scheduleTiming(s), bot.Plain("when "+s.When)), bot.Join(commands, bot.Plain(" · details in the thread")))
	return m
}

// scheduleTiming is a schedule's spec and zone as people read them:
// "0 8 * * 1-5" (as code) and "Europe/Berlin".
func scheduleTiming(s schedule.Schedule) bot.Text {
	tz := s.TZ
	if tz == "" {
		tz = "UTC"
	}
	return bot.Join(bot.Code(s.Spec), bot.Plain(" "+tz))
}
