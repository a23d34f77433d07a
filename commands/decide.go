package commands

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// decide handles approve, deny and cancel, typed or clicked. messageID is
// the message carrying a clicked button ("" when typed): a button only acts
// on the request whose root post carries it. code is the authenticator
// code given with an approval (typed --code, or the Form's field).
func (r *Router) decide(ctx context.Context, chat bot.Chat, channel string, u bot.User, verb, id, messageID, reason, code string) (bot.Reply, error) {
	ctx = r.withRequestLog(ctx, id)
	user := qualifiedUser(chat.Platform(), u)
	req, err := r.opt.Approvals.Request(ctx, id)
	if err != nil {
		return bot.NoReply, r.refusedDecision(ctx, user, verb, id, err)
	}
	if messageID != "" && req.Thread != "" && messageID != req.Thread {
		return bot.NoReply, r.refusedDecision(ctx, user, verb, id, &Refusal{Msg: fmt.Sprintf("This button does not belong to request %s's message; use the buttons on that request's own message, or type `/gitlab-migrations %s %s`.", id, verb, id)})
	}
	rootChat := chat
	if c, ok := r.chat(req.Platform); ok {
		rootChat = c
	}
	root := bot.Ref{Channel: req.Channel, ID: req.Thread}
	asked := req // req is replaced by the decided request below
	switch verb {
	case "approve":
		// Cheap checks first, so a refused click costs no agent call.
		if err := r.opt.Approvals.CheckApprover(ctx, id, user); err != nil {
			r.auditUnrecorded(ctx, user, req, err)
			return bot.NoReply, decisionRefused(err, req, chat.Platform())
		}
		// The code is checked now, so a wrong one is refused where it
		// was typed; the approval counts only with the proof.
		var proof approvals.ReauthProof
		if r.opt.Approvals.NeedsReauth(req.Operation) {
			if strings.TrimSpace(code) == "" {
				return r.codePrompt(ctx, chat, user, req)
			}
			if proof, err = r.opt.Approvals.Reauthenticate(ctx, id, user, code); err != nil {
				r.auditUnrecorded(ctx, user, req, err)
				return bot.NoReply, decisionRefused(err, req, chat.Platform())
			}
		}
		r.background("approve "+id, func(ctx context.Context) {
			r.approve(ctx, rootChat, chat, channel, u, req, proof)
		})
		return bot.NoReply, nil
	case "deny":
		req, err = r.opt.Approvals.Deny(ctx, id, user, reason)
	case "cancel":
		req, err = r.opt.Approvals.Cancel(ctx, id, user)
	}
	if err != nil {
		return bot.NoReply, decisionRefused(err, asked, chat.Platform())
	}
	// The decision is recorded; telling the channel waits on the platform,
	// so it happens after the acknowledgement.
	r.background(verb+" "+id, func(ctx context.Context) {
		ctx = r.withRequestLog(ctx, id)
		r.logger(ctx).Info("request "+string(req.State), "by", user.ID)
		r.updateRoot(ctx, rootChat, root, requestMessage(req, r.opt.Clock()))
		if _, err := rootChat.Reply(ctx, root, decidedReply(req.State, u.Name, reason)); err != nil {
			r.logger(ctx).Error("replying in thread", "err", err)
		}
	})
	return bot.NoReply, nil
}

// approve checks that what the request was based on still holds, records
// the approval and, once enough approvals are in, runs the request.
func (r *Router) approve(ctx context.Context, rootChat, chat bot.Chat, channel string, u bot.User, req *approvals.Request, proof approvals.ReauthProof) {
	ctx = r.withRequestLog(ctx, req.ID)
	user := qualifiedUser(chat.Platform(), u)
	root := bot.Ref{Channel: req.Channel, ID: req.Thread}
	current := ""
	if req.Fingerprint != "" {
		host, err := r.host(req.Host)
		if err == nil {
			var st gitlab.MigrateStatus
			busy := func() {
				_ = chat.Notify(ctx, channel, u, bot.Message{Tone: bot.ToneInfo,
					Text: bot.Textf("⏳ Your approval of %s waits for the migration status it is checked against: the agent on %s is busy; retrying for up to %s…", req.ID, host.Name, r.opt.BusyWait)})
			}
			if st, err = r.approvalStatus(ctx, host, req.ID, busy); err == nil {
				current, _ = statusFingerprint(st)
			}
		}
		if err != nil {
			err = fmt.Errorf("could not check the migration status it is based on: %w", err)
			r.auditUnrecorded(ctx, user, req, err)
			r.logger(ctx).Error("approval fingerprint check", "err", err)
			_ = chat.Notify(ctx, channel, u, bot.Message{Tone: bot.ToneDanger,
				Text: bot.Textf("Your approval of %s was not recorded: I could not check the migration status it is based on. %s Try again.", req.ID, bot.Sentence(problem(req.Host, err)))})
			return
		}
	}
	// An approval is recorded under the job's claim (any approval may be
	// the last: an emergency approver's suffices): from the moment the
	// request is approved a live follower holds it, so a leader's recovery
	// on another replica, which ends the approved requests nobody holds,
	// never ends this one. An approver whose claim is held by another
	// approving at the same time records the approval without it; if that
	// one is the last, execute asks for the claim again (takeApproved).
	claimed := false
	if cctx, release, ok := r.take(ctx, req.ID); ok {
		defer release()
		ctx, claimed = cctx, true
	}
	approved, err := r.opt.Approvals.Approve(ctx, req.ID, user, current, approvals.WithProof(proof))
	if err != nil && !approvals.IsRefusal(err) {
		approved, err = r.approvalWritten(ctx, req.ID, user, err)
	}
	switch {
	case errors.Is(err, approvals.ErrStateChanged):
		_, _ = rootChat.Reply(ctx, root, bot.Message{Tone: bot.ToneDanger, Title: bot.Plain("Approval refused: the state changed"),
			Text: bot.Textf("%s\nWhat was approved must be what runs, so open a new request: %s", bot.Sentence(refusalSentence(err)), bot.Code("/gitlab-migrations "+strings.TrimSpace(req.Operation)))})
		return
	case err != nil:
		r.auditUnrecorded(ctx, user, req, err)
		r.logger(ctx).Error("recording an approval", "err", err)
		_ = chat.Notify(ctx, channel, u, bot.Message{Text: bot.Sentence(workflowText(err,
			fmt.Sprintf("Your approval of %s was not recorded: the bot could not store it; its log has the details. Try again.", req.ID))), Tone: bot.ToneDanger})
		return
	}
	r.logger(ctx).Info("approval recorded", "approver", user.ID, "state", approved.State)
	if approved.State != approvals.StateApproved {
		r.updateRoot(ctx, rootChat, root, requestMessage(approved, r.opt.Clock()))
		_, _ = rootChat.Reply(ctx, root, approvedReply(u.Name, len(approved.Approvals()), approved.Required))
		return
	}
	// The start updates the root post once the request is running.
	if claimed {
		r.start(ctx, rootChat, approved)
		return
	}
	r.execute(ctx, rootChat, approved)
}

// approvalWritten reads request id back after its approval by user failed
// with a store error (not a refusal): a write whose answer was lost (etcd
// unreachable after the commit) may have been committed. If user's
// approval is there the request goes on from it (told "not recorded",
// the approver would see it approved with nobody starting it); otherwise
// the store's error stands.
func (r *Router) approvalWritten(ctx context.Context, id string, user approvals.User, storeErr error) (*approvals.Request, error) {
	got, err := r.opt.Approvals.Request(ctx, id)
	if err != nil {
		return nil, storeErr
	}
	if _, ok := got.ApprovedBy(user.ID); !ok {
		return nil, storeErr
	}
	r.logger(ctx).Warn("the store answered an approval with an error, but it was recorded; going on", "err", storeErr)
	return got, nil
}

// refusedDecision audits and returns a refusal of an approve, deny or
// cancel that did not reach the workflow.
func (r *Router) refusedDecision(ctx context.Context, u approvals.User, verb, id string, err error) error {
	r.audit(ctx, approvals.AuditEntry{Actor: u.ID, ActorName: u.Name, Action: approvals.ActionRequestRefused, RequestID: id, Detail: verb + ": " + err.Error()})
	if errors.Is(err, approvals.ErrNotFound) {
		return refuse("There is no request %s. /gitlab-migrations pending lists the open ones.", id)
	}
	var ref *Refusal
	if errors.As(err, &ref) {
		return ref
	}
	r.logger(ctx).Error("reading a request to decide on", "verb", verb, "err", err)
	return &Refusal{Msg: workflowText(err, fmt.Sprintf("I could not read request %s from the bot's store, so nothing was done; the bot's log has the details. Try again.", id))}
}

// approvalReuse is how long one approval check's status answers the other
// approvals of the same request: a burst of approve clicks costs one run.
const approvalReuse = 5 * time.Second

// approvalStatus is the migration status an approval of request id is
// checked against. Concurrent approvals of one request share one run
// (single-flight, reused for approvalReuse), which uses the agent's slot
// reserved for approval checks and waits out a busy agent.
// onBusy is told, once, if the check has to wait for the agent.
func (r *Router) approvalStatus(ctx context.Context, host Host, id string, onBusy func()) (gitlab.MigrateStatus, error) {
	res, _ := r.sharedRun(ctx, host, agent.RunRequest{Operation: gitlab.OpMigrateStatus, Purpose: agent.PurposeApprovalCheck},
		"approval-check\x00"+id, approvalReuse, onBusy)
	if res.Err != nil {
		return gitlab.MigrateStatus{}, res.Err
	}
	return parseStatusRun(res.Rec, res.Out)
}

// auditUnrecorded audits an approval attempt that was not recorded for a
// reason the workflow did not audit itself: the status check failed, or
// the store or group resolver did. The workflow's own refusals (not an
// approver, already decided …) are audited by approvals.Service.
func (r *Router) auditUnrecorded(ctx context.Context, u approvals.User, req *approvals.Request, err error) {
	if approvals.IsRefusal(err) {
		return
	}
	r.audit(ctx, approvals.AuditEntry{Actor: u.ID, ActorName: u.Name, Action: approvals.ActionRequestRefused,
		RequestID: req.ID, Host: req.Host, Operation: req.Operation, Outcome: "approve",
		Detail: "approval not recorded: " + err.Error()})
}

// decisionRefused is the refusal of an approve, deny or cancel; one for a
// user who is not an approver names who is, as far as platform (the
// user's) can mention them.
func decisionRefused(err error, req *approvals.Request, platform string) error {
	ref := &Refusal{Msg: workflowText(err, fmt.Sprintf("The bot could not record this decision on %s: its store or the approver check failed, and its log has the details. Try again.", req.ID))}
	if v, ok := verdictOf(req); ok && errors.Is(err, approvals.ErrAlreadyDecided) && req.State.Terminal() {
		// The store knows only failed or succeeded; the verdict says
		// what really happened (partly done, no effect, …).
		ref.Msg = fmt.Sprintf("Request %s already ran: %s (ended %s).", req.ID, strings.ToLower(verdictTitles[v.kind]), stamp(req.EndedAt).PlainString())
	}
	if errors.Is(err, approvals.ErrNotApprover) {
		ref.Who = mentionable(platform, approversOf(req))
	}
	return ref
}

// decidedReply is what a request's thread is told when it was denied or
// cancelled (state) by name, with the denial's reason.
func decidedReply(state approvals.State, name, reason string) bot.Message {
	text := fmt.Sprintf("%s by %s.", titleCase(string(state)), name)
	if reason != "" {
		text += " Denied because: " + fullStop(oneLine(reason))
	}
	return bot.Message{Text: bot.Plain(text + " Nothing ran."), Tone: bot.ToneDanger}
}

// approvedReply is what the thread is told of an approval that is not the
// last one needed.
func approvedReply(name string, have, need int) bot.Message {
	return bot.Message{Text: bot.Textf("%s approved (%d of %d).", name, have, need)}
}
