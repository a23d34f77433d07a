package commands

import (
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// requestMessage renders a request's root post in its current state:
// pending requests carry Approve and Deny buttons (with only the request
// ID), every later state shows who decided and when, without buttons.
func requestMessage(req *approvals.Request, now time.Time) bot.Message {
	m := bot.Message{
		Fields: []bot.Field{
			{Label: "Command", Value: commandText(req.Argv)},
			{Label: "Host", Value: req.Host, Short: true},
			{Label: "Requested by", Value: req.Requester.String(), Short: true},
		},
		Context: fmt.Sprintf("request %s", req.ID),
	}
	if row, ok := operationFor(req.Operation); ok && row.card != nil {
		m.Fields = append(m.Fields, row.card(req.Params)...)
	}
	if req.Reason != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Reason", Value: literal(req.Reason)})
	}
	if req.FingerprintInfo != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Based on", Value: req.FingerprintInfo})
	}
	if pf := req.Params[preflightKey]; pf != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Pre-flight", Value: "• " + strings.ReplaceAll(pf, "\n", "\n• ")})
	}
	if req.FromRequest != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Suggested by", Value: "failed request " + req.FromRequest})
	}
	approvedBy := names(req.Approvals())
	switch req.State {
	case approvals.StatePending:
		m.Title = fmt.Sprintf("Approval needed: %s on %s", req.Operation, req.Host)
		m.Tone = bot.ToneWarning
		m.Text = fmt.Sprintf("Someone other than %s must approve before anything runs.", req.Requester)
		m.Mentions = mentionable(req.Platform, approversOf(req))
		m.Fields = append(m.Fields,
			bot.Field{Label: "Approvals", Value: fmt.Sprintf("%d of %d%s", len(req.Approvals()), req.Required, prefixed(" (", approvedBy, ")")), Short: true},
			bot.Field{Label: "Expires", Value: fmt.Sprintf("%s (in %s)", req.ExpiresAt.UTC().Format("15:04 MST"), until(req.ExpiresAt, now)), Short: true},
		)
		m.Buttons = []bot.Button{
			{ActionID: bot.ActionApprove, Label: "Approve", Value: req.ID, Style: bot.StylePrimary},
			{ActionID: bot.ActionDeny, Label: "Deny", Value: req.ID, Style: bot.StyleDanger},
		}
		m.Context = fmt.Sprintf("request %s · or type /gitlab-migrations approve %s", req.ID, req.ID)
	case approvals.StateApproved, approvals.StateRunning:
		m.Title = fmt.Sprintf("Approved: %s on %s is running", req.Operation, req.Host)
		m.Tone = bot.ToneInfo
		m.Text = "Approved by " + approvedBy + ". Progress is in the thread."
		if req.Note != "" {
			// A lasting condition (the agent cannot be reached): the card
			// says it, not only the thread.
			m.Tone = bot.ToneWarning
			m.Fields = append(m.Fields, bot.Field{Label: "Now", Value: sentenceOf(req.Note)})
		}
	case approvals.StateSucceeded, approvals.StateFailed, approvals.StateInterrupted:
		v, ok := verdictOf(req)
		if !ok {
			v = verdict{verdictFailed, req.Error}
			switch req.State {
			case approvals.StateSucceeded:
				v = verdict{verdictSucceeded, req.Outcome}
			case approvals.StateInterrupted:
				v.kind = "INTERRUPTED"
			}
		}
		m.Title, m.Tone = verdictHeading(v, req.Operation+" on "+req.Host), verdictTone(v)
		m.Text = fmt.Sprintf("*%s*", v.kind)
		if v.why != "" {
			m.Text += ": " + fullStop(v.why)
		} else {
			m.Text += "."
		}
		m.Text += fmt.Sprintf("\nApproved by %s; ended %s.", approvedBy, stamp(req.EndedAt))
	default: // denied, cancelled, expired
		m.Title = fmt.Sprintf("%s: %s on %s", titleCase(string(req.State)), req.Operation, req.Host)
		m.Tone = bot.ToneDanger
		if d, ok := req.Final(); ok && req.State == approvals.StateExpired {
			m.Text = fmt.Sprintf("Expired %s with %d of %d approvals.", stamp(d.At), len(req.Approvals()), req.Required)
		} else if ok {
			m.Text = fmt.Sprintf("%s by %s %s.", titleCase(string(req.State)), d.User, stamp(d.At))
			if d.Reason != "" {
				m.Text += " Denied because: " + fullStop(literal(d.Reason)) // "Reason:" is the request's own
			}
		}
		m.Text += " Nothing ran."
	}
	return m
}

// verdictHeading is the title of what a verdict is about (a finished
// card, a settled result): "Partly done: restart on gitlab-1", "Done:
// migrate on gitlab-1 succeeded".
func verdictHeading(v verdict, subject string) string {
	t := verdictTitles[v.kind] + ": " + subject
	if v.kind == verdictSucceeded {
		t += " succeeded"
	}
	return t
}

// verdictTone colours a verdict: green only for a confirmed success.
func verdictTone(v verdict) bot.Tone {
	switch v.kind {
	case verdictSucceeded:
		return bot.ToneSuccess
	case verdictPartly, verdictUnverified:
		return bot.ToneWarning
	}
	return bot.ToneDanger
}

// verdictTitles start a finished card's title.
var verdictTitles = map[verdictKind]string{
	verdictSucceeded: "Done", verdictFailed: "Failed", verdictNoEffect: "No effect",
	verdictPartly: "Partly done", verdictUnverified: "Not verified", "INTERRUPTED": "Interrupted",
}

// fullStop ends a person's text with a full stop unless it already ends
// in punctuation, so that what follows reads as a new sentence. The text
// itself is left as typed.
func fullStop(s string) string {
	s = strings.TrimSpace(s)
	if s == "" || strings.ContainsAny(s[len(s)-1:], ".!?") {
		return s
	}
	return s + "."
}

func names(ds []approvals.Decision) string {
	n := make([]string, len(ds))
	for i, d := range ds {
		n[i] = d.User.String()
	}
	return strings.Join(n, ", ")
}

func prefixed(pre, s, post string) string {
	if s == "" {
		return ""
	}
	return pre + s + post
}

func stamp(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return "at " + t.UTC().Format("15:04:05 MST")
}

func until(t, now time.Time) string {
	d := t.Sub(now).Round(time.Minute)
	if d <= 0 {
		return "less than a minute"
	}
	return d.String()
}

func titleCase(s string) string {
	if s == "" {
		return s
	}
	return strings.ToUpper(s[:1]) + s[1:]
}

// approversOf is who may approve req, for mentions: the approvers' user IDs
// and the approver groups (a Slack user group, a Mattermost channel), so
// that a policy of groups alone still names someone.
func approversOf(req *approvals.Request) []string {
	return append(slices.Clone(req.ApproverIDs), req.ApproverGroups...)
}
