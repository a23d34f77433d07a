package mattermost

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestCallbackSourceParsing(t *testing.T) {
	for in, want := range map[string]string{
		"10.0.4.7":            "10.0.4.7/32",
		"10.0.4.9/24":         "10.0.4.0/24",
		" fd00::1 ":           "fd00::1/128",
		"::ffff:192.0.2.1":    "192.0.2.1/32",
		"::ffff:10.0.0.0/104": "10.0.0.0/8",
		"::ffff:10.1.2.3/128": "10.1.2.3/32",
		"::ffff:0:0/96":       "0.0.0.0/0",
		"::ffff:0:0/95":       "::fffe:0:0/95",
		"2001:db8::/32":       "2001:db8::/32",
		"fe80::1%eth0":        "fe80::1/128",
		"mattermost.example":  "error",
		"10.0.0.0/33":         "error",
		"":                    "error",
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

// TestCallbackSourcesAdmitPeersOfEitherForm: a source written in either
// form (10.0.0.0/8 or ::ffff:10.0.0.0/104) admits a peer seen on an IPv4
// listener (10.2.3.4) and on a dual-stack one (::ffff:10.2.3.4) alike,
// and nothing outside it.
func TestCallbackSourcesAdmitPeersOfEitherForm(t *testing.T) {
	for _, src := range []string{"10.0.0.0/8", "::ffff:10.0.0.0/104", "10.2.3.4", "::ffff:10.2.3.4"} {
		cs, err := parseSources([]string{src})
		if err != nil {
			t.Fatalf("%s: %v", src, err)
		}
		for remote, want := range map[string]bool{
			"10.2.3.4:5555":          true,
			"[::ffff:10.2.3.4]:5555": true,
			"11.2.3.4:5555":          false,
			"[::ffff:11.2.3.4]:5555": false,
			"[fd00::1]:5555":         false,
		} {
			r := httptest.NewRequest(http.MethodPost, "/mattermost/actions", nil)
			r.RemoteAddr = remote
			addr, ok := peerAddr(r)
			if got := ok && callbackSources(cs).admit(addr); got != want {
				t.Errorf("callback_sources [%s], peer %s: admitted %v, want %v", src, remote, got, want)
			}
		}
	}
}
