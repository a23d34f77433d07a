package commands

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// showScanChunk is how many audit entries `show` reads per page while it
// walks the trail back to the request's opening.
const showScanChunk = 1024

// showHistoryMax bounds the history lines `show` lists (a request refused
// a thousand times would not fit a message); the rest are counted.
const showHistoryMax = 60

// show answers `show <request-id>`: the request's whole history, to the
// asker alone. It reads the trail, so it runs in the background.
func (r *Router) show(ctx context.Context, chat bot.Chat, cmd bot.Command, id string) (bot.Reply, error) {
	req, err := r.opt.Approvals.Request(ctx, id)
	if errors.Is(err, approvals.ErrNotFound) {
		return bot.NoReply, r.refused(ctx, cmd, "show", fmt.Errorf("there is no request %s; `/gitlab-migrations pending` lists the open ones and `/gitlab-migrations audit` the recent ones", id))
	}
	if err != nil {
		return bot.NoReply, fmt.Errorf("reading request %s: %w", id, err)
	}
	r.background("show", func(ctx context.Context) {
		ctx = r.withRequestLog(ctx, req.ID)
		history, err := r.requestHistory(ctx, req)
		if err != nil {
			r.logger(ctx).Error("reading a request's audit entries", "err", err)
			history = nil
		}
		link := ""
		if c, ok := r.chat(req.Platform); ok && req.Thread != "" {
			if p, ok := c.(bot.Permalinker); ok {
				if link, err = p.Permalink(ctx, bot.Ref{Channel: req.Channel, ID: req.Thread}); err != nil {
					r.logger(ctx).Warn("permalink of a request's thread", "err", err)
				}
			}
		}
		m := showMessage(req, history, link)
		if err != nil {
			m.Text = joinLines(m.Text, bot.Plain("⚠️ The audit trail could not be read, so the history is missing; the bot's log says why."))
		}
		if err := chat.Notify(ctx, cmd.Channel, cmd.User, m); err != nil {
			r.logger(ctx).Error("answering show", "err", err)
		}
	})
	return bot.NoReply, nil
}

// requestHistory returns the audit entries of req, oldest first. It walks
// the trail back from its end, a page at a time, until entries older than
// the request (a minute's margin for clocks), decoding only the entries
// that name it.
func (r *Router) requestHistory(ctx context.Context, req *approvals.Request) ([]approvals.AuditEntry, error) {
	since := req.CreatedAt.Add(-time.Minute)
	needle := []byte(`"request_id":"` + req.ID + `"`)
	var pages [][]approvals.AuditEntry
	before := uint64(0)
	for {
		var (
			page      []approvals.AuditEntry
			first     uint64
			firstTime time.Time
			n         int
		)
		err := r.opt.Audit.AuditPage(ctx, before, showScanChunk, func(seq uint64, stored []byte) error {
			if n == 0 {
				first = seq
				e, err := auditchain.Decode(stored)
				if err != nil {
					return fmt.Errorf("entry %d: %w", seq, err)
				}
				firstTime = e.Time
			}
			n++
			if !bytes.Contains(stored, needle) {
				return nil
			}
			e, err := auditchain.Decode(stored)
			if err != nil {
				return fmt.Errorf("entry %d: %w", seq, err)
			}
			if e.RequestID == req.ID {
				page = append(page, e)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		pages = append(pages, page)
		if n == 0 || first <= 1 || firstTime.Before(since) {
			break
		}
		before = first
	}
	slices.Reverse(pages)
	return slices.Concat(pages...), nil
}

// showMessage renders a request's history: who asked, when and why; what
// exactly runs, where; every decision with its time; the outcome and why;
// the agent job and its output digest; where its thread is (link, when the
// platform gives one); then each audit entry of it.
func showMessage(req *approvals.Request, history []approvals.AuditEntry, link string) bot.Message {
	m := bot.Message{
		Title: bot.Textf("Request %s: %s on %s, %s", req.ID, req.Operation, req.Host, strings.ToUpper(string(req.State))),
		Fields: []bot.Field{
			{Label: "Asked by", Value: bot.Textf("%s at %s", userAndID(req.Requester), when(req.CreatedAt))},
			{Label: "Runs", Value: bot.Join(commandText(req.Argv), bot.Plain(" on "+req.Host))},
		},
	}
	if req.Reason != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Reason", Value: bot.Plain(oneLine(req.Reason))})
	}
	if req.FingerprintInfo != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Based on", Value: bot.Plain(req.FingerprintInfo)})
	}
	if req.FromRequest != "" {
		m.Fields = append(m.Fields, bot.Field{Label: "Suggested by", Value: bot.Plain("failed request " + req.FromRequest)})
	}
	if req.Emergency {
		m.Fields = append(m.Fields, bot.Field{Label: "Break-glass", Value: showEmergency(req)})
	}
	var decisions []bot.Text
	for _, d := range req.Decisions {
		l := bot.Textf("%s %s at %s", verdictPast[d.Verdict], d.User, when(d.At))
		if d.Verdict == approvals.VerdictExpire {
			l = bot.Join(bot.Plain("expired at "), when(d.At))
		}
		if d.Reason != "" {
			l = bot.Join(l, bot.Plain(": "+oneLine(d.Reason)))
		}
		decisions = append(decisions, bot.Join(bot.Plain("• "), l))
	}
	if len(decisions) == 0 {
		decisions = []bot.Text{bot.Textf("none yet (%d of %d approvals; expires at %s)", 0, req.Required, when(req.ExpiresAt))}
	}
	m.Fields = append(m.Fields, bot.Field{Label: "Decisions", Value: bot.JoinWith("\n", decisions...)})
	m.Fields = append(m.Fields, bot.Field{Label: "Outcome", Value: showOutcome(req)})
	if req.JobID != "" {
		job := bot.Plain("agent job " + req.JobID)
		if !req.StartedAt.IsZero() {
			job = bot.Join(job, bot.Plain(", started at "), when(req.StartedAt))
		}
		m.Fields = append(m.Fields, bot.Field{Label: "Job", Value: job})
	}
	for _, e := range slices.Backward(history) {
		if e.Action == ActionJobOutput && e.OutputDigest != "" {
			m.Fields = append(m.Fields, bot.Field{Label: "Output", Value: bot.Textf("digest %s (%s)", bot.Code(e.OutputDigest), e.Detail)})
			break
		}
	}
	m.Fields = append(m.Fields, bot.Field{Label: "Thread", Value: threadText(req, link)})
	lines := make([]string, 0, len(history))
	for _, e := range history {
		lines = append(lines, historyLine(e))
	}
	if len(lines) > showHistoryMax {
		more := len(lines) - showHistoryMax
		lines = slices.Concat(lines[:showHistoryMax/2],
			[]string{fmt.Sprintf("… %d more entries of this request (gitlab-chatops audit export on the bot's host has them all) …", more)},
			lines[len(lines)-showHistoryMax/2:])
	}
	if len(lines) == 0 {
		m.Text = bot.Plain("The audit trail has no entries of this request.")
	} else {
		m.Code = strings.Join(lines, "\n")
	}
	m.Context = bot.Textf("request %s · %d audit entries", req.ID, len(history))
	return m
}

// showEmergency says what `show` knows of an emergency request: what
// approves it and its post-incident review.
func showEmergency(req *approvals.Request) bot.Text {
	t := bot.Plain("emergency request: bypassed the change windows; needs " + emergencyNeeds(req))
	switch {
	case req.Review != nil:
		return bot.Join(t, bot.Textf("; post-incident review acknowledged by %s at %s: %s", userAndID(req.Review.By), when(req.Review.At), oneLine(req.Review.Note)))
	case req.ReviewOpen():
		return bot.Join(t, bot.Textf("; post-incident review open, due by %s", when(req.ReviewDue)))
	}
	return t
}

var verdictPast = map[approvals.Verdict]string{
	approvals.VerdictApprove: "approved by", approvals.VerdictDeny: "denied by",
	approvals.VerdictCancel: "cancelled by", approvals.VerdictExpire: "expired",
}

// showOutcome says where the request stands, and why it ended as it did.
func showOutcome(req *approvals.Request) bot.Text {
	switch req.State {
	case approvals.StatePending:
		return bot.Textf("waiting for approval (%d of %d), until %s", len(req.Approvals()), req.Required, when(req.ExpiresAt))
	case approvals.StateApproved, approvals.StateRunning:
		s := bot.Plain("running")
		if req.Note != "" {
			s = bot.Join(s, bot.Plain(": "), bot.Sentence(req.Note))
		}
		return s
	case approvals.StateSucceeded, approvals.StateFailed, approvals.StateInterrupted:
		v, ok := verdictOf(req)
		if !ok {
			v = verdict{verdictKind(strings.ToUpper(string(req.State))), req.Error}
			if req.State == approvals.StateSucceeded {
				v.why = req.Outcome
			}
		}
		s := bot.Textf("%s at %s", bot.Bold(string(v.kind)), when(req.EndedAt))
		if v.why != "" {
			s = bot.Join(s, bot.Plain(": "), bot.Sentence(fullStop(v.why)))
		}
		return s
	}
	return bot.Plain(string(req.State) + "; nothing ran")
}

// threadText points at the request's thread: a link where the platform
// gives one, else its platform, channel and root message ID.
func threadText(req *approvals.Request, link string) bot.Text {
	if req.Thread == "" {
		return bot.Plain("no thread was posted (" + req.Platform + ")")
	}
	if link != "" {
		return bot.Link(link, "")
	}
	return bot.Textf("%s channel %s, message %s", req.Platform, req.Channel, req.Thread)
}

// historyLine is one audit entry of a request, as `show` lists it.
func historyLine(e approvals.AuditEntry) string {
	l := entryHead(e)
	if e.Outcome != "" {
		l += " → " + e.Outcome
	}
	if e.Detail != "" {
		l += ": " + oneLine(e.Detail)
	}
	return l
}

// userAndID names a user with their platform ID, once when they are the
// same (the console's names are its IDs).
func userAndID(u approvals.User) string {
	if u.Name == "" || u.Name == u.ID {
		return u.ID
	}
	return u.Name + " (" + u.ID + ")"
}

// when is a time as `show` writes it: date and time, in the reader's
// time zone where the platform can.
func when(t time.Time) bot.Text {
	if t.IsZero() {
		return bot.Plain("an unknown time")
	}
	return bot.Time(t, bot.DateClock)
}
