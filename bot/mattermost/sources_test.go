package mattermost

import (
	"context"
	"strings"
	"testing"
)

func TestCallbackSourceParsing(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.4.7":           "10.0.4.7/32",
		"10.0.4.9/24":        "10.0.4.0/24",
		" fd00::1 ":          "fd00::1/128",
		"::ffff:192.0.2.1":   "192.0.2.1/32",
		"2001:db8::/32":      "2001:db8::/32",
		"fe80::1%eth0":       "fe80::1/128",
		"mattermost.example": "error",
		"10.0.0.0/33":        "error",
		"":                   "error",
	} {
		p, err := parseSource(in)
		got := p.String()
		if err != nil {
			got = "error"
		}
		if got != want {
			t.Errorf("parseSource(%q) = %s (%v), want %s", in, got, err, want)
		}
	}
}

func TestDefaultCallbackSourcesAreTheServerAddresses(t *testing.T) {
	ps, err := serverSources(context.Background(), "http://127.0.0.1:8065")
	if err != nil || len(ps) != 1 || ps[0].String() != "127.0.0.1/32" {
		t.Fatalf("got %v, %v", ps, err)
	}
	ps, err = serverSources(context.Background(), "https://[::1]:8065")
	if err != nil || len(ps) != 1 || ps[0].String() != "::1/128" {
		t.Fatalf("got %v, %v", ps, err)
	}
	if _, err := serverSources(context.Background(), "https://mattermost.invalid"); err == nil || !strings.Contains(err.Error(), "callback_sources") {
		t.Fatalf("an unresolvable host must say to list callback_sources: %v", err)
	}
}

func TestConfigValidatesCallbackSourcesAndApproveBy(t *testing.T) {
	base := Config{URL: "https://mm.example.com", BotToken: "t", CommandTokens: []string{"c"}, ActionSecret: strings.Repeat("s", 32), CallbackURL: "https://bot.internal/mattermost/actions"}
	for _, c := range []struct {
		mod  func(*Config)
		want string
	}{
		{func(c *Config) { c.CallbackSources = []string{"10.0.0.0/8", "fd00::1"} }, ""},
		{func(c *Config) { c.ApproveBy = ApproveByButton }, ""},
		{func(c *Config) { c.ApproveBy = ApproveByCommand }, ""},
		{func(c *Config) { c.CallbackSources = []string{"10.0.0.0/8", "mattermost.example.com"} }, `mattermost.callback_sources[1]: "mattermost.example.com" is not an IP address or CIDR`},
		{func(c *Config) { c.CallbackSources = []string{"10.0.0.300/8"} }, `mattermost.callback_sources[0]: "10.0.0.300/8" is not a CIDR`},
		{func(c *Config) { c.ApproveBy = "click" }, `mattermost.approve_by: "click" is not one of button, command`},
	} {
		cfg := base
		c.mod(&cfg)
		err := cfg.Validate()
		if c.want == "" && err != nil || c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)) {
			t.Errorf("%+v: got %v, want %q", cfg, err, c.want)
		}
	}
}
