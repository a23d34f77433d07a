// Package webhookchat is a chat adapter for a plain webhook chat, the
// proof that a platform is one folder: it lives here, imports only bot,
// and passes bottest.RunAdapterSuite with no change outside this folder.
//
// The platform is the simplest there is, in Rocket.Chat's shapes:
//   - outgoing webhook (platform → bot): a POST of JSON {token,
//     channel_id, channel_name, user_id, user_name, text, message_id}
//     for every message starting with the trigger word, signed with
//     X-Webhook-Signature: sha256=HEX(HMAC-SHA256(secret, body)); the
//     JSON answer {"text": …} is shown in the channel;
//   - incoming webhook (bot → platform): a POST of JSON {channel, text,
//     tmid} (tmid: the root of the thread), answered with
//     {"success": true, "message": {"_id": …}}.
//
// The Adapter is a bot.Adapter and bot.HTTPServed (the program mounts its
// endpoint like Slack's), built from a bot.Setup by NewAdapter as serve
// builds every adapter. It has no edits, files, buttons or ephemeral posts: the router degrades
// (an update is posted anew in the thread, a file as an excerpt, a button
// as the command to type, a note for one user as a post naming them), and
// the adapter refuses those calls rather than drop a message.
package webhookchat

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Platform is the adapter's platform name.
const Platform = "webhook"

// SignatureHeader carries the outgoing webhook's HMAC.
const SignatureHeader = "X-Webhook-Signature"

// maxBody bounds an inbound webhook; a command is a line of text.
const maxBody = 64 << 10

// Config is where the adapter posts and how it checks what comes in.
type Config struct {
	// IncomingURL is the platform's incoming webhook.
	IncomingURL string
	// Secret signs outgoing webhooks; Token is the integration's token,
	// which each of them also carries.
	Secret, Token string
	// Trigger is the word commands start with (default /gitlab-migrations).
	Trigger string
	// Listen is a listener of the adapter's own for the outgoing webhook
	// (host:port), or "" for the program's main one.
	Listen string
}

// Adapter implements bot.Chat over the two webhooks.
type Adapter struct {
	cfg    Config
	client *http.Client
	log    *slog.Logger
	// refused is told about every inbound request refused before it was
	// parsed (bot.Setup.OnRefused); nil: nobody.
	refused func(ctx context.Context, reason string, r *http.Request)

	mu      sync.Mutex
	replies map[string]string // reply ID -> its root
}

var (
	_ bot.Chat       = (*Adapter)(nil)
	_ bot.Adapter    = (*Adapter)(nil)
	_ bot.Capable    = (*Adapter)(nil)
	_ bot.HTTPServed = (*Adapter)(nil)
)

// capabilities: a plain webhook chat has threads and nothing else.
var capabilities = bot.Capabilities{Threads: true}

// NewAdapter is New with the program's Setup, as serve builds every
// adapter (its logger and refusal hook).
func NewAdapter(cfg Config, s bot.Setup) (*Adapter, error) {
	a, err := New(cfg, nil, s.Logger)
	if err != nil {
		return nil, err
	}
	a.refused = s.OnRefused
	return a, nil
}

// New checks cfg and returns an adapter posting through client.
func New(cfg Config, client *http.Client, log *slog.Logger) (*Adapter, error) {
	if cfg.IncomingURL == "" || cfg.Secret == "" || cfg.Token == "" {
		return nil, errors.New("webhookchat: incoming URL, secret and token are all required; without the last two nothing inbound can be trusted")
	}
	if cfg.Trigger == "" {
		cfg.Trigger = "/gitlab-migrations"
	}
	if client == nil {
		client = &http.Client{Timeout: 30 * time.Second}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Adapter{cfg: cfg, client: client, log: log, replies: map[string]string{}}, nil
}

// Platform implements bot.Chat.
func (a *Adapter) Platform() string { return Platform }

// Name implements bot.Adapter.
func (a *Adapter) Name() string { return Platform }

// Chat implements bot.Adapter.
func (a *Adapter) Chat() bot.Chat { return a }

// Groups implements bot.Adapter: the platform has no groups.
func (a *Adapter) Groups() bot.GroupResolver { return nil }

// Capabilities implements bot.Adapter and bot.Capable.
func (a *Adapter) Capabilities() bot.Capabilities { return capabilities }

// Run implements bot.Adapter. The input arrives on HTTPHandler, which
// the program mounts (bot.HTTPServed); Run only waits for ctx.
func (a *Adapter) Run(ctx context.Context, _ bot.Handler) error {
	<-ctx.Done()
	return nil
}

// CommandPath is where the outgoing webhook posts (under HTTPPrefix).
const CommandPath = "/webhook/command"

// HTTPPrefix implements bot.HTTPServed.
func (a *Adapter) HTTPPrefix() string { return "/webhook/" }

// HTTPListen implements bot.HTTPServed: Config.Listen, or "" for the
// program's main listener.
func (a *Adapter) HTTPListen() string { return a.cfg.Listen }

// HTTPHandler implements bot.HTTPServed: CommandPath, through Handler.
func (a *Adapter) HTTPHandler(h bot.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle(CommandPath, a.Handler(h))
	return mux
}

// outgoing is the platform's outgoing webhook body.
type outgoing struct {
	Token       string `json:"token"`
	ChannelID   string `json:"channel_id"`
	ChannelName string `json:"channel_name"`
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	Text        string `json:"text"`
	MessageID   string `json:"message_id"`
}

// Handler serves the outgoing webhook: the signature is checked on the
// raw bytes before anything is parsed, then the token, then the command
// goes to h and its refusal, if any, is the answer.
func (a *Adapter) Handler(h bot.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost {
			http.Error(w, "POST only", http.StatusMethodNotAllowed)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
		if err != nil {
			http.Error(w, "body too large or unreadable", http.StatusRequestEntityTooLarge)
			return
		}
		if !a.signed(r.Header.Get(SignatureHeader), body) {
			a.refuse(r, "bad signature")
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var in outgoing
		if err := json.Unmarshal(body, &in); err != nil {
			http.Error(w, "unreadable JSON", http.StatusBadRequest)
			return
		}
		if subtle.ConstantTimeCompare([]byte(in.Token), []byte(a.cfg.Token)) != 1 {
			a.refuse(r, "bad token")
			http.Error(w, "bad token", http.StatusUnauthorized)
			return
		}
		text, ok := strings.CutPrefix(strings.TrimSpace(in.Text), a.cfg.Trigger)
		if !ok || in.UserID == "" || in.ChannelID == "" {
			http.Error(w, "not a command", http.StatusBadRequest)
			return
		}
		cmd := bot.Command{Platform: Platform, User: bot.User{ID: in.UserID, Name: in.UserName}, Channel: in.ChannelID, Text: strings.TrimSpace(text)}
		w.Header().Set("Content-Type", "application/json")
		if rp := h.HandleCommand(r.Context(), cmd); !rp.IsZero() {
			if rp.Err != nil {
				a.log.Error("handler failed", "err", rp.Err)
			}
			m := rp.WithApprovers()
			_ = json.NewEncoder(w).Encode(map[string]string{"text": mention(in.UserName) + " " + Render(m)})
			return
		}
		_, _ = io.WriteString(w, "{}")
	})
}

// refuse logs a refused webhook and tells the refusal hook; reason never
// holds a secret or the body.
func (a *Adapter) refuse(r *http.Request, reason string) {
	a.log.Warn("refused outgoing webhook", "reason", reason, "remote", r.RemoteAddr)
	if a.refused != nil {
		a.refused(r.Context(), reason, r)
	}
}

func (a *Adapter) signed(header string, body []byte) bool {
	got, ok := strings.CutPrefix(header, "sha256=")
	if !ok {
		return false
	}
	sig, err := hex.DecodeString(got)
	if err != nil {
		return false
	}
	m := hmac.New(sha256.New, []byte(a.cfg.Secret))
	m.Write(body)
	return hmac.Equal(sig, m.Sum(nil))
}

// Sign is the signature header value of body (for the platform's side,
// and tests).
func Sign(secret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// post sends one message through the incoming webhook.
func (a *Adapter) post(ctx context.Context, channel, root, text string) (bot.Ref, error) {
	body, err := json.Marshal(map[string]string{"channel": channel, "text": text, "tmid": root})
	if err != nil {
		return bot.Ref{}, fmt.Errorf("webhookchat: encoding a post: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.cfg.IncomingURL, bytes.NewReader(body))
	if err != nil {
		return bot.Ref{}, fmt.Errorf("webhookchat: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := a.client.Do(req)
	if err != nil {
		return bot.Ref{}, fmt.Errorf("webhookchat: posting: %w", err)
	}
	defer resp.Body.Close()
	var out struct {
		Success bool   `json:"success"`
		Error   string `json:"error"`
		Message struct {
			ID string `json:"_id"`
		} `json:"message"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&out); err != nil {
		return bot.Ref{}, fmt.Errorf("webhookchat: incoming webhook answered %s with no JSON: %w", resp.Status, err)
	}
	if !out.Success || out.Message.ID == "" {
		return bot.Ref{}, fmt.Errorf("webhookchat: incoming webhook refused the post (%s): %s", resp.Status, out.Error)
	}
	return bot.Ref{Channel: channel, ID: out.Message.ID}, nil
}

// PostRoot implements bot.Chat.
func (a *Adapter) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.Ref, error) {
	return a.post(ctx, channel, "", Render(m))
}

// Reply implements bot.Chat; a reply under a reply is refused.
func (a *Adapter) Reply(ctx context.Context, root bot.Ref, m bot.Message) (bot.Ref, error) {
	a.mu.Lock()
	_, isReply := a.replies[root.ID]
	a.mu.Unlock()
	if root.IsZero() || isReply {
		return bot.Ref{}, fmt.Errorf("webhookchat: %q is not a root post; replies go under the root", root.ID)
	}
	ref, err := a.post(ctx, root.Channel, root.ID, Render(m))
	if err == nil {
		a.mu.Lock()
		a.replies[ref.ID] = root.ID
		a.mu.Unlock()
	}
	return ref, err
}

// The platform cannot edit, attach files or show a note to one user; its
// Capabilities say so, and the router degrades instead of calling these
// (commands/degrade.go). Should anything call them anyway, they refuse
// rather than drop the message.

// Update implements bot.Chat: the platform cannot edit.
func (a *Adapter) Update(context.Context, bot.Ref, bot.Message) error {
	return fmt.Errorf("webhookchat: the platform cannot edit a post: %w", errors.ErrUnsupported)
}

// Upload implements bot.Chat: the platform takes no files.
func (a *Adapter) Upload(context.Context, bot.Ref, bot.File, string) error {
	return fmt.Errorf("webhookchat: the platform takes no files: %w", errors.ErrUnsupported)
}

// Notify implements bot.Chat: the platform has no ephemeral posts.
func (a *Adapter) Notify(context.Context, string, bot.User, bot.Message) error {
	return fmt.Errorf("webhookchat: the platform cannot show a post to one user: %w", errors.ErrUnsupported)
}

func mention(name string) string { return "@" + name }
