package commands

import (
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// requestMessage renders a request's root post in its current state:
// pending requests carry Approve and Deny buttons (with only the request
// ID), every later state shows who decided and when, without buttons.
func requestMessage(req *approvals.Request, now time.Time) (m bot.Message) {
	m = bot.Message{
		Fields: []bot.Field{
			{Label: "Command", Value: commandText(req.Argv)},
			{Label: "Host", Value: bot.Plain(req.Host), Short: true},
			{Label: "Requested by", Value: bot.Plain(req.Requester.String()), Short: true},
		},
		Context: bot.Plain("request " + req.ID),
	}
	if row, ok := operationFor(req.Operation); ok && row.card != nil {
		m.Fields = append(m.Fields, row.card(req.Params)...)
	}
	if req.Reason != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Reason", Value: bot.Plain(oneLine(req.Reason))})
	}
	if req.FingerprintInfo != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Based on", Value: bot.Plain(req.FingerprintInfo)})
	}
	if pf := req.Params[preflightKey]; pf != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Pre-flight", Value: bot.Sentence("• " + strings.ReplaceAll(pf, "\n", "\n• "))})
	}
	if req.FromRequest != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Suggested by", Value: bot.Plain("failed request " + req.FromRequest)})
	}
	approvedBy := names(req.Approvals())
	defer func() { m = emergencyCard(m, req, now) }()
	switch req.State {
	case approvals.StatePending:
		m.Title = bot.Textf("Approval needed: %s on %s", req.Operation, req.Host)
		m.Tone = bot.ToneWarning
		m.Text = bot.Textf("Someone other than %s must approve before anything runs.", req.Requester)
		m.Mentions = mentionable(req.Platform, approversOf(req))
		m.Fields = append(m.Fields,
			bot.Field{Label: "Approvals", Value: bot.Textf("%d of %d%s", len(req.Approvals()), req.Required, prefixed(" (", approvedBy, ")")), Short: true},
			bot.Field{Label: "Expires", Value: bot.Textf("%s (in %s)", bot.Time(req.ExpiresAt, bot.ClockMinutes), until(req.ExpiresAt, now)), Short: true},
		)
		m.Buttons = []bot.Button{
			{ActionID: bot.ActionApprove, Label: "Approve", Value: req.ID, Style: bot.StylePrimary},
			{ActionID: bot.ActionDeny, Label: "Deny", Value: req.ID, Style: bot.StyleDanger},
		}
		m.Context = bot.Textf("request %s · or type %s", req.ID, bot.Code("/gitlab-migrations approve "+req.ID))
	case approvals.StateApproved, approvals.StateRunning:
		m.Title = bot.Textf("Approved: %s on %s is running", req.Operation, req.Host)
		m.Tone = bot.ToneInfo
		m.Text = bot.Plain("Approved by " + approvedBy + ". Progress is in the thread.")
		if req.Note != "" {
			// A lasting condition (the agent cannot be reached): the card
			// says it, not only the thread.
			m.Tone = bot.ToneWarning
			m.Fields = append(m.Fields, bot.Field{Label: "Now", Value: bot.Sentence(sentenceOf(req.Note))})
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
		m.Text = bot.Bold(string(v.kind))
		if v.why != "" {
			m.Text = bot.Join(m.Text, bot.Plain(": "), bot.Sentence(fullStop(v.why)))
		} else {
			m.Text = bot.Join(m.Text, bot.Plain("."))
		}
		m.Text = bot.Join(m.Text, bot.Textf("\nApproved by %s; ended %s.", approvedBy, stamp(req.EndedAt)))
	default: // denied, cancelled, expired
		m.Title = bot.Textf("%s: %s on %s", titleCase(string(req.State)), req.Operation, req.Host)
		m.Tone = bot.ToneDanger
		if d, ok := req.Final(); ok && req.State == approvals.StateExpired {
			m.Text = bot.Textf("Expired %s with %d of %d approvals.", stamp(d.At), len(req.Approvals()), req.Required)
		} else if ok {
			m.Text = bot.Textf("%s by %s %s.", titleCase(string(req.State)), d.User, stamp(d.At))
			if d.Reason != "" {
				m.Text = bot.Join(m.Text, bot.Plain(" Denied because: "+fullStop(oneLine(d.Reason)))) // "Reason:" is the request's own
			}
		}
		m.Text = bot.Join(m.Text, bot.Plain(" Nothing ran."))
	}
	return m
}

// verdictHeading is the title of what a verdict is about (a finished
// card, a settled result): "Partly done: restart on gitlab-1", "Done:
// migrate on gitlab-1 succeeded".
func verdictHeading(v verdict, subject string) bot.Text {
	t := verdictTitles[v.kind] + ": " + subject
	if v.kind == verdictSucceeded {
		t += " succeeded"
	}
	return bot.Plain(t)
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

// stamp is "at" a moment, shown in the reader's time zone where the
// platform can.
func stamp(t time.Time) bot.Text {
	if t.IsZero() {
		return bot.Plain("at an unknown time")
	}
	return bot.Join(bot.Plain("at "), bot.Time(t, bot.Clock))
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
	return slices.Concat(req.ApproverIDs, req.ApproverGroups, req.EmergencyApprovers)
}
