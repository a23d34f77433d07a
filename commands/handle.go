package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Refusal is an error meant for the user who typed or clicked, and for them
// only. Who, if set, is who may approve instead (user and group IDs), which
// adapters name after Msg (bot.ApproversNamer).
type Refusal struct {
	Msg string
	Who []string
}

func (e *Refusal) Error() string { return e.Msg }

// UserText implements bot.Readable: a refusal is written for people.
func (e *Refusal) UserText() string { return e.Msg }

// Approvers implements bot.ApproversNamer.
func (e *Refusal) Approvers() []string { return e.Who }

func refuse(format string, args ...any) error { return &Refusal{Msg: fmt.Sprintf(format, args...)} }

// peopleText is the text of an error the router's own checks produced
// (written for people): a bot.Readable's sentence, else the Error text.
func peopleText(err error) string {
	var rd bot.Readable
	if errors.As(err, &rd) {
		return rd.UserText()
	}
	if approvals.IsRefusal(err) {
		return refusalSentence(err)
	}
	return err.Error()
}

// handleCommand is bot.Handler's HandleCommand (observe.go counts it). It
// parses and checks the command, answers the quick subcommands itself and
// hands everything that waits on the agent to a background goroutine.
func (r *Router) handleCommand(ctx context.Context, chat bot.Chat, cmd bot.Command) (bot.Reply, error) {
	cmd.User.Name = displayName(cmd.User)
	user := qualifiedUser(cmd.Platform, cmd.User)
	inv, err := Parse(cmd.Text)
	if err != nil {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
	}
	if err := r.opt.Approvals.CheckRequester(inv.Sub, approvals.Qualify(cmd.Platform, cmd.Channel), user); err != nil {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
	}
	switch inv.Sub {
	case "help":
		return bot.Say(helpMessage(inv)), nil
	case "hosts":
		return r.queued(ctx, cmd, "hosts", func(ctx context.Context) {
			if err := chat.Notify(ctx, cmd.Channel, cmd.User, r.hostsMessage(ctx)); err != nil {
				r.log.Error("answering hosts", "err", err)
			}
		}), nil
	case "pending":
		m, err := r.pendingMessage(ctx)
		if err != nil {
			return bot.NoReply, err
		}
		return bot.Say(m), nil
	case "audit":
		if len(inv.Args) == 1 && inv.Args[0] == "anchor" && inv.Before == "" {
			r.background("audit anchor", func(ctx context.Context) {
				m, err := r.Anchor(ctx, user, "Anchored by "+cmd.User.Name)
				if err != nil {
					r.logger(ctx).Error("audit anchor", "err", err)
					m = bot.Message{Title: bot.Plain("Could not anchor the audit trail"), Text: bot.Textf("I could not read the audit trail's head from the bot's store, so nothing was anchored; the bot's log has the details. Try again, and if it fails again, run %s on the bot's host.", bot.Code("gitlab-chatops audit verify")), Tone: bot.ToneDanger}
				}
				if err := chat.Notify(ctx, cmd.Channel, cmd.User, m); err != nil {
					r.logger(ctx).Error("answering audit anchor", "err", err)
				}
			})
			return bot.NoReply, nil
		}
		n, before, err := auditPage(inv)
		if err != nil {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub, &UsageError{Msg: err.Error(), Usage: subcommands["audit"].usage})
		}
		return r.auditAnswer(ctx, chat, cmd, n, before)
	case "show":
		id, err := parseID(inv.Args[0])
		if err != nil {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub, &UsageError{Msg: err.Error(), Usage: subcommands[inv.Sub].usage})
		}
		return r.show(ctx, chat, cmd, id)
	case "schedules":
		return r.handleSchedules(ctx, chat, cmd, inv)
	case "review":
		return r.review(ctx, cmd, inv)
	case "approve", "deny", "cancel":
		id, err := parseID(inv.Args[0])
		if err != nil {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub, &UsageError{Msg: err.Error(), Usage: subcommands[inv.Sub].usage})
		}
		reason := inv.Reason
		if inv.Sub == "deny" && len(inv.Args) > 1 {
			reason = strings.TrimSpace(strings.Join(inv.Args[1:], " ") + " " + reason)
		}
		return r.decide(ctx, chat, cmd.Channel, cmd.User, inv.Sub, id, "", reason, inv.Code)
	case "enroll":
		if inv.Reset != "" {
			return r.resetEnrolment(ctx, cmd, inv)
		}
		return r.enroll(ctx, chat, cmd, inv.Code)
	}

	if destructive(inv.Sub) {
		return r.openRequest(ctx, chat, cmd, inv)
	}
	if inv.Host == AllHosts {
		f, err := r.fanOutOf(inv)
		if err != nil {
			return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
		}
		return r.queued(ctx, cmd, inv.Sub+" on every host", func(ctx context.Context) {
			r.runOnEveryHost(ctx, chat, cmd, f)
		}), nil
	}
	host, err := r.host(inv.Host)
	if err != nil {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
	}
	if row, _ := operationOf(inv.Sub); row.runOne != nil {
		return r.queued(ctx, cmd, inv.Sub, func(ctx context.Context) { row.runOne(r, ctx, chat, cmd, host) }), nil
	}
	op, args, err := readOnlyOp(inv)
	if err != nil {
		return bot.NoReply, r.refused(ctx, cmd, inv.Sub, err)
	}
	return r.queued(ctx, cmd, "read-only "+inv.Sub, func(ctx context.Context) {
		r.runReadOnly(ctx, chat, cmd, inv.Sub, host, op, args)
	}), nil
}

// handleAction is bot.Handler's HandleAction for the Approve and Deny
// buttons and the approve Form's submission, which carries the code in
// Fields (observe.go counts it). The button carries only the request ID;
// the request's stored argv and host are what will run.
func (r *Router) handleAction(ctx context.Context, chat bot.Chat, act bot.Action) (bot.Reply, error) {
	act.User.Name = displayName(act.User)
	var verb string
	switch act.ActionID {
	case bot.ActionApprove:
		verb = "approve"
	case bot.ActionDeny:
		verb = "deny"
	default:
		r.audit(ctx, approvals.AuditEntry{Actor: approvals.Qualify(act.Platform, act.User.ID), ActorName: act.User.Name, Action: approvals.ActionCommandRefused, Detail: "unknown button action " + act.ActionID})
		return bot.NoReply, refuse("This button is not one of mine (%q).", act.ActionID)
	}
	id, err := approvals.ParseID(act.Value)
	if err != nil {
		r.audit(ctx, approvals.AuditEntry{Actor: approvals.Qualify(act.Platform, act.User.ID), ActorName: act.User.Name, Action: approvals.ActionCommandRefused, Detail: "button with a malformed request ID"})
		return bot.NoReply, refuse("This button does not carry a valid request ID.")
	}
	if act.Fields != nil {
		// A form's submission: it belongs to no message of its own.
		return r.decide(ctx, chat, act.Message.Channel, act.User, verb, id, "", "", act.Fields[codeField])
	}
	return r.decide(ctx, chat, act.Message.Channel, act.User, verb, id, act.Message.ID, "", "")
}

// refused audits a refused command and returns the refusal for the user.
func (r *Router) refused(ctx context.Context, cmd bot.Command, sub string, err error) error {
	r.audit(ctx, approvals.AuditEntry{
		Actor: approvals.Qualify(cmd.Platform, cmd.User.ID), ActorName: cmd.User.Name, Action: approvals.ActionCommandRefused,
		Operation: sub, Detail: truncate(bot.RedactCommand(cmd.Text), 200) + ": " + err.Error(), // never a --code value
	})
	// Usage errors, argument errors and policy refusals are all written
	// for people; they go to this user alone. A bot.Readable error shows
	// its sentence only: its Error text carries the cause, for the log.
	return &Refusal{Msg: peopleText(err)}
}

// readOnlyOp maps a read-only subcommand to its catalogue operation and
// arguments, validated.
func readOnlyOp(inv Invocation) (gitlab.Operation, gitlab.Args, error) {
	op, err := gitlab.Lookup(subcommands[inv.Sub].op)
	if err != nil {
		return op, gitlab.Args{}, err
	}
	args := gitlab.Args{Database: inv.DB}
	if err := op.Validate(args); err != nil {
		return op, args, &UsageError{Msg: err.Error(), Usage: subcommands[inv.Sub].usage}
	}
	return op, args, nil
}

// truncate shortens s to at most n bytes, on a character boundary, marking
// the cut: audit details and echoes stay valid UTF-8.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
