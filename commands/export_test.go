package commands

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// SetArgvSent makes r send f(approved argv) to the agent instead of the
// approved argv: a bot whose catalogue builds something else than the
// agent's. For tests only.
func SetArgvSent(r *Router, f func([]string) []string) { r.argvSent = f }

// SetAnchorPoll makes r's anchor loop look at its clock every d instead of
// every minute, so that a test can move an injected clock. For tests only.
func SetAnchorPoll(r *Router, d time.Duration) { r.anchorPoll = d }

// UpgradeCheck runs upgrade-check on host as by. For tests only.
func UpgradeCheck(ctx context.Context, r *Router, host Host, by approvals.User) (UpgradeVerdict, error) {
	return r.upgradeCheck(ctx, host, by, nil)
}

// UpgradeMessage renders v as the thread reply. For tests only.
func UpgradeMessage(v UpgradeVerdict) bot.Message { return upgradeMessage(v) }

// ReadOnlyOperation is what a test gives to add a read-only operation
// through the operation table (AddReadOnlyOperation).
type ReadOnlyOperation struct {
	Sub, Op, Usage, Summary string
	Flags                   []string
	Summarize               func(host string, text []byte) (bot.Message, string, error)
	Facts                   func(text []byte) (map[string]string, bool, error)
}

// AddReadOnlyOperation adds o as one more row of the operation table for
// t's duration: the row, and the subcommands and examples the package
// derives from the table, nothing else. The table is package state, so a
// test that calls it must not be parallel. For tests only.
func AddReadOnlyOperation(t testing.TB, o ReadOnlyOperation) {
	row := operation{sub: o.Sub, op: o.Op, usage: o.Usage, summary: o.Summary, flags: o.Flags, summarize: o.Summarize,
		examples: []example{{o.Usage, o.Summary}}}
	if o.Facts != nil {
		row.schedulable = true
		row.facts = func(_ Host, rec agent.JobRecord, out *output) (map[string]string, bool, error) {
			if rec.State != agent.StateSucceeded {
				return nil, false, fmt.Errorf("the command %s", rec.State)
			}
			return o.Facts(out.parsed(o.Op))
		}
	}
	ops, subs, exs := operations, subcommands, examples
	t.Cleanup(func() { operations, subcommands, examples = ops, subs, exs })
	operations = append(slices.Clone(ops), row)
	subcommands = withOperations(maps.Clone(subs))
	examples = withOperationExamples(maps.Clone(exs))
}

// HelpMessage is the answer to help (args: a subcommand). For tests only.
func HelpMessage(args ...string) bot.Message { return helpMessage(Invocation{Sub: "help", Args: args}) }

// PoolRunning is how many of r's pool workers are busy: a task's own
// bookkeeping (Router.Wait) ends a moment before its worker is free.
func PoolRunning(r *Router) int {
	r.pool.mu.Lock()
	defer r.pool.mu.Unlock()
	return r.pool.running
}
