package mattermost

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"net/http"
	"strings"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// CommandHandler serves the custom slash command. The token is checked
// before anything else of the request is looked at. A command that
// decides as its user (decision: approve, deny, review, enroll) must also
// come from Config.CallbackSources (403 otherwise), and its user must be
// confirmed by the API like a clicker (exists, active, not a bot; the
// name is the API's): the token alone is not proof of who decides. The
// command then goes to h, whose refusal, and whatever it shows the user
// alone meanwhile, comes back as an ephemeral command response; a Reply's
// Form is opened as a dialog instead (dialog.go), and its Files follow by
// direct message (direct.go). Everything slow runs in the router's
// background, so the answer comes well inside Mattermost's timeout (30 s
// by default).
func (a *Adapter) CommandHandler(h bot.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer a.recoverTo(w, r, func(text string) any {
			return &model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: text, SkipSlackParsing: true}
		})
		if r.Method != http.MethodPost && r.Method != http.MethodGet {
			w.Header().Set("Allow", "POST, GET")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, maxInboundBody)
		if !a.validCommandToken(r) {
			a.refuse(r.Context(), r, "slash command without a valid command token")
			http.Error(w, "invalid command token", http.StatusUnauthorized)
			return
		}
		if err := r.ParseForm(); err != nil {
			a.refuse(r.Context(), r, "slash command with an unreadable form")
			http.Error(w, "unreadable form", http.StatusBadRequest)
			return
		}
		cmd := bot.Command{
			Platform: Platform,
			User:     bot.User{ID: r.Form.Get("user_id"), Name: r.Form.Get("user_name")},
			Channel:  r.Form.Get("channel_id"),
			Text:     strings.TrimSpace(r.Form.Get("text")),
		}
		if !model.IsValidId(cmd.User.ID) || !model.IsValidId(cmd.Channel) {
			a.refuse(r.Context(), r, "slash command without a valid user_id or channel_id")
			http.Error(w, "user_id and channel_id are required", http.StatusBadRequest)
			return
		}
		if cmd.User.Name == "" {
			cmd.User.Name = cmd.User.ID
		}
		decides := decision(cmd.Text)
		if decides && !a.fromServer(w, r, "slash command approve/deny") {
			return
		}
		ctx, cancel := context.WithTimeout(r.Context(), a.opt.HandlerTimeout)
		defer cancel()
		if decides {
			user, err := a.clicker(ctx, "slash command", cmd.User.ID)
			if err != nil {
				text := "I could not confirm with Mattermost who typed this, so nothing was decided. Try again in a moment."
				if errors.Is(err, errClickerUnconfirmed) {
					a.refuse(ctx, r, err.Error())
					text = "I could not confirm who typed this command, so nothing was decided."
				} else {
					a.log.Error("could not confirm the user of a slash command", "user", cmd.User.ID, "err", err)
				}
				writeJSON(w, a.log, http.StatusOK, &model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, Text: text, SkipSlackParsing: true})
				return
			}
			cmd.User = user
		}
		rp := a.withForm(ctx, r.Form.Get("trigger_id"), cmd.Channel, cmd.User, h.HandleCommand(ctx, cmd))
		var msgs []bot.Message
		if !rp.IsZero() {
			if rp.Refused || rp.Err != nil {
				a.log.Info("command refused", "user", cmd.User.ID, "channel", cmd.Channel, "text", rp.Message.Text)
			}
			msgs = append(msgs, a.replyNotice(ctx, rp))
		}
		writeJSON(w, a.log, http.StatusOK, a.commandResponse(ctx, msgs))
		if len(rp.Files) > 0 {
			a.later(r.Context(), func(ctx context.Context) { a.sendFiles(ctx, cmd.User, rp.Files) })
		}
	})
}

// validCommandToken compares the request's token with every configured
// one in constant time. Mattermost sends it as `Authorization: Token …`,
// which is read without touching the body; only without that header is
// the form parsed, for its token field alone. Hashing first keeps even the
// token's length from timing.
func (a *Adapter) validCommandToken(r *http.Request) bool {
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Token ")
	if !ok {
		if err := r.ParseForm(); err != nil {
			return false
		}
		got = r.Form.Get("token")
	}
	if got == "" {
		return false
	}
	sum := sha256.Sum256([]byte(got))
	match := 0
	for _, t := range a.tokens {
		match |= subtle.ConstantTimeCompare(sum[:], t[:])
	}
	return match == 1
}

func hashTokens(tokens []string) [][32]byte {
	out := make([][32]byte, len(tokens))
	for i, t := range tokens {
		out[i] = sha256.Sum256([]byte(t))
	}
	return out
}

// commandResponse turns what the user alone should see into one ephemeral
// response, extra messages as extra responses. With nothing to show the
// response is empty and Mattermost posts nothing: the bot's own root post
// is the visible answer.
func (a *Adapter) commandResponse(ctx context.Context, msgs []bot.Message) *model.CommandResponse {
	resp := &model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, SkipSlackParsing: true}
	for i, m := range msgs {
		m.Buttons = nil // ephemeral posts are never edited, so they carry no buttons
		r := renderMessage(m, a.people(ctx, m), nil)
		one := resp
		if i > 0 {
			one = &model.CommandResponse{ResponseType: model.CommandResponseTypeEphemeral, SkipSlackParsing: true}
			resp.ExtraResponses = append(resp.ExtraResponses, one)
		}
		one.Text, one.Attachments = r.message, r.attachments
	}
	return resp
}

// replyNotice is how a handler's Reply looks to the user who typed or
// clicked: its message, and after a refusal that names who may approve
// instead, who that is with @user and ~channel. The bot's own failure is
// logged here (the Reply shows bot.FailedText only).
func (a *Adapter) replyNotice(ctx context.Context, rp bot.Reply) bot.Message {
	if rp.Err != nil {
		a.log.Error("handler failed", "err", rp.Err)
	}
	// Mention spans: people() resolves them to @user and ~channel.
	return rp.WithApprovers()
}

// decision reports whether text may decide something as its user, so
// that the server must vouch for who typed it: approve or deny a request,
// acknowledge a review, or enroll (whose answer, the user's new
// authenticator secret, goes to whoever sent the request: with a leaked
// command token alone, someone could otherwise enroll as anybody and read
// the secret). It is whether any of its words is one of those
// subcommands, in any case. It errs on the side of checking: the grammar
// skips a shell prompt and comment lines ("# note\napprove ID" approves),
// so looking at the first word alone would let such a decision past the
// checks; a reason that merely mentions "approve" is checked too, which
// costs one API call.
func decision(text string) bool {
	for _, w := range strings.Fields(text) {
		switch strings.ToLower(w) {
		case "approve", "deny", "enroll", "review":
			return true
		}
	}
	return false
}
