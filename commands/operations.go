package commands

import (
	"context"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// operation is one row of the router's operation table: everything the
// router does differently from one GitLab operation to the next. The code
// paths (parsing and help, read-only runs, --host all, schedules, opening
// a request, the result, the after-check, the approval card) look the row
// up; none of them switches on an operation's name.
//
// GitLab's own knowledge stays in package gitlab: the catalogue entry (its
// argv, arguments, read-only or destructive, which streams its parser
// reads) and the parsers. Adding an operation is a catalogue entry there
// and a row here (TestOperationTableMatchesCatalogue checks both agree).
type operation struct {
	// sub is the subcommand; op the catalogue operation it runs (whose
	// Kind says read-only or destructive), or "" for one that composes
	// several and brings its own paths (upgrade-check; see ask).
	sub, op string
	// usage, summary, flags and maxArgs are the subcommand's grammar and
	// help (see subcommand). checkArgs, when set, replaces the count check.
	usage, summary string
	flags          []string
	maxArgs        int
	checkArgs      func(Invocation) error
	// argsName names its plain arguments in an input error ("service
	// name"); "" names the word itself.
	argsName string
	// examples are what `help <sub>` offers to copy (TestHelpExamplesParse
	// parses each one).
	examples []example

	// Read-only operations.

	// summarize parses the output of a finished run (the streams the
	// catalogue names) into the thread's message and the one line of
	// --host all.
	summarize func(host string, text []byte) (bot.Message, string, error)
	// facts reads a run as a schedule's comparable facts.
	facts func(h Host, rec agent.JobRecord, out *output) (facts map[string]string, problem bool, err error)
	// A row without op composes several operations and brings its own
	// paths, each auditing what it runs: ask answers on one host (for
	// --host all), runOne answers a command on one host in its own thread,
	// scheduled is a schedule's run on one host. commands is what it runs,
	// for the root post; runs names the catalogue operations it runs.
	ask       func(r *Router, ctx context.Context, h Host, by bot.User, onBusy func()) hostAnswer
	runOne    func(r *Router, ctx context.Context, chat bot.Chat, cmd bot.Command, host Host)
	scheduled func(r *Router, ctx context.Context, h Host, by bot.User) scheduledRun
	commands  bot.Text
	runs      []string
	// schedulable: a schedule's `what` may name it (read-only only).
	schedulable bool

	// Destructive operations.

	// args are the catalogue arguments of the invocation; from, when set,
	// takes them (and the host) from an earlier request (--from).
	args func(inv Invocation) gitlab.Args
	from func(r *Router, ctx context.Context, inv Invocation) (a gitlab.Args, fromID string, host Host, err error)
	// prepare adds to a new request what its approval is based on (migrate:
	// the status now as its Fingerprint, which an approval checks again);
	// false when it answered in the root post itself and no request is
	// opened.
	prepare func(r *Router, ctx context.Context, chat bot.Chat, root bot.Ref, host Host, nr *approvals.NewRequest) bool
	// preflight checks the request against the host's current state.
	preflight func(r *Router, ctx context.Context, host Host, a gitlab.Args) (notes []string, refusal error)
	// card adds the operation's own fields to the approval card.
	card func(params map[string]string) []bot.Field
	// label names the operation in its result's title; result summarises
	// its output and returns the parsed result for followUp, which checks
	// what it really did and gives the verdict.
	label string
	// settle, when set, adjusts the result once the verdict is known
	// (settled sets the title and tone).
	settle   func(m bot.Message, v verdict) bot.Message
	result   func(req *approvals.Request, host string, rec agent.JobRecord, out *output) (bot.Message, any)
	followUp func(r *Router, ctx context.Context, req *approvals.Request, host Host, res any, jobOK bool, reply func(bot.Message)) verdict
}

// operations is the table, in the order help lists it.
var operations = []operation{
	{
		sub: "status", op: gitlab.OpMigrateStatus, schedulable: true,
		examples: []example{{"/gitlab-migrations status", "every database: how many migrations are up, which are down"}, {"/gitlab-migrations status --db ci", "only the ci database (decomposed installs)"},
			{"/gitlab-migrations status --host all", "every host: one line each, the details in the thread"}},
		usage: "/gitlab-migrations status [--host NAME|all] [--db main|ci]", summary: "schema migrations per database: how many up, which are down", flags: []string{"host", "db"},
		summarize: func(host string, text []byte) (bot.Message, string, error) {
			s, err := gitlab.ParseMigrateStatus(text)
			return statusMessage(host, s), statusLine(s), err
		},
		facts: statusFacts,
	},
	{
		sub: "bbm", op: gitlab.OpBBMStatus, schedulable: true,
		examples: []example{{"/gitlab-migrations bbm", "batched background migrations that are not finished"}},
		usage:    "/gitlab-migrations bbm [--host NAME|all] [--db main|ci]", summary: "batched background migrations that are not finished", flags: []string{"host", "db"},
		summarize: func(host string, text []byte) (bot.Message, string, error) {
			s, err := gitlab.ParseBBMStatus(text)
			return bbmMessage(host, s), bbmLine(s), err
		},
		facts: bbmFacts,
	},
	{
		sub: "services", op: gitlab.OpServices, schedulable: true, argsName: "service name",
		examples: []example{{"/gitlab-migrations services", "gitlab-ctl status, summarised"}},
		usage:    "/gitlab-migrations services [--host NAME|all]", summary: "state of GitLab's services (gitlab-ctl status)", flags: []string{"host"},
		summarize: func(host string, text []byte) (bot.Message, string, error) {
			s, err := gitlab.ParseCtlStatus(text)
			return servicesMessage(host, s), servicesLine(s), err
		},
		facts: servicesFacts,
	},
	{
		// upgrade-check runs three catalogue operations (upgrade.go), so it
		// names none.
		sub: "upgrade-check", schedulable: true,
		examples: []example{{"/gitlab-migrations upgrade-check", "READY or NOT READY: down migrations, unfinished batched background migrations, services not running, each with the line that fixes it"},
			{"/gitlab-migrations upgrade-check --host gitlab-2", "the same for another host"},
			{"/gitlab-migrations upgrade-check --host all", "every host: READY or NOT READY in one line each, the reasons in the thread"}},
		usage: "/gitlab-migrations upgrade-check [--host NAME|all]", summary: "can this GitLab be upgraded now? READY or NOT READY, each reason with the subcommand that fixes it", flags: []string{"host"},
		ask: (*Router).upgradeAnswer, runOne: (*Router).runUpgradeCheck, scheduled: (*Router).scheduledUpgradeCheck,
		commands: upgradeCheckCommands(), runs: []string{gitlab.OpServices, gitlab.OpBBMStatus, gitlab.OpBBMList, gitlab.OpMigrateStatus},
	},
	{
		sub: "migrate", op: gitlab.OpMigrate,
		examples: []example{{"/gitlab-migrations migrate -- upgrade to 17.5", "asks for approval to run gitlab-rake db:migrate"},
			{"/gitlab-migrations migrate --host gitlab-2 -- upgrade to 17.5", "with several hosts a change always names its host"},
			{"/gitlab-migrations migrate --emergency -- INC-1234 deploy blocked", "break glass outside the change windows: one more approval, a notice in the audit channel, an admin's review afterwards"}},
		usage: "/gitlab-migrations migrate [--host NAME] [--emergency] [-- reason]", summary: "run pending migrations (needs approval)", flags: []string{"host", "emergency"},
		prepare: (*Router).prepareMigrate,
		label:   "db:migrate",
		result: func(req *approvals.Request, host string, rec agent.JobRecord, out *output) (bot.Message, any) {
			before := downBeforeOf(req.Params)
			res := gitlab.ParseMigrate(out.parsed(req.Operation)).Attribute(before)
			return migrateMessage(host, rec, res, before, out), res
		},
		followUp: func(r *Router, ctx context.Context, req *approvals.Request, host Host, res any, jobOK bool, reply func(bot.Message)) verdict {
			m, _ := res.(gitlab.MigrateResult)
			return r.migrateCheck(ctx, req, host, m, jobOK, reply)
		},
	},
	{
		sub: "finalize", op: gitlab.OpFinalize, argsName: "finalize arguments",
		examples: []example{
			{`/gitlab-migrations finalize sudo gitlab-rake gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\, ["id_convert_to_bigint"]]'] -- migrate is blocked`,
				"paste GitLab's command as it printed it (with or without sudo and gitlab-rake; :main / :ci select the database)"},
			{`/gitlab-migrations finalize CopyColumnUsingBackgroundMigrationJob ci_stages id '[["id"], ["id_convert_to_bigint"]]' --db ci -- migrate is blocked`,
				"or give the four values: job class, table, column, JSON job arguments"},
			{"/gitlab-migrations finalize --from r7k2qxa9 -- as GitLab asked", "or the finalize a failed migrate request suggested"},
		},
		usage:   "/gitlab-migrations finalize [--host NAME] [--db main|ci] [--emergency] <GitLab's finalize command as it printed it, or JobClass table column 'json args'> [-- reason]  |  finalize --from <request-id> [--db main|ci] [-- reason]",
		summary: "finish a batched background migration (needs approval)", flags: []string{"host", "db", "from", "emergency"}, maxArgs: 4,
		checkArgs: checkFinalizeArgs,
		args:      finalizeArgs,
		from: func(r *Router, ctx context.Context, inv Invocation) (gitlab.Args, string, Host, error) {
			return r.finalizeFrom(ctx, inv.From, inv.Host, inv.DB)
		},
		preflight: (*Router).preflightFinalize,
		card:      finalizeFields,
		label:     "finalize",
		result: func(req *approvals.Request, host string, rec agent.JobRecord, out *output) (bot.Message, any) {
			res := gitlab.ParseFinalize(out.parsed(req.Operation))
			return finalizeMessage(host, rec, res, out), res
		},
		settle:   settleFinalize,
		followUp: (*Router).finalizeFollowUp,
	},
	{
		sub: "restart", op: gitlab.OpRestart, argsName: "service name",
		examples: []example{{"/gitlab-migrations restart sidekiq -- jobs are stuck", "asks for approval to run gitlab-ctl restart sidekiq"}, {"/gitlab-migrations restart -- after the upgrade", "every service (a short outage)"}},
		usage:    "/gitlab-migrations restart [--host NAME] [--emergency] [service] [-- reason]", summary: "restart GitLab's services, or one (needs approval)", flags: []string{"host", "emergency"}, maxArgs: 1,
		args: func(inv Invocation) gitlab.Args {
			if len(inv.Args) == 1 {
				return gitlab.Args{Service: inv.Args[0]}
			}
			return gitlab.Args{}
		},
		preflight: func(r *Router, ctx context.Context, host Host, a gitlab.Args) ([]string, error) {
			return r.preflightRestart(ctx, host, a.Service)
		},
		label:    "restart",
		result:   restartResult,
		followUp: (*Router).restartFollowUp,
	},
}

// operationOf finds the row of subcommand sub.
func operationOf(sub string) (operation, bool) {
	for _, o := range operations {
		if o.sub == sub {
			return o, true
		}
	}
	return operation{}, false
}

// operationFor finds the row that runs catalogue operation name.
func operationFor(name string) (operation, bool) {
	for _, o := range operations {
		if o.op != "" && o.op == name {
			return o, true
		}
	}
	return operation{}, false
}

// subcommand is the row's grammar and help.
func (o operation) subcommand() subcommand {
	return subcommand{usage: o.usage, summary: o.summary, op: o.op, flags: o.flags, maxArgs: o.maxArgs, check: o.checkArgs}
}

// withOperations adds every row's subcommand to the other subcommands.
func withOperations(others map[string]subcommand) map[string]subcommand {
	for _, o := range operations {
		others[o.sub] = o.subcommand()
	}
	return others
}

// withOperationExamples adds every row's examples to the others'.
func withOperationExamples(others map[string][]example) map[string][]example {
	for _, o := range operations {
		others[o.sub] = o.examples
	}
	return others
}

// schedulableSubs are the subcommands a schedule may run, in table order.
func schedulableSubs() []string {
	var subs []string
	for _, o := range operations {
		if o.schedulable {
			subs = append(subs, o.sub)
		}
	}
	return subs
}

// ScheduleWhats is what a schedule may run (the table's schedulable rows)
// and what it never may (the destructive subcommands), for
// schedule.Validate and schedule.Config.
func ScheduleWhats() schedule.Whats {
	return schedule.Whats{ReadOnly: schedulableSubs(), Destructive: DestructiveSubcommands()}
}

// andList writes items as "a, b, c and d".
func andList(items []string) string {
	if len(items) < 2 {
		return strings.Join(items, "")
	}
	return strings.Join(items[:len(items)-1], ", ") + " and " + items[len(items)-1]
}

// parsed is what the parser of catalogue operation name reads: the
// streams the catalogue names for it.
func (o *output) parsed(name string) []byte {
	if op, err := gitlab.Lookup(name); err == nil && op.Parse == gitlab.StdoutOnly {
		return o.stdoutBytes()
	}
	return o.combined()
}
