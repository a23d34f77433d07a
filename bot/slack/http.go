package slack

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Paths of the two HTTP endpoints, as the app manifest sets them.
const (
	PathCommands     = "/slack/commands"
	PathInteractions = "/slack/interactions"
)

// HTTPHandler serves both endpoints (PathCommands and PathInteractions)
// and hands what they receive to h.
func (a *Adapter) HTTPHandler(h bot.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(PathCommands, a.CommandsHandler(h))
	mux.Handle(PathInteractions, a.InteractionsHandler(h))
	return mux
}

// CommandsHandler serves slash commands: verified, then answered at once
// with 200 (the handler's Reply, if any, as an ephemeral message in the
// body).
func (a *Adapter) CommandsHandler(h bot.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := a.verified(w, r)
		if !ok {
			return
		}
		sc, err := parseSlashCommand(body)
		if err != nil {
			// Signed but unreadable: refused and audited like a forgery
			// (the reason never quotes the body).
			a.log.Debug("unreadable slash command", "err", err)
			a.refused(w, r, http.StatusBadRequest, "slash command with an unreadable form")
			return
		}
		a.commandHTTP(w, r, h, sc)
	})
}

// InteractionsHandler serves button clicks and form submissions:
// verified, then a click is acknowledged with an empty 200 (Slack ignores
// its body), the handler's Reply following through response_url; a form
// submission is answered within the ack budget (submission).
func (a *Adapter) InteractionsHandler(h bot.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, ok := a.verified(w, r)
		if !ok {
			return
		}
		// Parsed once, here, from the verified bytes: slack-go's parser
		// calls ParseForm, which keeps these instead of parsing the body
		// again and copying it. Slack sends no query parameters. A body
		// that does not parse is left to it.
		if form, err := url.ParseQuery(string(body)); err == nil {
			r.PostForm, r.Form = form, form
		}
		ic, err := slackgo.InteractionCallbackParse(r)
		if err != nil {
			a.log.Debug("unreadable interaction payload", "err", err)
			a.refused(w, r, http.StatusBadRequest, "interaction with an unreadable payload")
			return
		}
		if ic.Type == slackgo.InteractionTypeViewSubmission {
			// The answer keeps the modal open with an error on its field,
			// or (empty) closes it.
			if resp := a.submission(r.Context(), h, ic); resp != nil {
				writeJSON(w, resp)
				return
			}
			w.Header().Set("Content-Length", "0")
			w.WriteHeader(http.StatusOK)
			return
		}
		a.interaction(r.Context(), h, ic)
		w.WriteHeader(http.StatusOK)
	})
}

// verified reads the body (bounded) and checks the request came from
// Slack and was not seen before. Nothing is parsed before that beyond the
// headers the check needs. It returns the verified body (also left in
// r.Body); on failure it answers and returns false.
func (a *Adapter) verified(w http.ResponseWriter, r *http.Request) ([]byte, bool) {
	if r.Method == http.MethodGet && r.URL.Query().Get("ssl_check") == "1" {
		// Slack's certificate check: nothing to do but answer.
		w.WriteHeader(http.StatusOK)
		return nil, false
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		a.refused(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return nil, false
	}
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/x-www-form-urlencoded" {
		a.refused(w, r, http.StatusUnsupportedMediaType, "content type is not application/x-www-form-urlencoded")
		return nil, false
	}
	if r.ContentLength > a.opt.maxBody {
		a.refused(w, r, http.StatusRequestEntityTooLarge, "body larger than the limit")
		return nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.opt.maxBody))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			a.refused(w, r, http.StatusRequestEntityTooLarge, "body larger than the limit")
		} else {
			a.refused(w, r, http.StatusBadRequest, "body could not be read")
		}
		return nil, false
	}
	if a.verifier == nil {
		// Fail closed: without a signing secret nothing can be trusted.
		a.refused(w, r, http.StatusUnauthorized, "no signing secret configured")
		return nil, false
	}
	s, err := a.verifier.Verify(r.Header, body)
	if err != nil {
		a.refused(w, r, http.StatusUnauthorized, "signature: "+err.Error())
		return nil, false
	}
	if err := a.firstSeen(r.Context(), keySignature+s.Signature, a.signatureTTL(s)); err != nil {
		if errors.Is(err, ErrReplayCheck) {
			// Not the request's fault: nothing to audit as a refusal.
			// Slack shows the user an error; typing it again is safe.
			a.log.Error("inbound request refused: cannot tell whether it is a replay", "path", r.URL.Path, "err", err)
			http.Error(w, http.StatusText(http.StatusServiceUnavailable), http.StatusServiceUnavailable)
			return nil, false
		}
		status := http.StatusUnauthorized
		if errors.Is(err, ErrReplaysFull) {
			status = http.StatusServiceUnavailable
		}
		a.refused(w, r, status, err.Error())
		return nil, false
	}
	r.Body = io.NopCloser(bytes.NewReader(body))
	return body, true
}

// refused answers a refused request, logs it and tells the audit hook.
// The reason never contains the body, a signature or a secret.
func (a *Adapter) refused(w http.ResponseWriter, r *http.Request, status int, reason string) {
	a.log.Warn("refused inbound request", "path", r.URL.Path, "status", status, "reason", reason, "remote", r.RemoteAddr)
	if a.opt.onRefused != nil {
		a.opt.onRefused(r.Context(), reason, r)
	}
	http.Error(w, http.StatusText(status), status)
}

// slashResponse is the immediate answer to a slash command.
type slashResponse struct {
	ResponseType string          `json:"response_type"`
	Text         string          `json:"text"`
	Blocks       []slackgo.Block `json:"blocks,omitempty"`
}

func ephemeralBody(m bot.Message) slashResponse {
	r := Render(m)
	return slashResponse{ResponseType: slackgo.ResponseTypeEphemeral, Text: r.Text, Blocks: r.Blocks}
}

func writeJSON(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	// A known length lets an early Flush complete the response (no
	// chunked encoding waiting for the handler to return).
	w.Header().Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(b)
}
