package commands

import (
	"bytes"
	"context"
	"fmt"
	"image/png"
	"strings"

	"github.com/pquerna/otp"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Approver re-authentication (policy.reauth): `enroll` gives an approver a
// TOTP secret; approving an operation that needs it asks for the current
// code, by a Form where the platform has them and always by the command to
// type. The code is checked here, before the approval is acknowledged, so
// a wrong one is refused where it was typed (in the open dialog); the
// approval itself counts only with the proof approvals.Service gave for it.

// codeField is the name of the code's input in the approve Form, and so
// its key in the submission's Action.Fields.
const codeField = "code"

// qrSize is the QR code's side in pixels: large enough to scan from a
// screen, small enough to upload at once.
const qrSize = 256

// enroll answers `enroll [--code NNNNNN]`: the new secret, to this user
// alone, never on a platform that cannot show a message to one user.
func (r *Router) enroll(ctx context.Context, chat bot.Chat, cmd bot.Command, code string) (bot.Reply, error) {
	caps := bot.CapabilitiesOf(chat)
	if !caps.Ephemeral {
		return bot.NoReply, r.refused(ctx, cmd, "enroll", refuse("This chat cannot show a message to you alone, so I will not send an authenticator secret here; enrol where the bot can answer you privately (Slack, Mattermost or the console)."))
	}
	user := qualifiedUser(cmd.Platform, cmd.User)
	key, err := r.opt.Approvals.Enroll(ctx, user, code)
	if err != nil {
		if approvals.IsRefusal(err) {
			return bot.NoReply, &Refusal{Msg: refusalSentence(err)} // audited by the Service
		}
		r.logger(ctx).Error("enrolment", "err", err)
		return bot.NoReply, &Refusal{Msg: "I could not store your enrolment, so nothing changed; the bot's log has the details. Try again."}
	}
	reply := bot.Say(enrolMessage(key.URL(), key.Secret(), caps.DirectFiles, r.opt.Approvals.Policy()))
	if caps.DirectFiles {
		img, err := qrPNG(key)
		if err != nil {
			r.logger(ctx).Error("enrolment QR code", "err", err) // the URI and secret are still shown
		} else {
			reply.Files = []bot.File{bot.BytesFile("gitlab-chatops-totp.png", "gitlab-chatops authenticator QR code", img)}
		}
	}
	return reply, nil
}

// resetEnrolment answers `enroll --reset <user-id>`: an admin removes an
// approver's authenticator (a lost phone). An unqualified ID is the
// admin's platform's.
func (r *Router) resetEnrolment(ctx context.Context, cmd bot.Command, inv Invocation) (bot.Reply, error) {
	if inv.Code != "" {
		return bot.NoReply, r.refused(ctx, cmd, "enroll", &UsageError{Msg: "--reset and --code do not go together", Usage: subcommands["enroll"].usage})
	}
	admin := qualifiedUser(cmd.Platform, cmd.User)
	who := approvals.QualifyDefault(cmd.Platform, strings.TrimSpace(inv.Reset))
	if err := r.opt.Approvals.ResetEnrolment(ctx, admin, who); err != nil {
		if approvals.IsRefusal(err) {
			return bot.NoReply, &Refusal{Msg: refusalSentence(err)} // audited by the Service
		}
		r.logger(ctx).Error("resetting an enrolment", "err", err)
		return bot.NoReply, &Refusal{Msg: "I could not reset that enrolment, so nothing changed; the bot's log has the details. Try again."}
	}
	return bot.Say(bot.Message{Text: bot.Join(bot.Plain("The authenticator of "+who+" is removed. They enrol again with "), bot.Code("/gitlab-migrations enroll"), bot.Plain(" before approving anything that needs a code."))}), nil
}

// qrPNG is the enrolment's QR code as a PNG.
func qrPNG(key *otp.Key) ([]byte, error) {
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("draw the QR code: %w", err)
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, fmt.Errorf("encode the QR code: %w", err)
	}
	return b.Bytes(), nil
}

// enrolMessage tells an approver how to add their new secret (uri, or
// secret typed by hand) to an authenticator app; qr says whether the QR
// code follows by direct message.
func enrolMessage(uri, secret string, qr bool, p approvals.Policy) bot.Message {
	scan := "Add it to your authenticator app (Google Authenticator, 1Password, Aegis, …): enter the key by hand (time-based, 6 digits, every 30 seconds), or give it the link if it takes one."
	if qr {
		scan = "Scan the QR code I am sending you by direct message with your authenticator app (Google Authenticator, 1Password, Aegis, …), or enter the key by hand (time-based, 6 digits, every 30 seconds), or give it the link if it takes one."
	}
	var ops []string
	for _, op := range DestructiveSubcommands() {
		if p.ReauthFor(op) == approvals.ReauthTOTP {
			ops = append(ops, op)
		}
	}
	needs := "No operation needs a code yet (policy.reauth); you are ready when one does."
	if len(ops) > 0 {
		needs = "From now on, approving " + strings.Join(ops, ", ") + " asks for the 6-digit code the app shows."
	}
	return bot.Message{
		Title: bot.Plain("Your gitlab-chatops authenticator"),
		Text: bot.Join(bot.Plain(scan+"\nKey: "), bot.Code(secret), bot.Plain("\nLink: "), bot.Code(uri),
			bot.Plain("\n"+needs+" This message is for you alone: do not share it. If the secret leaks, enrol again with "), bot.Code("/gitlab-migrations enroll --code NNNNNN"), bot.Plain(".")),
		Tone: bot.ToneInfo,
	}
}

// codePrompt is the answer to an approval without a code of a request
// whose operation needs one: a Form asking for it (where the platform has
// them) and a message saying what to type instead.
func (r *Router) codePrompt(ctx context.Context, chat bot.Chat, u approvals.User, req *approvals.Request) (bot.Reply, error) {
	enrolled, err := r.opt.Approvals.Enrolled(ctx, u)
	if err != nil {
		r.logger(ctx).Error("reading an enrolment", "err", err)
		return bot.NoReply, &Refusal{Msg: fmt.Sprintf("I could not read your enrolment from the bot's store, so nothing was done on %s; the bot's log has the details. Try again.", req.ID)}
	}
	if !enrolled {
		err := fmt.Errorf("approving %s needs the code of an authenticator app, and you have not enrolled one: type /gitlab-migrations enroll (I answer you alone), then approve %s again: %w", req.Operation, req.ID, approvals.ErrNotEnrolled)
		r.audit(ctx, approvals.AuditEntry{Actor: u.ID, ActorName: u.Name, Action: approvals.ActionRequestRefused, RequestID: req.ID, Host: req.Host, Operation: req.Operation, Outcome: string(approvals.VerdictApprove), Detail: err.Error()})
		return bot.NoReply, &Refusal{Msg: refusalSentence(err)}
	}
	reply := bot.Say(codePromptMessage(req))
	if bot.CapabilitiesOf(chat).Forms {
		f := codeForm(req)
		reply.Form = &f
	}
	return reply, nil
}

// codeForm asks for the current code to approve req.
func codeForm(req *approvals.Request) bot.Form {
	return bot.Form{
		ActionID: bot.ActionApprove, Value: req.ID, Title: "Approve " + req.ID,
		Intro:  bot.Join(bot.Plain("Approving "), bot.Code(req.Operation), bot.Plain(" on "+req.Host+" needs the current code of your authenticator app.")),
		Fields: []bot.FormField{{Name: codeField, Label: "Code", Hint: "Six digits, from the app you enrolled with (/gitlab-migrations enroll).", MinLength: 6, MaxLength: 6}},
		Submit: "Approve",
	}
}

// codePromptMessage says what to type when no form can be opened (and is
// the form's fallback when the platform refuses to open it).
func codePromptMessage(req *approvals.Request) bot.Message {
	return bot.Message{
		Title: bot.Plain("Your code, please"),
		Text: bot.Join(bot.Plain("Approving "), bot.Code(req.Operation), bot.Plain(" on "+req.Host+" needs the current code of your authenticator app. Type "),
			bot.Code("/gitlab-migrations approve "+req.ID+" --code NNNNNN"), bot.Plain(" with the 6 digits it shows.")),
		Tone: bot.ToneInfo,
	}
}
