package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
)

// Mattermost does not sign button callbacks, and the HMAC a button carries
// covers the request, the action, the post and the channel, but not the
// clicker: the user_id is whatever the body says. Anyone who saw a
// button's context and can reach ActionsPath could therefore click as
// anybody. So a callback is accepted only from the Mattermost server's own
// addresses (its TCP peer address, which cannot be forged the way a body
// or a header can), and the clicker is then confirmed with the API
// (clicker.go). docs/mattermost.md also asks for the listener to be
// firewalled to the server. Each refused callback goes to OnRefused like
// any other refusal; the wiring counts them into one audit entry per
// source and minute.
//
// A slash command that approves or denies is held to the same rules
// (command.go): its token proves only that someone knows the token, and
// with approve_by "command" it is the one way to decide, so a leaked token
// must not let anyone decide as any user_id.

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
		p = p.Masked()
		if p.Addr().Is4In6() {
			// Peers are unmapped (peerAddr), so ::ffff:10.0.0.0/104 must
			// become 10.0.0.0/8 to ever match. A masked prefix is 4-in-6
			// only if it keeps all 96 bits of the ::ffff: part.
			p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
		}
		return p, nil
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

// callbackSources are the prefixes button callbacks may come from.
type callbackSources []netip.Prefix

func (cs callbackSources) admit(addr netip.Addr) bool {
	for _, p := range cs {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

func (cs callbackSources) String() string {
	out := make([]string, len(cs))
	for i, p := range cs {
		out[i] = p.String()
	}
	return strings.Join(out, " ")
}

// fromServer admits r only from Config.CallbackSources. Otherwise it
// answers 403, reports the refusal (what names the request, e.g. "button
// callback") and returns false. Button callbacks and the slash commands
// that decide a request both come from the Mattermost server alone.
func (a *Adapter) fromServer(w http.ResponseWriter, r *http.Request, what string) bool {
	if addr, ok := peerAddr(r); ok && a.sources.admit(addr) {
		return true
	}
	// Logged at debug only: a flood must not flood the log either; the
	// wiring counts OnRefused per source and minute.
	a.log.Debug("refused a request from outside callback_sources", "what", what, "remote", r.RemoteAddr)
	if a.opt.OnRefused != nil {
		a.opt.OnRefused(r.Context(), fmt.Sprintf("%s from %s, which is not one of the Mattermost server's addresses (mattermost.callback_sources)", what, r.RemoteAddr), r)
	}
	http.Error(w, "accepted from the Mattermost server only", http.StatusForbidden)
	return false
}
