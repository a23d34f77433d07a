package commands

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// openRequest validates a destructive subcommand at once (so mistakes are
// refused to the user alone) and opens the approval request in the
// background: for migrate it first records which migrations are down.
//
// The host must be named when several are configured (destructiveHost),
// except for finalize --from: the request it names says which host.
func (r *Router) openRequest(ctx context.Context, chat bot.Chat, cmd bot.Command, inv Invocation) (bot.Reply, error) {
	user := qualifiedUser(cmd.Platform, cmd.User)
	row, _ := operationOf(inv.Sub)
	op, err := gitlab.Lookup(row.op)
	if err != nil {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
	}
	var (
		args gitlab.Args
		from string
		host Host
	)
	fromRequest := row.from != nil && inv.From != ""
	if !fromRequest || inv.Host == AllHosts {
		if host, err = r.destructiveHost(inv.Sub, inv.Host); err != nil {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
		}
	}
	switch {
	case fromRequest:
		if args, from, host, err = row.from(r, ctx, inv); err != nil {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
		}
	case row.args != nil:
		args = row.args(inv)
	}
	c, err := op.Command(args)
	if err != nil {
		msg := err.Error()
		if ae := (*gitlab.ArgError)(nil); errors.As(err, &ae) {
			msg = ae.Error() // the argument's own sentence, without the operation's prefix
		}
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, &UsageError{Msg: msg, Usage: subcommands[inv.Sub].usage})
	}
	if r.opt.Approvals.Policy().RequireReason && inv.Reason == "" {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, &UsageError{Msg: "a reason is required for " + inv.Sub + ": add it after --", Usage: subcommands[inv.Sub].usage})
	}
	if err := r.checkEmergency(inv, op.Name); err != nil {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
	}
	return r.queued(ctx, cmd, "open "+inv.Sub, func(ctx context.Context) {
		root, err := chat.PostRoot(ctx, cmd.Channel, bot.Message{
			Text: bot.Textf("⏳ %s asks to run %s on %s; preparing the approval request…", cmd.User.Name, bot.Bold(op.Name), bot.Bold(host.Name)),
		})
		if err != nil {
			r.logger(ctx).Error("posting root message", "err", err)
			_ = chat.Notify(ctx, cmd.Channel, cmd.User, couldNotPost(err))
			return
		}
		nr := approvals.NewRequest{
			Platform: chat.Platform(), Channel: cmd.Channel, Thread: root.ID,
			Host: host.Name, Operation: op.Name, Params: paramsOf(args), Argv: c.Argv(),
			Requester: user, Reason: inv.Reason, FromRequest: from, Emergency: inv.Emergency,
		}
		if row.prepare != nil && !row.prepare(r, ctx, chat, root, host, &nr) {
			return
		}
		var notes []string
		var refusal error
		if row.preflight != nil {
			notes, refusal = row.preflight(r, ctx, host, args)
		}
		if refusal != nil {
			r.audit(ctx, approvals.AuditEntry{
				Actor: user.ID, ActorName: user.Name, Action: approvals.ActionCommandRefused,
				Host: host.Name, Operation: op.Name, Argv: c.Argv(), Detail: "pre-flight: " + refusal.Error(),
			})
			r.updateRoot(ctx, chat, root, bot.Message{Title: bot.Textf("No %s request opened", op.Name), Text: bot.Sentence(refusal.Error()), Tone: bot.ToneDanger,
				Context: bot.Textf("pre-flight check on %s, asked by %s", host.Name, cmd.User.Name)})
			return
		}
		nr.Params = preflightParams(nr.Params, notes)
		req, err := r.opt.Approvals.Open(ctx, nr)
		if err != nil {
			r.logger(ctx).Error("opening request", "host", host.Name, "operation", op.Name, "err", err)
			r.updateRoot(ctx, chat, root, bot.Message{Title: bot.Plain("No request opened"), Text: bot.Sentence(workflowProblem(err)), Tone: bot.ToneDanger})
			return
		}
		ctx = r.withRequestLog(ctx, req.ID)
		r.logger(ctx).Info("request opened", "operation", req.Operation, "host", req.Host, "requester", req.Requester.ID, "emergency", req.Emergency)
		r.updateRoot(ctx, chat, root, requestMessage(req, r.opt.Clock()))
		if req.Emergency {
			r.emergencyNotice(ctx, chat, req, "opened")
		}
	}), nil
}

// finalizeFrom builds finalize arguments from the suggestion stored on a
// failed migrate request. db may name the database when the failed
// migrate could not (GitLab printed no database and the version was
// pending on several); it may not contradict one the evidence named.
// The finalize runs on the failed request's host: name, when given (--host),
// must be that host.
func (r *Router) finalizeFrom(ctx context.Context, id, name, db string) (gitlab.Args, string, Host, error) {
	id, err := parseID(id)
	if err != nil {
		return gitlab.Args{}, "", Host{}, err
	}
	src, err := r.opt.Approvals.Request(ctx, id)
	switch {
	case errors.Is(err, approvals.ErrNotFound):
		return gitlab.Args{}, "", Host{}, fmt.Errorf("there is no request %s; --from takes the ID of the failed migrate request, shown on its message", id)
	case err != nil:
		r.logger(ctx).Error("reading the request finalize --from names", "from_request", id, "err", err)
		return gitlab.Args{}, "", Host{}, &bot.UserError{Text: fmt.Sprintf("I could not read request %s from the bot's store, so nothing was opened; the bot's log has the details. Try again.", id), Err: err}
	}
	a := argsOf(src.Params, suggestPrefix)
	if src.Operation != gitlab.OpMigrate || a.JobClass == "" {
		return gitlab.Args{}, "", Host{}, fmt.Errorf("request %s did not fail on an unfinished batched background migration, so it suggests no finalize; give the four arguments instead", id)
	}
	if name != "" && src.Host != name {
		return gitlab.Args{}, "", Host{}, fmt.Errorf("request %s ran on %s, not %s: use --host %s, or leave --host out", id, src.Host, echo(name), src.Host)
	}
	h, ok := r.hosts[src.Host]
	if !ok {
		return gitlab.Args{}, "", Host{}, fmt.Errorf("request %s ran on %s, which is no longer configured (hosts: %s); give the four arguments and --host instead", id, src.Host, r.hostList())
	}
	host := h.Name
	before := downBeforeOf(src.Params)
	switch {
	case db != "" && a.Database != "" && db != a.Database:
		return gitlab.Args{}, "", Host{}, fmt.Errorf("request %s failed on the %s database, so its finalize runs there: leave out --db %s", id, a.Database, db)
	case db != "" && len(before.Databases) == 1: // one database: only the plain task (gitlab.FinalizeVariants)
		return gitlab.Args{}, "", Host{}, fmt.Errorf("%s has one database, so finalize takes no database: leave out --db %s", host, db)
	case db != "" && len(before.Databases) > 1 && !slices.Contains(before.Databases, db):
		return gitlab.Args{}, "", Host{}, fmt.Errorf("%s has no %s database (it has %s): use --db %s", host, db, strings.Join(before.Databases, " and "), strings.Join(before.Databases, " or --db "))
	case db != "":
		a.Database = db
	case a.Database == "" && before.Decomposed():
		return gitlab.Args{}, "", Host{}, fmt.Errorf("GitLab did not say which database request %s failed on, and the migration was pending on %s: add --db %s", id, strings.Join(before.Databases, " and "), strings.Join(before.Databases, " or --db "))
	}
	return a, id, h, nil
}

func (r *Router) updateRoot(ctx context.Context, chat bot.Chat, root bot.Ref, m bot.Message) {
	if err := chat.Update(ctx, root, m); err != nil {
		r.logger(ctx).Error("updating message", "message", root.ID, "err", err)
	}
}

// prepareMigrate bases a migrate request on the status now: what is down
// is what is approved (its fingerprint), and the approver sees which
// batched migrations may stop it. Nothing down: no request, the root post
// says so.
func (r *Router) prepareMigrate(ctx context.Context, chat bot.Chat, root bot.Ref, host Host, nr *approvals.NewRequest) bool {
	s, err := r.migrateStatus(ctx, host)
	if err != nil {
		r.logger(ctx).Error("status before a migrate request", "host", host.Name, "err", err)
		m := problemMessage("No migrate request opened", host.Name, err, "")
		m.Text = bot.Join(bot.Plain("I need the migration status to know what would be approved, and could not get it. "), m.Text)
		r.updateRoot(ctx, chat, root, m)
		return false
	}
	if s.AllUp() {
		r.updateRoot(ctx, chat, root, bot.Message{Title: bot.Plain("Nothing to migrate on " + host.Name), Text: joinLines(statusMessage(host.Name, s).Text, bot.Plain("No request was opened.")), Tone: bot.ToneSuccess})
		return false
	}
	nr.Fingerprint, nr.FingerprintInfo = statusFingerprint(s)
	nr.Params = beforeParams(nr.Params, gitlab.DownBeforeOf(s))
	nr.Params = preflightParams(nr.Params, r.preflightMigrate(ctx, host, len(s.Databases)))
	return true
}
