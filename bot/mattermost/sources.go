package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mattermost does not sign button callbacks, and the HMAC a button carries
// covers the request, the action, the post and the channel, but not the
// clicker: the user_id is whatever the body says. Anyone who saw a
// button's context and can reach ActionsPath could therefore click as
// anybody. So a callback is accepted only from the Mattermost server's own
// addresses (its TCP peer address, which cannot be forged the way a body
// or a header can), and the clicker is then confirmed with the API
// (clicker.go). docs/mattermost.md also asks for the listener to be
// firewalled to the server.

// parseSources turns Config.CallbackSources into prefixes; a bare address
// is a single-address prefix.
func parseSources(list []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for i, s := range list {
		p, err := parseSource(s)
		if err != nil {
			return nil, fmt.Errorf("callback_sources[%d] %q: %w", i, s, err)
		}
		out = append(out, p)
	}
	return out, nil
}

func parseSource(s string) (netip.Prefix, error) {
	s = strings.TrimSpace(s)
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, errors.New("not a CIDR such as 10.0.4.0/24 or fd00::/64")
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, errors.New("not an IP address or CIDR such as 10.0.4.7 or 10.0.4.0/24 (host names are not resolved here)")
	}
	a = a.WithZone("").Unmap()
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// serverSources are the addresses the configured server URL's host
// resolves to, as single-address prefixes: the default of
// CallbackSources, for a server that calls the bot from the address it is
// reached at.
func serverSources(ctx context.Context, rawURL string) ([]netip.Prefix, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("url %q: %w", rawURL, err)
	}
	host := u.Hostname()
	addrs, err := net.DefaultResolver.LookupNetIP(ctx, "ip", host)
	if err != nil {
		return nil, fmt.Errorf("resolving %s, the host of url, for the addresses button callbacks may come from: %w; list them in callback_sources", host, err)
	}
	var out []netip.Prefix
	for _, a := range addrs {
		a = a.WithZone("").Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s, the host of url, resolves to no address; list the Mattermost server's addresses in callback_sources", host)
	}
	return out, nil
}

// peerAddr is the TCP peer of r, without zone and with IPv4-mapped IPv6
// addresses unmapped, so that a dual-stack listener matches IPv4 prefixes.
func peerAddr(r *http.Request) (netip.Addr, bool) {
	ap, err := netip.ParseAddrPort(r.RemoteAddr)
	if err != nil {
		return netip.Addr{}, false
	}
	return ap.Addr().WithZone("").Unmap(), true
}

// maxRefusedSources bounds the distinct addresses counted in one minute;
// beyond it every further address is counted together, so a flood from
// many addresses cannot grow memory or the audit trail.
const maxRefusedSources = 256

// sourceGate admits callbacks from its prefixes and counts the rest: one
// report per source address per minute, made when the minute is over (or
// at Close), with how many callbacks were refused and the first of them.
// So a flood of forged callbacks costs one audit entry per source and
// minute, not one per request.
type sourceGate struct {
	allowed []netip.Prefix
	now     func() time.Time
	report  func(reason string, first *http.Request)

	mu     sync.Mutex
	minute time.Time // start of the minute being counted
	counts map[netip.Addr]*refusedSource
	other  *refusedSource // sources beyond maxRefusedSources
	timer  *time.Timer
	closed bool
}

type refusedSource struct {
	n     int
	first *http.Request
}

func newSourceGate(allowed []netip.Prefix, now func() time.Time, report func(reason string, first *http.Request)) *sourceGate {
	return &sourceGate{allowed: allowed, now: now, report: report, counts: map[netip.Addr]*refusedSource{}}
}

// admits says whether a callback from addr may proceed.
func (g *sourceGate) admits(addr netip.Addr) bool {
	for _, p := range g.allowed {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// refused counts a refused callback from addr (invalid when the peer
// address could not be read).
func (g *sourceGate) refused(addr netip.Addr, r *http.Request) {
	g.mu.Lock()
	var due []summary
	minute := g.now().Truncate(time.Minute)
	if !minute.Equal(g.minute) {
		due = g.takeLocked()
		g.minute = minute
	}
	first := &http.Request{Method: r.Method, URL: &url.URL{Path: r.URL.Path}, RemoteAddr: r.RemoteAddr, Header: http.Header{}}
	switch c, ok := g.counts[addr]; {
	case ok:
		c.n++
	case len(g.counts) < maxRefusedSources:
		g.counts[addr] = &refusedSource{n: 1, first: first}
	case g.other == nil:
		g.other = &refusedSource{n: 1, first: first}
	default:
		g.other.n++
	}
	if g.closed {
		// After Close nobody flushes: report at once.
		due = append(due, g.takeLocked()...)
	} else if g.timer == nil {
		g.timer = time.AfterFunc(minute.Add(time.Minute).Sub(g.now()), g.flushDue)
	}
	g.mu.Unlock()
	g.send(due)
}

// flushDue reports the minute that has ended.
func (g *sourceGate) flushDue() {
	g.mu.Lock()
	g.timer = nil
	var due []summary
	if !g.now().Before(g.minute.Add(time.Minute)) {
		due = g.takeLocked()
	} else if len(g.counts) > 0 || g.other != nil {
		// The clock and the timer disagree a little: try again at the end.
		g.timer = time.AfterFunc(g.minute.Add(time.Minute).Sub(g.now()), g.flushDue)
	}
	g.mu.Unlock()
	g.send(due)
}

// close reports what is still counted; later refusals are reported at
// once. It is safe to call more than once.
func (g *sourceGate) close() {
	g.mu.Lock()
	g.closed = true
	if g.timer != nil {
		g.timer.Stop()
		g.timer = nil
	}
	due := g.takeLocked()
	g.mu.Unlock()
	g.send(due)
}

type summary struct {
	source string
	minute time.Time
	c      *refusedSource
}

func (g *sourceGate) takeLocked() []summary {
	var out []summary
	for a, c := range g.counts {
		out = append(out, summary{source: a.String(), minute: g.minute, c: c})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].source < out[j].source })
	if g.other != nil {
		out = append(out, summary{source: "other addresses", minute: g.minute, c: g.other})
	}
	g.counts = map[netip.Addr]*refusedSource{}
	g.other = nil
	return out
}

func (g *sourceGate) send(due []summary) {
	for _, s := range due {
		times := "once"
		if s.c.n > 1 {
			times = fmt.Sprintf("%d times", s.c.n)
		}
		g.report(fmt.Sprintf("button callback from %s, which is not one of the Mattermost server's addresses (mattermost.callback_sources); refused %s in the minute from %s",
			s.source, times, s.minute.UTC().Format("2006-01-02 15:04 UTC")), s.c.first)
	}
}
