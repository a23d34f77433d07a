package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// A Reply's Form is a modal (views.open with the interaction's
// trigger_id). Its submission (view_submission) is signed like every
// Slack request and verified before it is parsed (verified); it becomes a
// bot.Action with the form's ActionID and Value and the inputs as Fields.

// ModalCallbackID marks the modals this adapter opens; a view_submission
// of any other view is not ours and is ignored.
const ModalCallbackID = "gitlab-chatops-form"

// Slack's limits for a modal (Block Kit reference: views, input blocks).
const (
	maxModalTitle    = 24
	maxModalButton   = 24
	maxInputLabel    = 2000
	maxInputHint     = 2000
	maxPrivateMeta   = 3000
	maxSubmitErrRune = 500
)

// formMeta is a modal's private_metadata: what its submission becomes
// (the form's action and opaque value), where answers to it are shown
// (the channel of the command or click that opened it), who it was opened
// for, and the first field, on which a refusal is shown. Slack keeps it
// with the view on its side and returns it in the signed submission; it
// carries no command, only what a button carries.
type formMeta struct {
	Action  string `json:"a"`
	Value   string `json:"v"`
	Channel string `json:"c"`
	User    string `json:"u"`
	Field   string `json:"f,omitempty"`
}

// Modal is the view views.open takes for f, opened for meta.User.
func Modal(f bot.Form, meta formMeta) (slackgo.ModalViewRequest, error) {
	if f.ActionID == "" || f.Value == "" {
		return slackgo.ModalViewRequest{}, errors.New("slack: a form needs an action and a value")
	}
	if len(f.Fields) == 0 {
		return slackgo.ModalViewRequest{}, errors.New("slack: a form needs at least one field")
	}
	meta.Action, meta.Value, meta.Field = f.ActionID, f.Value, f.Fields[0].Name
	pm, err := json.Marshal(meta)
	if err != nil {
		return slackgo.ModalViewRequest{}, fmt.Errorf("slack: form metadata: %w", err)
	}
	if len(pm) > maxPrivateMeta {
		return slackgo.ModalViewRequest{}, fmt.Errorf("slack: form metadata is %d bytes, over Slack's %d", len(pm), maxPrivateMeta)
	}
	var blocks []slackgo.Block
	if !f.Intro.IsEmpty() {
		for _, chunk := range split(Mrkdwn(f.Intro), maxSectionChars) {
			blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(chunk), nil, nil))
		}
	}
	seen := map[string]bool{}
	for _, fl := range f.Fields {
		if fl.Name == "" || seen[fl.Name] {
			return slackgo.ModalViewRequest{}, fmt.Errorf("slack: form field names must be set and distinct (%q)", fl.Name)
		}
		seen[fl.Name] = true
		in := slackgo.NewPlainTextInputBlockElement(nil, fl.Name)
		in.MinLength, in.MaxLength = fl.MinLength, fl.MaxLength
		var hint *slackgo.TextBlockObject
		if fl.Hint != "" {
			hint = plain(cut(fl.Hint, maxInputHint))
		}
		// The block and the input share the field's name: the submission's
		// state.values[block][action] is read back by it.
		blocks = append(blocks, slackgo.NewInputBlock(fl.Name, plain(cut(fl.Label, maxInputLabel)), hint, in))
	}
	submit := f.Submit
	if submit == "" {
		submit = "Submit"
	}
	return slackgo.ModalViewRequest{
		Type:            slackgo.VTModal,
		Title:           plain(cut(f.Title, maxModalTitle)),
		Submit:          plain(cut(submit, maxModalButton)),
		Close:           plain("Cancel"),
		Blocks:          slackgo.Blocks{BlockSet: blocks},
		PrivateMetadata: string(pm),
		CallbackID:      ModalCallbackID,
	}, nil
}

// openForm opens f for user with the trigger_id of their command or
// click. It is tried once: a trigger_id lives 3 seconds, so a retry would
// only find it expired; the caller then shows the Reply's Message.
func (a *Adapter) openForm(ctx context.Context, trigger, channel string, user bot.User, f bot.Form) error {
	if trigger == "" {
		return errors.New("slack: no trigger_id to open a form with")
	}
	view, err := Modal(f, formMeta{Channel: channel, User: user.ID})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	once := a.retry
	once.attempts = 1
	_, err = once.do(ctx, "views.open", func(ctx context.Context) (string, error) {
		_, err := a.api.OpenViewContext(ctx, trigger, view)
		return "", err
	})
	if err != nil {
		return fmt.Errorf("opening the form %q for %s: %w", f.Title, user.ID, err)
	}
	a.log.Info("form opened", "user", user.ID, "channel", channel, "action", f.ActionID, "request_id", f.Value)
	return nil
}

// submittedAction reads a view_submission of one of our modals: the
// form's action and value, the submitting user, the channel it was opened
// in and the inputs by field name. A submission whose metadata does not
// name the user who submitted it is refused.
func submittedAction(ic slackgo.InteractionCallback) (bot.Action, formMeta, error) {
	if ic.View.CallbackID != ModalCallbackID {
		return bot.Action{}, formMeta{}, fmt.Errorf("view %q is not one of this app's forms", ic.View.CallbackID)
	}
	if ic.User.ID == "" {
		return bot.Action{}, formMeta{}, errors.New("form submission without a user")
	}
	var meta formMeta
	if err := json.Unmarshal([]byte(ic.View.PrivateMetadata), &meta); err != nil {
		return bot.Action{}, formMeta{}, fmt.Errorf("form submission with unreadable metadata: %w", err)
	}
	switch {
	case meta.Action == "" || meta.Value == "":
		return bot.Action{}, formMeta{}, errors.New("form submission without an action or value")
	case meta.User != ic.User.ID:
		return bot.Action{}, formMeta{}, fmt.Errorf("form opened for %s submitted by %s", meta.User, ic.User.ID)
	}
	fields := map[string]string{}
	if ic.View.State != nil {
		for block, inputs := range ic.View.State.Values {
			if in, ok := inputs[block]; ok {
				fields[block] = strings.TrimSpace(in.Value)
			}
		}
	}
	return bot.Action{
		Platform: Platform,
		User:     bot.User{ID: ic.User.ID, Name: displayName(ic.User.Name, ic.User.ID)},
		Message:  bot.Ref{Channel: meta.Channel},
		ActionID: meta.Action,
		Value:    meta.Value,
		Fields:   fields,
	}, meta, nil
}

// submission hands a view_submission to h and returns the answer to
// Slack: nil (an empty 200, which closes the modal) or, for a refusal,
// response_action errors on the form's first field, so the modal stays
// open and the user can try again. Whatever else the handler shows (its
// Message, Files) follows after the answer, to the user alone in the
// channel the form was opened in. A handler later than the ack budget
// gets the modal closed and its Reply shown that way too.
func (a *Adapter) submission(base context.Context, h bot.Handler, ic slackgo.InteractionCallback) *slackgo.ViewSubmissionResponse {
	act, meta, err := submittedAction(ic)
	if err != nil {
		a.log.Warn("form submission not handled", "user", ic.User.ID, "reason", err)
		return nil
	}
	a.log.Info("form submitted", "request_id", act.Value, "user", act.User.ID, "channel", meta.Channel, "action", act.ActionID)
	rp := responder{user: act.User.ID, channel: meta.Channel, trigger: ic.TriggerID}
	after := func(ctx context.Context, reply bot.Reply) { a.deliver(ctx, rp, meta.Channel, act.User, reply) }
	reply, done := a.inTime(base, func(ctx context.Context) bot.Reply {
		return h.HandleAction(ctx, act)
	}, after)
	if !done {
		return nil
	}
	if reply.Refused && reply.Message != nil && meta.Field != "" {
		text := cut(reply.WithApprovers().Text.PlainString(), maxSubmitErrRune)
		return slackgo.NewErrorsViewSubmissionResponse(map[string]string{meta.Field: text})
	}
	if reply.Form != nil || !reply.IsZero() || len(reply.Files) > 0 {
		a.background(base, func(context.Context) bot.Reply { return reply }, after)
	}
	return nil
}
