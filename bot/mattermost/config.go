package mattermost

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Platform is the adapter's platform name, as bot.Command.Platform and
// bot.Chat.Platform report it.
const Platform = "mattermost"

// The paths HTTPHandler serves. Point the custom slash command at
// CommandPath and Config.CallbackURL at ActionsPath.
const (
	CommandPath = "/mattermost/command"
	ActionsPath = "/mattermost/actions"
)

// minSecretLen is the shortest action secret accepted: 32 bytes, e.g. the
// output of `openssl rand -hex 32` (64 characters) comfortably exceeds it.
const minSecretLen = 32

// Config is what an operator configures, the `mattermost:` section of the
// bot's YAML. Secrets are never logged (see LogValue).
type Config struct {
	// URL is the Mattermost server as the bot reaches it, e.g.
	// https://mattermost.example.com. API calls go to URL/api/v4.
	URL string `yaml:"url" json:"url"`
	// BotToken is the bot account's access token.
	BotToken string `yaml:"bot_token" json:"-"`
	// CommandTokens are the tokens of the custom slash commands that point
	// at this bot, one per configured command (Mattermost gives each
	// command its own token). A request must carry one of them.
	CommandTokens []string `yaml:"command_tokens" json:"-"`
	// ActionSecret keys the HMAC carried by every button; at least 32
	// bytes. Changing it invalidates the buttons already posted (typed
	// approvals keep working).
	ActionSecret string `yaml:"action_secret" json:"-"`
	// CallbackURL is ActionsPath as the Mattermost server reaches the bot,
	// e.g. https://chatops.internal:8443/mattermost/actions.
	CallbackURL string `yaml:"callback_url" json:"callback_url"`
	// Listen, when set, is a listener of its own for HTTPHandler (e.g.
	// ":8443"), so that it can be firewalled to the Mattermost server
	// alone. Empty (the default): the endpoints are on serve's one
	// listener (the top-level listen:). The adapter itself does not listen.
	Listen string `yaml:"listen" json:"listen"`
	// NotifyFallback says what Notify does when no synchronous response is
	// available and the bot may not post ephemeral messages: "dm" (the
	// default) sends the message as a direct message from the bot, "none"
	// returns the error.
	NotifyFallback string `yaml:"notify_fallback" json:"notify_fallback"`
	// CallbackSources are the addresses button callbacks may come from,
	// as IPs or CIDRs (e.g. 10.0.4.7 or 10.0.4.0/24): the Mattermost
	// server's addresses as the bot's listener sees them. Empty means the
	// addresses URL's host resolves to when the bot starts. Callbacks from
	// anywhere else get 403. Behind a proxy, list the proxy.
	CallbackSources []string `yaml:"callback_sources" json:"callback_sources"`
	// ApproveBy is how approvals and denials are given: "button" (the
	// default) accepts clicks on Approve and Deny; "command" makes a click
	// answer with the command to type (`/gitlab-migrations approve ID`),
	// so that only the token-authenticated slash command, whose user the
	// server fills in, decides.
	ApproveBy string `yaml:"approve_by" json:"approve_by"`
}

// Environment variables that Config.FromEnv reads; the YAML wins where
// both are set.
const (
	EnvBotToken      = "MATTERMOST_BOT_TOKEN"
	EnvCommandTokens = "MATTERMOST_COMMAND_TOKENS" // comma-separated
	EnvActionSecret  = "MATTERMOST_ACTION_SECRET"
)

// FromEnv returns c with empty secrets filled from the environment (getenv
// is os.Getenv in production; tests pass a map lookup), as
// docs/mattermost.md describes.
func (c Config) FromEnv(getenv func(string) string) Config {
	if c.BotToken == "" {
		c.BotToken = getenv(EnvBotToken)
	}
	if len(c.CommandTokens) == 0 && getenv(EnvCommandTokens) != "" {
		for _, t := range strings.Split(getenv(EnvCommandTokens), ",") {
			if t = strings.TrimSpace(t); t != "" {
				c.CommandTokens = append(c.CommandTokens, t)
			}
		}
	}
	if c.ActionSecret == "" {
		c.ActionSecret = getenv(EnvActionSecret)
	}
	return c
}

// The values of Config.ApproveBy.
const (
	ApproveByButton  = "button"
	ApproveByCommand = "command"
)

// LogValue implements slog.LogValuer: the configuration without secrets.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("url", c.URL),
		slog.String("callback_url", c.CallbackURL),
		slog.String("listen", c.Listen),
		slog.Int("command_tokens", len(c.CommandTokens)),
		slog.Bool("bot_token_set", c.BotToken != ""),
		slog.Bool("action_secret_set", c.ActionSecret != ""),
		slog.String("notify_fallback", c.NotifyFallback),
		slog.Any("callback_sources", c.CallbackSources),
		slog.String("approve_by", c.ApproveBy),
	)
}

// Validate reports every problem with c, in words that say what to fix.
func (c Config) Validate() error {
	var p bot.ConfigErrors
	c.Check(&p, "mattermost")
	return p.Err()
}

// Check records every problem with c in p, under the key path of the
// mattermost section. No message quotes a token or the action secret.
func (c Config) Check(p bot.ConfigProblems, path string) {
	key := func(k string) string { return bot.ConfigKey(path, k) }
	if c.URL == "" {
		p.Addf(key("url"), "missing: the Mattermost server, e.g. https://mattermost.example.com")
	} else if u, err := url.Parse(c.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		p.Addf(key("url"), "%q is not an http(s) URL of the Mattermost server, e.g. https://mattermost.example.com", c.URL)
	}
	if strings.TrimSpace(c.BotToken) == "" {
		p.Addf(key("bot_token"), "missing (set it or MATTERMOST_BOT_TOKEN): create a bot account and give it a token (System Console > Integrations > Bot Accounts)")
	}
	if len(c.CommandTokens) == 0 {
		p.Addf(key("command_tokens"), "missing (set it or MATTERMOST_COMMAND_TOKENS): add the token Mattermost shows for the custom slash command")
	}
	for i, t := range c.CommandTokens {
		if strings.TrimSpace(t) == "" {
			p.Addf(bot.ConfigIndex(key("command_tokens"), i), "is empty")
		}
	}
	switch n := len(c.ActionSecret); {
	case n == 0:
		p.Addf(key("action_secret"), "missing (set it or MATTERMOST_ACTION_SECRET): at least %d random bytes, e.g. the output of `openssl rand -hex 32`", minSecretLen)
	case n < minSecretLen:
		p.Addf(key("action_secret"), "has %d bytes; it needs at least %d random bytes, e.g. the output of `openssl rand -hex 32`", n, minSecretLen)
	}
	if c.CallbackURL == "" {
		p.Addf(key("callback_url"), "missing: %s on this bot as the Mattermost server reaches it, e.g. https://chatops.internal:8443%s", ActionsPath, ActionsPath)
	} else if !model.IsValidHTTPURL(c.CallbackURL) {
		p.Addf(key("callback_url"), "%q is not an http(s) URL; it is %s on this bot as the Mattermost server reaches it", c.CallbackURL, ActionsPath)
	}
	if c.Listen != "" {
		p.ListenAddress(key("listen"), c.Listen, ":8443")
	}
	switch c.NotifyFallback {
	case "", "dm", "none":
	default:
		p.Addf(key("notify_fallback"), "%q is not one of dm, none", c.NotifyFallback)
	}
	for i, src := range c.CallbackSources {
		if _, err := parseSource(src); err != nil {
			p.Addf(bot.ConfigIndex(key("callback_sources"), i), "%q is %v", src, err)
		}
	}
	switch c.ApproveBy {
	case "", ApproveByButton, ApproveByCommand:
	default:
		p.Addf(key("approve_by"), "%q is not one of %s, %s", c.ApproveBy, ApproveByButton, ApproveByCommand)
	}
}

// Options tune an Adapter; the zero value is usable.
type Options struct {
	Logger *slog.Logger
	// HTTPClient carries the API calls. The default (NewAdapter: on
	// bot.Setup.HTTPTransport) has a 2 minute timeout as a backstop; every
	// call also has its own deadline (CallTimeout).
	HTTPClient *http.Client
	// OnRefused, if set, is called for every inbound request refused
	// before it reached the bot.Handler (wrong slash token, button without
	// a valid HMAC, malformed body), so the wiring can audit it
	// (auth.refused). reason is written for people and holds no secret.
	OnRefused func(ctx context.Context, reason string, r *http.Request)
	// CallTimeout bounds one attempt of one API call (default 15 s);
	// UploadTimeout bounds one file upload attempt (default 2 min).
	CallTimeout   time.Duration
	UploadTimeout time.Duration
	// MaxUploadBytes caps an attachment (default 100 MiB, Mattermost's
	// default FileSettings.MaxFileSize): a larger file is cut there, with
	// a note at its end.
	MaxUploadBytes int64
	// MaxAttempts is how often a rate-limited or failed call is tried in
	// all (default 5). MaxRetryWait is the longest single wait between
	// attempts (default 20 s): a Retry-After beyond it fails the call at
	// once rather than holding the caller.
	MaxAttempts  int
	MaxRetryWait time.Duration
	// HandlerTimeout bounds the bot.Handler call of one inbound request
	// (default 10 s, well inside Mattermost's 30 s).
	HandlerTimeout time.Duration
	// UserCacheTTL is how long a user ID's username is remembered for
	// mentions (default 10 min).
	UserCacheTTL time.Duration
	// APIObserver, if set, is told about every API call (op, attempts,
	// error), for metrics.
	APIObserver bot.APIObserver
	// DialogTTL is how long a dialog the bot opened may be submitted
	// (default 10 min); Now is the clock that says so (default time.Now).
	DialogTTL time.Duration
	Now       func() time.Time
	// Seen remembers the dialog submissions received (replay protection),
	// shared by the replicas when they share etcd; nil: a bot.MemorySeen
	// of the adapter's own.
	Seen bot.Seen
}

func (o Options) withDefaults() Options {
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if o.HTTPClient == nil {
		o.HTTPClient = apiClient(nil)
	}
	if o.CallTimeout <= 0 {
		o.CallTimeout = 15 * time.Second
	}
	if o.MaxUploadBytes <= 0 {
		o.MaxUploadBytes = 100 << 20
	}
	if o.UploadTimeout <= 0 {
		o.UploadTimeout = 2 * time.Minute
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 5
	}
	if o.MaxRetryWait <= 0 {
		o.MaxRetryWait = 20 * time.Second
	}
	if o.HandlerTimeout <= 0 {
		o.HandlerTimeout = 10 * time.Second
	}
	if o.UserCacheTTL <= 0 {
		o.UserCacheTTL = 10 * time.Minute
	}
	if o.DialogTTL <= 0 {
		o.DialogTTL = 10 * time.Minute
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Seen == nil {
		o.Seen = bot.NewMemorySeen(100_000, o.Now)
	}
	return o
}

// apiClient is the HTTP client of the API calls on rt (nil: Go's default
// transport), with a 2 minute timeout as a backstop.
func apiClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, Timeout: 2 * time.Minute}
}

// IsID reports whether s has the shape of a Mattermost ID (user, channel,
// team): 26 lowercase letters and digits. A username or display name
// pasted instead would never match anyone.
func IsID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, r := range s {
		if (r < 'a' || r > 'z') && (r < '0' || r > '9') {
			return false
		}
	}
	return true
}
