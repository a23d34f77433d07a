package mattermost

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// A Reply's Form is an interactive dialog (OpenInteractiveDialog with the
// trigger_id of the command or click it answers). The server posts its
// submission to DialogPath; like a button callback it is not signed by
// Mattermost, so it is taken only from the server's addresses, its state
// must carry this bot's HMAC, name the user who submits and be unexpired
// and unused, and that user is confirmed with the API (clicker.go).

// DialogPath is where dialog submissions arrive; the dialog's URL is
// Config.CallbackURL's sibling "dialog" (…/mattermost/actions becomes
// …/mattermost/dialog), so whatever reaches the button callback reaches
// it too.
const DialogPath = "/mattermost/dialog"

// DialogCallbackID marks the dialogs this adapter opens.
const DialogCallbackID = "gitlab-chatops-form"

// dialogURL is DialogPath as the Mattermost server reaches the bot.
func (a *Adapter) dialogURL() string {
	u, err := url.Parse(a.cfg.CallbackURL)
	if err != nil {
		return a.cfg.CallbackURL // Validate refused such a URL already
	}
	return u.ResolveReference(&url.URL{Path: "dialog"}).String()
}

// Dialog is the interactive dialog for f, its submission going to
// submitURL with state.
func Dialog(f bot.Form, submitURL, state string) (model.Dialog, error) {
	if f.ActionID == "" || f.Value == "" {
		return model.Dialog{}, errors.New("mattermost: a form needs an action and a value")
	}
	if len(f.Fields) == 0 {
		return model.Dialog{}, errors.New("mattermost: a form needs at least one field")
	}
	d := model.Dialog{
		CallbackId:       DialogCallbackID,
		Title:            cutRunes(f.Title, model.DialogTitleMaxLength),
		IntroductionText: people{}.markdownOf(f.Intro),
		SubmitLabel:      f.Submit,
		State:            state,
	}
	for _, fl := range f.Fields {
		maxLen := fl.MaxLength
		if maxLen <= 0 {
			maxLen = model.DialogElementTextMaxLength
		}
		d.Elements = append(d.Elements, model.DialogElement{
			DisplayName: cutRunes(fl.Label, model.DialogElementDisplayNameMaxLength),
			Name:        fl.Name,
			Type:        "text",
			HelpText:    cutRunes(fl.Hint, model.DialogElementHelpTextMaxLength),
			MinLength:   min(max(fl.MinLength, 0), maxLen),
			MaxLength:   maxLen,
		})
	}
	if err := d.IsValid(); err != nil {
		return model.Dialog{}, fmt.Errorf("mattermost: the form %q is not a valid dialog: %w", f.Title, err)
	}
	return d, nil
}

// cutRunes shortens s to n characters, marking the cut.
func cutRunes(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// openDialog opens f for user with trigger, the trigger_id of their
// command or click. It is tried once: a trigger_id lives 3 seconds.
func (a *Adapter) openDialog(ctx context.Context, trigger, channel string, user bot.User, f bot.Form) error {
	if trigger == "" {
		return errors.New("mattermost: no trigger_id to open a dialog with")
	}
	st := dialogState{Action: f.ActionID, Value: f.Value, Channel: channel, User: user.ID, Expires: a.opt.Now().Add(a.opt.DialogTTL).Unix()}
	if len(f.Fields) > 0 {
		st.Field = f.Fields[0].Name
	}
	state, err := a.states.seal(st)
	if err != nil {
		return err
	}
	d, err := Dialog(f, a.dialogURL(), state)
	if err != nil {
		return err
	}
	if _, err := a.call(ctx, "open dialog", retryRateLimit, a.opt.CallTimeout, func(ctx context.Context) (*model.Response, error) {
		return a.client.OpenInteractiveDialog(ctx, model.OpenDialogRequest{TriggerId: trigger, URL: a.dialogURL(), Dialog: d})
	}); err != nil {
		return err
	}
	a.log.Info("dialog opened", "user", user.ID, "channel", channel, "action", f.ActionID, "request_id", f.Value)
	return nil
}

// withForm opens rp's Form, if it has one, and returns the Reply left to
// show: without its Message once the dialog is open, with it (saying what
// to type instead) when it could not be.
func (a *Adapter) withForm(ctx context.Context, trigger, channel string, user bot.User, rp bot.Reply) bot.Reply {
	if rp.Form == nil || !a.Capabilities().Forms {
		return rp
	}
	if err := a.openDialog(ctx, trigger, channel, user, *rp.Form); err != nil {
		a.log.Warn("could not open a dialog; showing its message instead", "user", user.ID, "err", err)
		return rp
	}
	rp.Message, rp.Err = nil, nil
	return rp
}

// DialogHandler serves dialog submissions (DialogPath). A submission
// reaches h as a bot.Action with the form's action and value and the
// typed fields, by the user the API confirms. A refusal is shown in the
// dialog, on its first field, and the user may try again; anything else
// closes it and is shown to that user alone in the channel the dialog was
// opened from. A submission refused before h is reported to OnRefused
// and answered with a dialog error.
func (a *Adapter) DialogHandler(h bot.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer a.recoverTo(w, r, func(text string) any { return &model.SubmitDialogResponse{Error: text} })
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !a.fromServer(w, r, "dialog submission") {
			return
		}
		var req model.SubmitDialogRequest
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxInboundBody)).Decode(&req); err != nil {
			a.refuse(r.Context(), r, "dialog submission with an unreadable body")
			http.Error(w, "unreadable submission", http.StatusBadRequest)
			return
		}
		if a.cfg.ApproveBy == ApproveByCommand {
			a.refuse(r.Context(), r, "dialog submission while approve_by is command (dialogs decide nothing)")
			writeJSON(w, a.log, http.StatusOK, &model.SubmitDialogResponse{Error: "Decisions here are typed, so that Mattermost itself vouches for who decides. Type the command instead."})
			return
		}
		if req.Cancelled {
			writeJSON(w, a.log, http.StatusOK, &model.SubmitDialogResponse{})
			return
		}
		st, err := a.verifyDialog(&req)
		if err == nil {
			err = a.used.claim(st, a.opt.Now())
		}
		if err == nil {
			if err = a.firstSubmission(r.Context(), st, &req); err != nil {
				a.used.release(st)
			}
		}
		if err != nil {
			a.refuse(r.Context(), r, err.Error())
			text := "I could not verify this dialog, so nothing was done. Close it and start again, or type the command instead."
			if errors.Is(err, errReplayed) {
				text = "This dialog was already submitted with these values, so nothing was done again. Close it and start again if you need to."
			}
			writeJSON(w, a.log, http.StatusOK, &model.SubmitDialogResponse{Error: text})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.opt.HandlerTimeout)
		defer cancel()
		user, err := a.clicker(ctx, "dialog submission", req.UserId)
		if err != nil {
			a.used.release(st)
			text := "I could not confirm with Mattermost who submitted this, so nothing was done. Try again in a moment."
			if errors.Is(err, errClickerUnconfirmed) {
				a.refuse(ctx, r, err.Error())
				text = "I could not confirm who submitted this dialog, so nothing was done."
			} else {
				a.log.Error("could not confirm the user of a dialog submission", "request_id", st.Value, "user", req.UserId, "err", err)
			}
			writeJSON(w, a.log, http.StatusOK, &model.SubmitDialogResponse{Error: text})
			return
		}
		act := bot.Action{
			Platform: Platform, User: user, Message: bot.Ref{Channel: st.Channel},
			ActionID: st.Action, Value: st.Value, Fields: submittedFields(req.Submission),
		}
		a.log.Info("dialog submitted", "request_id", act.Value, "user", user.ID, "channel", st.Channel, "action", act.ActionID)
		rp := h.HandleAction(ctx, act)
		if rp.Refused && rp.Message != nil {
			a.used.release(st)
			text := truncateRunes(rp.WithApprovers().Text.PlainString(), maxDialogError)
			resp := &model.SubmitDialogResponse{Error: text}
			if st.Field != "" {
				resp = &model.SubmitDialogResponse{Errors: map[string]string{st.Field: text}}
			}
			writeJSON(w, a.log, http.StatusOK, resp)
			return
		}
		writeJSON(w, a.log, http.StatusOK, &model.SubmitDialogResponse{})
		if !rp.IsZero() || len(rp.Files) > 0 {
			// No response is left to carry it: shown to the user alone in
			// the dialog's channel, after the dialog closed.
			rp.Form = nil // a submission has no trigger_id to open another
			a.later(r.Context(), func(ctx context.Context) {
				if !rp.IsZero() {
					_ = a.Notify(ctx, st.Channel, user, a.replyNotice(ctx, rp))
				}
				a.sendFiles(ctx, user, rp.Files)
			})
		}
	})
}

// firstSubmission records this exact submission (its state and what was
// typed) in the Seen until the state expires, and refuses it if it was
// recorded before: with a Seen shared by the replicas, a submission
// replayed to another replica is refused there too (the per-process
// usedStates also refuses a state already accepted here with other
// values). A Seen that cannot be asked refuses: a replay let through is
// worse than a user asked to submit again.
func (a *Adapter) firstSubmission(ctx context.Context, st dialogState, req *model.SubmitDialogRequest) error {
	ttl := time.Unix(st.Expires, 0).Sub(a.opt.Now()) + time.Second
	ctx, cancel := context.WithTimeout(ctx, a.opt.CallTimeout)
	defer cancel()
	first, err := a.opt.Seen.FirstSeen(ctx, "mattermost/dialog/"+hex.EncodeToString(submissionKey(req)), ttl)
	switch {
	case err != nil:
		return fmt.Errorf("dialog submission not checked against replays, so refused: %w", err)
	case !first:
		return fmt.Errorf("%w (this exact submission was received before)", errReplayed)
	}
	return nil
}

// submissionKey identifies a submission for the replay check: a hash of
// its state and what was typed, field by field in name order (so the
// same values key the same however the JSON ordered them).
func submissionKey(req *model.SubmitDialogRequest) []byte {
	h := sha256.New()
	h.Write([]byte(req.State))
	names := make([]string, 0, len(req.Submission))
	for k := range req.Submission {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		fmt.Fprintf(h, "\x00%s\x00%v", k, req.Submission[k])
	}
	return h.Sum(nil)
}

// maxDialogError bounds an error shown in a dialog.
const maxDialogError = 500

// verifyDialog checks a submission's state against the request.
func (a *Adapter) verifyDialog(req *model.SubmitDialogRequest) (dialogState, error) {
	if !model.IsValidId(req.UserId) {
		return dialogState{}, errors.New("dialog submission without a valid user_id")
	}
	if req.CallbackId != DialogCallbackID {
		return dialogState{}, fmt.Errorf("dialog submission of a dialog this bot did not open (callback_id %q)", truncateRunes(req.CallbackId, 64))
	}
	st, err := a.states.unseal(req.State, a.opt.Now())
	if err != nil {
		return dialogState{}, err
	}
	if st.User != req.UserId {
		return dialogState{}, fmt.Errorf("dialog opened for %s submitted by %s", st.User, req.UserId)
	}
	return st, nil
}

// submittedFields are a submission's text values by element name; other
// kinds of values (this bot opens text fields only) are left out.
func submittedFields(sub map[string]any) map[string]string {
	out := make(map[string]string, len(sub))
	for k, v := range sub {
		if s, ok := v.(string); ok {
			out[k] = strings.TrimSpace(s)
		}
	}
	return out
}
