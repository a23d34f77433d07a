package slack

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestConfigValidate(t *testing.T) {
	ok := Config{BotToken: "xoxb-1", SigningSecret: "s"}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid http config refused: %v", err)
	}
	if err := (Config{Mode: ModeSocket, BotToken: "xoxb-1", AppToken: "xapp-1"}).Validate(); err != nil {
		t.Fatalf("valid socket config refused: %v", err)
	}
	for _, tc := range []struct {
		cfg  Config
		want string
	}{
		{Config{SigningSecret: "s"}, "slack.bot_token: missing (set it or SLACK_BOT_TOKEN)"},
		{Config{BotToken: "xoxp-1", SigningSecret: "s"}, "does not start with xoxb-"},
		{Config{BotToken: "xoxb-1"}, "slack.signing_secret: missing (set it or SLACK_SIGNING_SECRET)"},
		{Config{Mode: ModeSocket, BotToken: "xoxb-1"}, "slack.app_token: missing"},
		{Config{Mode: ModeSocket, BotToken: "xoxb-1", AppToken: "xoxb-2"}, "does not start with xapp-"},
		{Config{Mode: "rtm", BotToken: "xoxb-1"}, "slack.mode: \"rtm\" is unknown"},
		{Config{BotToken: "xoxb-1", SigningSecret: "s", Command: "gitlab"}, "must start with /"},
		{Config{BotToken: "xoxb-1", SigningSecret: "s", Listen: ":3000"}, "slack.listen: moved"},
		{Config{BotToken: "xoxb-1", SigningSecret: "s", APIURL: "http://slack.example.com/api/"}, "slack.api_url: \"http://slack.example.com/api/\" is plain http; use https"},
		{Config{BotToken: "xoxb-1", SigningSecret: "s", APIURL: "ftp://slack.example.com/api/"}, "is not an https URL"},
		{Config{BotToken: "xoxb-1", SigningSecret: "s", APIURL: "slack.example.com/api"}, "is not an https URL"},
		{Config{BotToken: "xoxb-1", SigningSecret: "s", APIURL: "https://user:pw@slack.example.com/api/"}, "is not an https URL"},
	} {
		err := tc.cfg.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Validate(%v) = %v, want %q", tc.cfg, err, tc.want)
		}
	}
	if _, err := New(Config{}); err == nil {
		t.Error("New accepted an empty config")
	}
	for _, u := range []string{"https://proxy.example.com/slack/api/", "https://acme.enterprise.slack.com/api", "http://127.0.0.1:8080/api/", "http://[::1]:9/api/", "http://localhost/api/"} {
		if err := (Config{BotToken: "xoxb-1", SigningSecret: "s", APIURL: u}).Validate(); err != nil {
			t.Errorf("api_url %q refused: %v", u, err)
		}
	}
}

// TestAPIURLIsUsed: the Web API calls go to slack.api_url, with the
// trailing slash slack-go needs added when it is missing.
func TestAPIURLIsUsed(t *testing.T) {
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case got <- r.URL.Path:
		default:
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"ok":true,"team":"T","user_id":"U0BOT0001"}`))
	}))
	defer srv.Close()
	a, err := New(Config{BotToken: "xoxb-1", SigningSecret: "s", APIURL: srv.URL + "/proxy/api"})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Reach(context.Background()); err != nil {
		t.Fatalf("Reach: %v", err)
	}
	if p := <-got; p != "/proxy/api/auth.test" {
		t.Errorf("auth.test went to %q, want /proxy/api/auth.test", p)
	}
}

func TestConfigFromEnvAndSecretsNeverPrinted(t *testing.T) {
	env := map[string]string{EnvBotToken: "xoxb-LEAK1", EnvSigningSecret: "LEAK2", EnvAppToken: "xapp-LEAK3"}
	c := Config{BotToken: "xoxb-from-file"}.FromEnv(func(k string) string { return env[k] })
	if c.BotToken != "xoxb-from-file" || c.SigningSecret != "LEAK2" || c.AppToken != "xapp-LEAK3" {
		t.Fatalf("FromEnv = %#v", c)
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "slack", c)
	for _, out := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c), logged.String()} {
		if strings.Contains(out, "LEAK") {
			t.Errorf("a secret was printed: %s", out)
		}
	}
}

func TestIDShapes(t *testing.T) {
	for _, tc := range []struct {
		id                   string
		user, group, channel bool
	}{
		{"U0AAAAAAA", true, false, false},
		{"W0123ABCD", true, false, false},
		{"U12", false, false, false},
		{"WALTER", false, false, false},
		{"U0123ABC", false, false, false}, // 8 characters: one short
		{"S12", false, false, false},
		{"C12", false, false, false},
		{"S0CCCCCCC", false, true, false},
		{"db-approvers", false, true, false},
		{"@db-approvers", false, true, false},
		{"C0123ABCD", false, false, true},
		{"G0123ABCD", false, false, true},
		{"Alice Smith", false, false, false},
		{"alice", false, true, false}, // could be a group handle
		{"u0aaaaaaa", false, true, false},
		{"DB Approvers", false, false, false},
		{"C0ops", false, false, false},
		{"", false, false, false},
	} {
		if IsUserID(tc.id) != tc.user || IsUserGroup(tc.id) != tc.group || IsChannelID(tc.id) != tc.channel {
			t.Errorf("%q: user %v group %v channel %v; want %v %v %v", tc.id,
				IsUserID(tc.id), IsUserGroup(tc.id), IsChannelID(tc.id), tc.user, tc.group, tc.channel)
		}
	}
}
