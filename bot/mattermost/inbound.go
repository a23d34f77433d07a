package mattermost

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// maxInboundBody bounds what is read of a slash command or callback; both
// are small forms or JSON documents.
const maxInboundBody = 64 << 10

// HTTPHandler serves CommandPath, ActionsPath and DialogPath, handing verified
// requests to h. Mount it on a listener the Mattermost server can reach
// (Config.Listen); nothing else needs to reach it.
func (a *Adapter) HTTPHandler(h bot.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(CommandPath, a.CommandHandler(h))
	mux.Handle(ActionsPath, a.ActionHandler(h))
	mux.Handle(DialogPath, a.DialogHandler(h))
	return mux
}

// refuse reports a request refused before it reached the bot.Handler: a
// warning in the log (never a secret) and the OnRefused hook.
func (a *Adapter) refuse(ctx context.Context, r *http.Request, reason string) {
	a.log.Warn("refused an inbound request", "path", r.URL.Path, "remote", r.RemoteAddr, "reason", reason)
	if a.opt.OnRefused != nil {
		a.opt.OnRefused(ctx, reason, r)
	}
}

func writeJSON(w http.ResponseWriter, log *slog.Logger, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if err := json.NewEncoder(w).Encode(v); err != nil {
		log.Warn("writing a response to Mattermost", "err", err)
	}
}

// recoverTo answers if a handler below panics, so one bad request cannot
// take the listener's goroutine down. The handlers write their answer
// last, so nothing is written yet: the user is told, as an ephemeral
// answer (answer builds it from bot.FailedText), rather than seeing
// Mattermost's bare "returned response 500".
func (a *Adapter) recoverTo(w http.ResponseWriter, r *http.Request, answer func(string) any) {
	if p := recover(); p != nil {
		a.log.Error("panic while handling an inbound request", "path", r.URL.Path, "panic", p)
		writeJSON(w, a.log, http.StatusOK, answer(bot.FailedText))
	}
}
