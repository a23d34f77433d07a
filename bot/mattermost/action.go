package mattermost

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// ActionHandler serves the button callback (Config.CallbackURL). Mattermost
// signs nothing here and anyone who reaches the URL can post any body, so
// a click reaches h only when
//   - it comes from one of the Mattermost server's addresses
//     (Config.CallbackSources; anything else gets 403, see sources.go);
//   - its context carries a valid HMAC over the request ID, the action, and
//     the post and channel the callback names (sign.go);
//   - the user it names exists, is active and is not a bot, as the API
//     says (clicker.go); the name shown is the API's, not the callback's.
//
// With Config.ApproveBy "command" a verified click decides nothing: it
// answers with the command to type, whose user Mattermost fills in itself.
//
// Otherwise the answer is always HTTP 200 with JSON: Mattermost shows any
// other status as a bare error, and ephemeral_text is the only way to tell
// the clicker why nothing happened (say, after the action secret was
// rotated). A refusal before h is also reported to OnRefused.
func (a *Adapter) ActionHandler(h bot.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer a.recoverTo(w, r, func(text string) any {
			return &model.PostActionIntegrationResponse{EphemeralText: text, SkipSlackParsing: true}
		})
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if !a.fromServer(w, r, "button callback") {
			return
		}
		var req model.PostActionIntegrationRequest
		dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxInboundBody))
		if err := dec.Decode(&req); err != nil {
			a.refuse(r.Context(), r, "button callback with an unreadable body")
			http.Error(w, "unreadable callback", http.StatusBadRequest)
			return
		}
		act, reason := a.verifyAction(&req)
		if reason != "" {
			a.refuse(r.Context(), r, reason)
			writeJSON(w, a.log, http.StatusOK, &model.PostActionIntegrationResponse{
				EphemeralText: "I could not verify this button, so nothing was done. If it is an old message, type the command instead (`/gitlab-migrations approve ID` or `deny ID`).",
			})
			return
		}
		if a.cfg.ApproveBy == ApproveByCommand {
			writeJSON(w, a.log, http.StatusOK, &model.PostActionIntegrationResponse{
				EphemeralText:    typeInstead(act),
				SkipSlackParsing: true,
			})
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.opt.HandlerTimeout)
		defer cancel()
		user, err := a.clicker(ctx, "button callback", act.User.ID)
		if err != nil {
			text := "I could not confirm with Mattermost who clicked, so nothing was done. Try again in a moment, or type the command instead (`/gitlab-migrations " + act.ActionID + " " + act.Value + "`)."
			if errors.Is(err, errClickerUnconfirmed) {
				a.refuse(ctx, r, err.Error())
				text = "I could not confirm who clicked this button, so nothing was done."
			} else {
				a.log.Error("could not confirm the clicker of a button", "request_id", act.Value, "user", act.User.ID, "post", act.Message.ID, "err", err)
			}
			writeJSON(w, a.log, http.StatusOK, &model.PostActionIntegrationResponse{EphemeralText: text, SkipSlackParsing: true})
			return
		}
		act.User = user
		rp := a.withForm(ctx, req.TriggerId, act.Message.Channel, act.User, h.HandleAction(ctx, act))
		var texts []string
		if !rp.IsZero() {
			if rp.Refused || rp.Err != nil {
				a.log.Info("button click refused", "request_id", act.Value, "user", act.User.ID, "post", act.Message.ID, "action", act.ActionID, "text", rp.Message.Text.String())
			}
			m := a.replyNotice(ctx, rp)
			texts = append(texts, markdownText(m, a.people(ctx, m)))
		}
		writeJSON(w, a.log, http.StatusOK, &model.PostActionIntegrationResponse{
			EphemeralText:    noSlackLinks(truncateRunes(strings.Join(texts, "\n\n"), maxMessageRunes)),
			SkipSlackParsing: true,
		})
		if len(rp.Files) > 0 {
			a.later(r.Context(), func(ctx context.Context) { a.sendFiles(ctx, act.User, rp.Files) })
		}
	})
}

// verifyAction checks a callback and turns it into a bot.Action; reason
// says why it was refused ("" when it was not).
func (a *Adapter) verifyAction(req *model.PostActionIntegrationRequest) (bot.Action, string) {
	if !model.IsValidId(req.UserId) || !model.IsValidId(req.PostId) || !model.IsValidId(req.ChannelId) {
		return bot.Action{}, "button callback without a valid user_id, post_id or channel_id"
	}
	requestID, _ := req.Context[ctxRequest].(string)
	action, _ := req.Context[ctxAction].(string)
	sig, _ := req.Context[ctxSig].(string)
	switch {
	case sig == "":
		return bot.Action{}, "button callback without a signature"
	case requestID == "" || !isAlnum(action):
		return bot.Action{}, "button callback without a request ID or action"
	case !a.signer.verify(sig, requestID, action, req.PostId, req.ChannelId):
		return bot.Action{}, "button callback whose signature does not match its request, action, post and channel"
	}
	// The user is only named here; the name comes from the API once the
	// clicker is confirmed (clicker.go), never from req.UserName.
	return bot.Action{
		Platform: Platform,
		User:     bot.User{ID: req.UserId},
		Message:  bot.Ref{Channel: req.ChannelId, ID: req.PostId},
		ActionID: action,
		Value:    requestID,
	}, ""
}

// typeInstead is the answer to a click when approvals are typed
// (Config.ApproveBy "command"): the slash command is authenticated by its
// token, and Mattermost itself fills in who typed it.
func typeInstead(act bot.Action) string {
	return fmt.Sprintf("Decisions here are typed, so that Mattermost itself vouches for who decides. Type `/gitlab-migrations %s %s`.", act.ActionID, act.Value)
}
