package mattermost

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// ActionHandler serves the button callback (Config.CallbackURL). Mattermost
// signs nothing here and anyone who reaches the URL can post any body, so a
// click reaches h only when its context carries a valid HMAC over the
// request ID, the action, and the post and channel the callback names. The
// clicker is the callback's user_id, which the server fills in from the
// clicker's session.
//
// The answer is always HTTP 200 with JSON: Mattermost shows any other
// status as a bare error, and ephemeral_text is the only way to tell the
// clicker why nothing happened (say, after the action secret was rotated).
// A refusal before h is also reported to OnRefused.
func (a *Adapter) ActionHandler(h bot.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer a.recoverTo(w, r)
		if r.Method != http.MethodPost {
			w.Header().Set("Allow", "POST")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
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
		ctx, cancel := context.WithTimeout(r.Context(), a.opt.HandlerTimeout)
		defer cancel()
		reply := &syncReply{channel: act.Message.Channel, user: act.User.ID}
		err := h.HandleAction(withSync(ctx, reply), a, act)
		var texts []string
		if err != nil {
			a.log.Info("button click refused", "user", act.User.ID, "post", act.Message.ID, "action", act.ActionID, "err", err)
			texts = append(texts, markdownText(errorNotice(err), nil))
		}
		for _, m := range reply.close() {
			texts = append(texts, markdownText(m, a.mentions(ctx, m.Mentions)))
		}
		writeJSON(w, a.log, http.StatusOK, &model.PostActionIntegrationResponse{
			EphemeralText:    truncateRunes(strings.Join(texts, "\n\n"), maxMessageRunes),
			SkipSlackParsing: true,
		})
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
	name := req.UserName
	if name == "" {
		name = req.UserId
	}
	return bot.Action{
		Platform: Platform,
		User:     bot.User{ID: req.UserId, Name: name},
		Message:  bot.Ref{Channel: req.ChannelId, ID: req.PostId},
		ActionID: action,
		Value:    requestID,
	}, ""
}
