package commands

import (
	"context"
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

func helpMessage(inv Invocation) bot.Message {
	if len(inv.Args) == 1 {
		name := strings.ToLower(inv.Args[0])
		if s, ok := subcommands[name]; ok {
			lines := []string{s.summary, "Usage: `" + s.usage + "`", "Examples:"}
			for _, e := range examples[name] {
				lines = append(lines, "• `"+e.line+"`", "  "+e.does)
			}
			return bot.Message{Title: "/gitlab-migrations " + name, Text: strings.Join(lines, "\n")}
		}
		return bot.Message{Text: fmt.Sprintf("There is no subcommand %q. Try /gitlab-migrations help.", echo(inv.Args[0])), Tone: bot.ToneWarning}
	}
	lines := []string{"Read-only commands run at once; migrate, finalize and restart need a second person's approval."}
	for _, n := range []string{"status", "bbm", "services", "migrate", "finalize", "restart", "approve", "deny", "cancel", "pending", "audit", "hosts", "help"} {
		lines = append(lines, fmt.Sprintf("• `%s`: %s", subcommands[n].usage, subcommands[n].summary))
	}
	return bot.Message{Title: "/gitlab-migrations", Text: strings.Join(lines, "\n")}
}

func (r *Router) hostsMessage() bot.Message {
	lines := make([]string, len(r.opt.Hosts))
	for i, h := range r.opt.Hosts {
		lines[i] = "• " + h.Name
		if i == 0 && len(r.opt.Hosts) == 1 {
			lines[i] += " (default)"
		}
	}
	return bot.Message{Title: "GitLab hosts", Text: strings.Join(lines, "\n")}
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
	now := r.opt.Clock()
	var waiting, running []string
	for _, q := range reqs {
		switch {
		case q.State == approvals.StateRunning:
			l := fmt.Sprintf("• `%s` %s on %s by %s, running since %s", q.ID, q.Operation, q.Host, q.Requester, q.StartedAt.UTC().Format("15:04 UTC"))
			if q.Note != "" {
				l += ": *" + q.Note + "*"
			}
			running = append(running, l)
		case q.Due(now):
		default:
			waiting = append(waiting, fmt.Sprintf("• `%s` %s on %s by %s, %d of %d approvals, expires in %s", q.ID, q.Operation, q.Host, q.Requester, len(q.Approvals()), q.Required, until(q.ExpiresAt, now)))
		}
	}
	if len(waiting) == 0 && len(running) == 0 {
		return bot.Message{Text: "No requests are waiting for approval."}, nil
	}
	text := "No requests are waiting for approval."
	if len(waiting) > 0 {
		text = strings.Join(waiting, "\n")
	}
	if len(running) > 0 {
		text += "\n\nRunning:\n" + strings.Join(running, "\n")
	}
	return bot.Message{Title: "Waiting for approval", Text: text}, nil
}

func (r *Router) auditMessage(ctx context.Context, n int) (bot.Message, error) {
	entries, err := r.opt.Audit.TailAudit(ctx, n)
	if err != nil {
		return bot.Message{}, fmt.Errorf("reading the audit trail: %w", err)
	}
	var lines []string
	for _, e := range entries {
		who := e.ActorName
		if who == "" {
			who = e.Actor
		}
		l := fmt.Sprintf("%d %s %s %s", e.Seq, e.Time.UTC().Format("2006-01-02 15:04:05"), who, e.Action)
		for _, s := range []string{e.RequestID, e.Operation, e.Outcome} {
			if s != "" {
				l += " " + s
			}
		}
		lines = append(lines, l)
	}
	if len(lines) == 0 {
		return bot.Message{Text: "The audit trail is empty."}, nil
	}
	return bot.Message{Title: fmt.Sprintf("Last %d audit entries", len(lines)), Code: strings.Join(lines, "\n")}, nil
}
