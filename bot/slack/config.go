package slack

import (
	"fmt"
	"log/slog"
	"regexp"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Mode is how Slack reaches the bot.
type Mode string

const (
	// ModeHTTP: Slack POSTs signed requests to a public URL the bot serves
	// (/slack/commands and /slack/interactions).
	ModeHTTP Mode = "http"
	// ModeSocket: the bot opens a WebSocket to Slack with an app-level
	// token and needs no public URL.
	ModeSocket Mode = "socket"
)

// DefaultCommand is the slash command the app manifest creates.
const DefaultCommand = "/gitlab-migrations"

// DefaultAPIURL is Slack's Web API, as slack-go calls it.
const DefaultAPIURL = "https://slack.com/api/"

// Environment variables that Config.FromEnv reads. Secrets are better kept
// there (or in a file only the bot can read) than in the YAML.
const (
	EnvBotToken      = "SLACK_BOT_TOKEN"
	EnvSigningSecret = "SLACK_SIGNING_SECRET"
	EnvAppToken      = "SLACK_APP_TOKEN"
)

// Config is the `slack:` section of the bot's configuration.
//
//	slack:
//	  mode: http            # or socket; http mode's endpoints are on serve's listen:
//	  api_url: https://slack.com/api/   # the default; a proxy or Enterprise Grid URL
//	  command: /gitlab-migrations
//	  bot_token: xoxb-…     # or SLACK_BOT_TOKEN
//	  signing_secret: …     # http mode; or SLACK_SIGNING_SECRET
//	  app_token: xapp-…     # socket mode; or SLACK_APP_TOKEN
type Config struct {
	Mode Mode `yaml:"mode" json:"mode"`
	// Listen is refused: the endpoints moved to serve's one listener (the
	// top-level listen:). The key is kept so that an old configuration is
	// told where it went rather than "unknown key".
	Listen string `yaml:"listen" json:"listen"`
	// APIURL is the Web API's base URL (default DefaultAPIURL): https, or
	// http on a loopback host (tests, a local proxy). A missing trailing
	// slash is added.
	APIURL        string `yaml:"api_url" json:"api_url"`
	Command       string `yaml:"command" json:"command"`
	BotToken      string `yaml:"bot_token" json:"-"`
	SigningSecret string `yaml:"signing_secret" json:"-"`
	AppToken      string `yaml:"app_token" json:"-"`
}

// FromEnv returns c with empty secrets filled from the environment (getenv
// is os.Getenv in production; tests pass a map lookup).
func (c Config) FromEnv(getenv func(string) string) Config {
	if c.BotToken == "" {
		c.BotToken = getenv(EnvBotToken)
	}
	if c.SigningSecret == "" {
		c.SigningSecret = getenv(EnvSigningSecret)
	}
	if c.AppToken == "" {
		c.AppToken = getenv(EnvAppToken)
	}
	return c
}

// withDefaults fills the optional keys.
func (c Config) withDefaults() Config {
	if c.Mode == "" {
		c.Mode = ModeHTTP
	}
	if c.APIURL == "" {
		c.APIURL = DefaultAPIURL
	} else if !strings.HasSuffix(c.APIURL, "/") {
		// slack-go appends the method name: "…/api" + "auth.test" would
		// be wrong.
		c.APIURL += "/"
	}
	if c.Command == "" {
		c.Command = DefaultCommand
	}
	return c
}

// Validate reports every problem with c (after defaults), saying what to
// fix. It never includes a secret in its message.
func (c Config) Validate() error {
	var p bot.ConfigErrors
	c.Check(&p, "slack")
	return p.Err()
}

// Check records every problem with c (after defaults) in p, under the key
// path of the slack section. No message quotes a token or secret.
func (c Config) Check(p bot.ConfigProblems, path string) {
	apiURL := c.APIURL // as written, for the message
	c = c.withDefaults()
	key := func(k string) string { return bot.ConfigKey(path, k) }
	switch {
	case c.BotToken == "":
		p.Addf(key("bot_token"), "missing (set it or %s): the xoxb- token from OAuth & Permissions", EnvBotToken)
	case !strings.HasPrefix(c.BotToken, "xoxb-"):
		p.Addf(key("bot_token"), "does not start with xoxb-: use the Bot User OAuth Token, not a user or app-level token")
	}
	switch c.Mode {
	case ModeHTTP:
		if c.SigningSecret == "" {
			p.Addf(key("signing_secret"), "missing (set it or %s): Basic Information > App Credentials; http mode refuses unsigned requests", EnvSigningSecret)
		}
	case ModeSocket:
		switch {
		case c.AppToken == "":
			p.Addf(key("app_token"), "missing (set it or %s): socket mode needs an xapp- token with connections:write", EnvAppToken)
		case !strings.HasPrefix(c.AppToken, "xapp-"):
			p.Addf(key("app_token"), "does not start with xapp-: create an app-level token with connections:write")
		}
	default:
		p.Addf(key("mode"), "%q is unknown: use http or socket", c.Mode)
	}
	if !strings.HasPrefix(c.Command, "/") {
		p.Addf(key("command"), "%q must start with /", c.Command)
	}
	if c.Listen != "" {
		p.Addf(key("listen"), "moved: the Slack endpoints are served on the top-level listen: (default :8080), beside /healthz and /readyz; write listen: %q at the top level instead", c.Listen)
	}
	if apiURL != "" {
		p.HTTPSURL(key("api_url"), apiURL, DefaultAPIURL)
	}
}

// LogValue keeps secrets out of logs: a Config logged with slog shows
// only whether each secret is set.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("mode", string(c.Mode)),
		slog.String("api_url", c.APIURL),
		slog.String("command", c.Command),
		slog.Bool("bot_token_set", c.BotToken != ""),
		slog.Bool("signing_secret_set", c.SigningSecret != ""),
		slog.Bool("app_token_set", c.AppToken != ""),
	)
}

// String implements fmt.Stringer without the secrets, so that a Config
// printed with %v by mistake leaks nothing.
func (c Config) String() string {
	return fmt.Sprintf("slack{mode=%s api_url=%s command=%s bot_token=%s signing_secret=%s app_token=%s}",
		c.Mode, c.APIURL, c.Command, redacted(c.BotToken), redacted(c.SigningSecret), redacted(c.AppToken))
}

// GoString keeps %#v from printing the secrets too.
func (c Config) GoString() string { return c.String() }

func redacted(s string) string {
	if s == "" {
		return "unset"
	}
	return "set"
}

// Slack IDs, as the policy lists them: a user is U… or W… (Enterprise
// Grid), a user group S… or its handle (db-approvers, @db-approvers), a
// channel C… (public) or G… (private). A display name pasted instead would
// never match anyone. The ID after its letter is 8 or more uppercase
// letters and digits (9 to 11 characters in all, typically), so a short
// or made-up word (U12, WALTER) is caught too. Handles are resolved by
// IsMember (usergroups.list), so they are real configuration, not a
// shape accepted by accident.

// minConfigID is the shortest Slack ID the configuration accepts.
const minConfigID = 9

func isConfigID(s string, kinds string) bool {
	return len(s) >= minConfigID && isSlackID(s) && strings.IndexByte(kinds, s[0]) >= 0
}

// IsUserID reports whether s has the shape of a Slack user ID.
func IsUserID(s string) bool { return isConfigID(s, "UW") }

// IsUserGroup reports whether s has the shape of a Slack user group ID or
// handle, as IsMember takes them.
func IsUserGroup(s string) bool {
	return isConfigID(s, "S") || groupHandleRE.MatchString(s)
}

// IsChannelID reports whether s has the shape of a Slack channel ID.
func IsChannelID(s string) bool { return isConfigID(s, "CG") }

// groupHandleRE is a user group handle: lowercase, no spaces.
var groupHandleRE = regexp.MustCompile(`^@?[a-z0-9][a-z0-9._-]*$`)
