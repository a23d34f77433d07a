package commands

import (
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// subcommand describes one `/gitlab-migrations` subcommand: its usage line,
// which flags it takes and how many plain arguments.
type subcommand struct {
	usage   string
	summary string
	// op is the catalogue operation it runs, if any.
	op      string
	flags   []string
	minArgs int
	maxArgs int // -1: any
	// check, when set, checks the arguments instead of the counts.
	check func(Invocation) error
}

// subcommands are the operation table's subcommands (operations.go) and
// the router's own.
var subcommands = withOperations(map[string]subcommand{
	"approve": {usage: "/gitlab-migrations approve <request-id> [--code NNNNNN]", summary: "approve someone else's request (--code: your authenticator's current code, where policy.reauth asks for one)", flags: []string{"code"}, minArgs: 1, maxArgs: 1},
	"enroll":  {usage: "/gitlab-migrations enroll [--code NNNNNN]  |  enroll --reset <user-id>", summary: "enrol your authenticator app for approvals that need a code (answered to you alone; --code: the current code, to replace an enrolled secret); --reset: an admin removes a lost one", flags: []string{"code", "reset"}},
	"deny":    {usage: "/gitlab-migrations deny <request-id> [reason]", summary: "deny a request (one deny is a veto)", minArgs: 1, maxArgs: -1},
	"cancel":  {usage: "/gitlab-migrations cancel <request-id>", summary: "withdraw your own pending request", minArgs: 1, maxArgs: 1},
	"pending": {usage: "/gitlab-migrations pending", summary: "requests waiting for approval, running ones, and open post-incident reviews"},
	"review":  {usage: "/gitlab-migrations review <request-id> -- <note>", summary: "acknowledge the post-incident review of an emergency request that ran (admins, within 24 hours)", minArgs: 1, maxArgs: 1},
	"audit":   {usage: "/gitlab-migrations audit [N] [--before SEQ] | audit anchor", summary: "the last N audit entries (default 10, at most 10000; over 100 come as a file), or the N before entry SEQ; anchor posts the head to the audit channel", flags: []string{"before"}, maxArgs: 1},
	"show":    {usage: "/gitlab-migrations show <request-id>", summary: "a request's whole history: who asked, what ran where, every decision, the outcome, its thread", minArgs: 1, maxArgs: 1},
	"schedules": {usage: "/gitlab-migrations schedules  |  schedules add \"<cron spec>\" " + strings.Join(schedulableSubs(), "|") + " [--host NAME|all] [--when always|changed|problems] [--tz ZONE]  |  schedules remove <id>  |  schedules run <id>",
		summary: "scheduled posts: list them (next run, last result); add or remove one (admins); run one now", flags: []string{"host", "when", "tz"}, maxArgs: 3},
	"hosts": {usage: "/gitlab-migrations hosts", summary: "the GitLab hosts: agent version, reachability, round-trip latency, the default"},
	"help":  {usage: "/gitlab-migrations help [subcommand]", summary: "this help", maxArgs: 1},
})

func (s subcommand) allows(flag string) bool { return slices.Contains(s.flags, flag) }

func (s subcommand) checkArgs(inv Invocation) error {
	n := len(inv.Args)
	switch {
	case s.allows("code") && s.maxArgs >= 0 && n > s.maxArgs && slices.ContainsFunc(inv.Args[s.maxArgs:], bot.LooksLikeCode):
		// An extra argument that looks like a code (never the request ID
		// itself) is not echoed: the refusal is shown and audited, and the
		// code may still be valid (bot.RedactCommand hides it in the text).
		return fmt.Errorf("a one-time code goes after --code (%s --code NNNNNN); the code you typed is not repeated here", inv.Sub)
	case s.check != nil:
		return s.check(inv)
	case inv.Sub == "schedules":
		return checkSchedulesArgs(inv)
	case n < s.minArgs:
		return fmt.Errorf("%s needs %s", inv.Sub, plural(s.minArgs, "argument"))
	case s.maxArgs == 0 && n > 0:
		return fmt.Errorf("%s takes no arguments, got %d (%s); a reason goes after --, e.g. %s -- upgrade to 17.5", inv.Sub, n, quoteList(inv.Args), inv.Sub)
	case s.maxArgs >= 0 && n > s.maxArgs:
		extra := inv.Args[s.maxArgs:]
		return fmt.Errorf("%s takes at most %s, got %d; remove the %d extra (%s), or put a reason after --", inv.Sub, plural(s.maxArgs, "argument"), n, len(extra), quoteList(extra))
	}
	return nil
}

// plural writes n and the noun, with an s unless n is 1.
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}

// quoteList quotes words for a message, shortened when long.
func quoteList(words []string) string {
	q := make([]string, len(words))
	for i, w := range words {
		q[i] = fmt.Sprintf("%q", w)
	}
	return echo(strings.Join(q, " "))
}

// destructive reports whether sub opens an approval request.
func destructive(sub string) bool {
	op, err := gitlab.Lookup(subcommands[sub].op)
	return err == nil && op.Kind == gitlab.Destructive
}

// DestructiveSubcommands are the subcommands that open an approval request,
// sorted: the only ones a policy's requesters may restrict.
func DestructiveSubcommands() []string {
	var names []string
	for _, n := range subcommandNames() {
		if destructive(n) {
			names = append(names, n)
		}
	}
	return names
}

func subcommandNames() []string {
	names := make([]string, 0, len(subcommands))
	for n := range subcommands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
