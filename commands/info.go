package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

func helpMessage(inv Invocation) bot.Message {
	if len(inv.Args) == 1 {
		name := strings.ToLower(inv.Args[0])
		if s, ok := subcommands[name]; ok {
			lines := []bot.Text{bot.Sentence(s.summary), bot.Join(bot.Plain("Usage: "), bot.Code(s.usage)), bot.Plain("Examples:")}
			for _, e := range examples[name] {
				lines = append(lines, bot.Join(bot.Plain("• "), bot.Code(e.line)), bot.Join(bot.Plain("  "), bot.Sentence(e.does)))
			}
			return bot.Message{Title: bot.Plain("/gitlab-migrations " + name), Text: bot.JoinWith("\n", lines...)}
		}
		return bot.Message{Text: bot.Textf("There is no subcommand %q. Try %s.", echo(inv.Args[0]), bot.Code("/gitlab-migrations help")), Tone: bot.ToneWarning}
	}
	var ops, needApproval []string
	for _, o := range operations {
		ops = append(ops, o.sub)
		if destructive(o.sub) {
			needApproval = append(needApproval, o.sub)
		}
	}
	lines := []bot.Text{bot.Plain("Read-only commands run at once; " + andList(needApproval) + " need a second person's approval.")}
	// The operations in their table's order, then the usual order; a
	// subcommand neither names yet follows, so that none is ever missing
	// from the help.
	order := append(ops, "approve", "deny", "cancel", "pending", "review", "show", "audit", "hosts", "help")
	for _, n := range subcommandNames() {
		if !slices.Contains(order, n) {
			order = append(order, n)
		}
	}
	for _, n := range order {
		lines = append(lines, bot.Textf("• %s: %s", bot.Code(subcommands[n].usage), bot.Sentence(subcommands[n].summary)))
	}
	return bot.Message{Title: bot.Plain("/gitlab-migrations"), Text: bot.JoinWith("\n", lines...)}
}

// pendingMessage lists the requests waiting for approval and, after them,
// the running ones with their note (e.g. "outcome unknown: agent
// unreachable since 14:05 UTC"), so a lasting problem is seen outside
// its thread.
func (r *Router) pendingMessage(ctx context.Context) (bot.Message, error) {
	reqs, err := r.opt.Approvals.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StatePending, approvals.StateRunning}})
	if err != nil {
		return bot.Message{}, fmt.Errorf("listing pending requests: %w", err)
	}
	reviews, err := r.opt.Approvals.OpenReviews(ctx)
	if err != nil {
		return bot.Message{}, fmt.Errorf("listing open post-incident reviews: %w", err)
	}
	return withReviews(pendingList(reqs, r.opt.Clock()), reviews, r.opt.Clock()), nil
}

// withReviews adds the open post-incident reviews to pending's answer m.
func withReviews(m bot.Message, reviews []*approvals.Request, now time.Time) bot.Message {
	if len(reviews) == 0 {
		return m
	}
	m.Title = bot.Plain("Waiting for approval")
	m.Text = bot.Join(m.Text, bot.Plain("\n\nPost-incident reviews to acknowledge (admins: /gitlab-migrations review <id> -- <note>):\n"), bot.JoinWith("\n", reviewLines(reviews, now)...))
	if slices.ContainsFunc(reviews, func(q *approvals.Request) bool { return q.ReviewOverdue(now) }) {
		m.Tone = bot.ToneWarning
	}
	return m
}

// auditInline is the most audit entries an answer shows in the message
// itself; a longer page comes as a file.
const auditInline = 100

// auditAnswer answers `audit [N] [--before SEQ]`: up to auditInline
// entries to the asker alone; a longer page is posted in the channel as an
// attached file, like other long output. Either says how to get the next
// page.
func (r *Router) auditAnswer(ctx context.Context, chat bot.Chat, cmd bot.Command, n int, before uint64) (bot.Reply, error) {
	entries, err := r.opt.Audit.AuditBefore(ctx, before, n)
	if err != nil {
		return bot.NoReply, fmt.Errorf("reading the audit trail: %w", err)
	}
	m, lines := auditPageMessage(entries, n, before)
	if len(entries) <= auditInline {
		m.Code = lines
		return bot.Say(m), nil
	}
	first, last := entries[0].Seq, entries[len(entries)-1].Seq
	m.Title = bot.Join(m.Title, bot.Plain(", asked by "+cmd.User.Name))
	m.Text = bot.Plain("The entries are in the attached file, one a line: number, time (UTC), who, action, request, operation, outcome.")
	r.background("audit page", func(ctx context.Context) {
		root, err := chat.PostRoot(ctx, cmd.Channel, m)
		if err != nil {
			r.logger(ctx).Error("posting root message", "err", err)
			_ = chat.Notify(ctx, cmd.Channel, cmd.User, couldNotPost(err))
			return
		}
		f := bot.BytesFile(fmt.Sprintf("audit-%d-%d.txt", first, last), fmt.Sprintf("Audit entries %d to %d", first, last), []byte(lines+"\n"))
		if err := chat.Upload(ctx, root, f, fmt.Sprintf("%d audit entries", len(entries))); err != nil {
			r.logger(ctx).Error("uploading output", "err", err)
		}
	})
	return bot.NoReply, nil
}

// auditPageMessage renders a page of the trail: the message without the
// entries, and the entries one a line. n and before are what was asked,
// for the lines that say how to page on.
func auditPageMessage(entries []approvals.AuditEntry, n int, before uint64) (bot.Message, string) {
	if len(entries) == 0 {
		if before > 0 {
			return bot.Message{Text: bot.Textf("There are no audit entries before entry %d.", before)}, ""
		}
		return bot.Message{Text: bot.Plain("The audit trail is empty.")}, ""
	}
	lines := make([]string, len(entries))
	for i, e := range entries {
		lines[i] = auditLine(e)
	}
	first, last := entries[0].Seq, entries[len(entries)-1].Seq
	m := bot.Message{Title: bot.Textf("Audit entries %d to %d", first, last)}
	if before == 0 {
		m.Title = bot.Textf("Last %d audit entries (%d to %d)", len(entries), first, last)
	}
	var next []bot.Text
	if first > 1 {
		next = append(next, bot.Join(bot.Plain("older: "), bot.Code(fmt.Sprintf("/gitlab-migrations audit %d --before %d", n, first))))
	}
	if before > 0 {
		next = append(next, bot.Join(bot.Plain("newer: "), bot.Code(fmt.Sprintf("/gitlab-migrations audit %d --before %d", n, last+uint64(n)+1))))
	}
	if len(next) > 0 {
		m.Context = bot.Join(bot.Plain("Next page, "), bot.JoinWith("; ", next...))
	}
	return m, strings.Join(lines, "\n")
}

// auditLine is one entry as `audit` lists it.
func auditLine(e approvals.AuditEntry) string {
	l := entryHead(e)
	for _, s := range []string{e.RequestID, e.Operation, e.Outcome} {
		if s != "" {
			l += " " + s
		}
	}
	return l
}

// entryHead starts an entry's line in `audit` and `show`: number, time
// (UTC), who, action.
func entryHead(e approvals.AuditEntry) string {
	who := e.ActorName
	if who == "" {
		who = e.Actor
	}
	return fmt.Sprintf("%d %s %s %s", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05"), who, e.Action)
}

// pendingList is pending's answer for reqs (pending and running ones) at
// now.
func pendingList(reqs []*approvals.Request, now time.Time) bot.Message {
	var waiting, running []bot.Text
	for _, q := range reqs {
		switch {
		case q.State == approvals.StateRunning:
			l := bot.Textf("• %s %s on %s by %s, running since %s", bot.Code(q.ID), q.Operation, q.Host, q.Requester, bot.Time(q.StartedAt, bot.ClockMinutes))
			if q.Note != "" {
				l = bot.Join(l, bot.Plain(": "), bot.Bold(q.Note))
			}
			running = append(running, l)
		case q.Due(now):
		default:
			op := q.Operation
			if q.Emergency {
				op = "🚨 emergency " + op
			}
			waiting = append(waiting, bot.Textf("• %s %s on %s by %s, %d of %d approvals, expires in %s", bot.Code(q.ID), op, q.Host, q.Requester, len(q.Approvals()), q.Required, until(q.ExpiresAt, now)))
		}
	}
	if len(waiting) == 0 && len(running) == 0 {
		return bot.Message{Text: bot.Plain("No requests are waiting for approval.")}
	}
	text := bot.Plain("No requests are waiting for approval.")
	if len(waiting) > 0 {
		text = bot.JoinWith("\n", waiting...)
	}
	if len(running) > 0 {
		text = bot.Join(text, bot.Plain("\n\nRunning:\n"), bot.JoinWith("\n", running...))
	}
	return bot.Message{Title: bot.Plain("Waiting for approval"), Text: text}
}
