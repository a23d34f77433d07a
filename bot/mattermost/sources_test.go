package mattermost

import (
	"context"
	"fmt"
	"net/http"
	"net/netip"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

type reports struct {
	mu   sync.Mutex
	list []string
}

func (r *reports) add(reason string, first *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, reason+" | first "+first.RemoteAddr+" "+first.URL.Path)
}

func (r *reports) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

func TestSourceGateCountsPerSourceAndMinute(t *testing.T) {
	now := time.Date(2031, 3, 4, 9, 30, 10, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	rep := &reports{}
	g := newSourceGate(nil, clock, rep.add)
	refuse := func(ip string, port int) {
		a := netip.MustParseAddr(ip)
		r := &http.Request{Method: http.MethodPost, RemoteAddr: netip.AddrPortFrom(a, uint16(port)).String(), URL: mustURL(ActionsPath)}
		g.refused(a, r)
	}
	for i := range 300 {
		refuse("192.0.2.9", 40000+i)
	}
	refuse("2001:db8::7", 1)
	if got := rep.get(); len(got) != 0 {
		t.Fatalf("reported before the minute was over: %q", got)
	}
	mu.Lock()
	now = now.Add(time.Minute) // the next minute: the first one is reported
	mu.Unlock()
	refuse("192.0.2.9", 50000)
	got := rep.get()
	want := []string{
		"button callback from 192.0.2.9, which is not one of the Mattermost server's addresses (mattermost.callback_sources); refused 300 times in the minute from 2031-03-04 09:30 UTC | first 192.0.2.9:40000 /mattermost/actions",
		"button callback from 2001:db8::7, which is not one of the Mattermost server's addresses (mattermost.callback_sources); refused once in the minute from 2031-03-04 09:30 UTC | first [2001:db8::7]:1 /mattermost/actions",
	}
	if !slices.Equal(got, want) {
		t.Fatalf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	g.close()
	g.close()
	got = rep.get()
	if len(got) != 3 || !strings.Contains(got[2], "refused once in the minute from 2031-03-04 09:31 UTC | first 192.0.2.9:50000") {
		t.Fatalf("close must report the minute being counted, once: %q", got[2:])
	}
	refuse("192.0.2.10", 1)
	if got := rep.get(); len(got) != 4 || !strings.Contains(got[3], "192.0.2.10") {
		t.Fatalf("after close a refusal is reported at once: %q", got[3:])
	}
}

func TestSourceGateBoundsDistinctSources(t *testing.T) {
	now := time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC)
	rep := &reports{}
	g := newSourceGate(nil, func() time.Time { return now }, rep.add)
	for i := range maxRefusedSources + 100 {
		a := netip.AddrFrom16([16]byte{0x20, 0x01, 0x0d, 0xb8, 14: byte(i >> 8), 15: byte(i)})
		g.refused(a, &http.Request{RemoteAddr: "[" + a.String() + "]:1", URL: mustURL(ActionsPath)})
	}
	g.close()
	got := rep.get()
	if len(got) != maxRefusedSources+1 || !strings.HasPrefix(got[len(got)-1], "button callback from other addresses") || !strings.Contains(got[len(got)-1], "refused 100 times") {
		t.Fatalf("want %d reports, the last for the 100 other addresses; got %d, last %q", maxRefusedSources+1, len(got), got[len(got)-1])
	}
}

func TestSourceGateReportsWhenTheMinuteEnds(t *testing.T) {
	// Real time: the minute's report comes by itself, without Close.
	rep := &reports{}
	base, start := time.Date(2031, 3, 4, 9, 30, 59, int(950*time.Millisecond), time.UTC), time.Now()
	g := newSourceGate(nil, func() time.Time { return base.Add(time.Since(start)) }, rep.add)
	defer g.close()
	g.refused(netip.MustParseAddr("192.0.2.1"), &http.Request{RemoteAddr: "192.0.2.1:1", URL: mustURL(ActionsPath)})
	deadline := time.Now().Add(10 * time.Second)
	for len(rep.get()) == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the minute ended but nothing was reported")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

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

func mustURL(path string) *url.URL {
	u, err := url.Parse(path)
	if err != nil {
		panic(fmt.Sprint(err))
	}
	return u
}
