package commands

import (
	"context"
	"fmt"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// hostCheckTimeout bounds how long `hosts` waits for one agent: the
// answer is a quick look, and a host that takes longer is as good as
// unreachable for it.
const hostCheckTimeout = 3 * time.Second

// hostCheck is what `hosts` found out about one host's agent.
type hostCheck struct {
	Host    Host
	Version string
	Latency time.Duration // round trip of the version call
	Err     error
}

// checkHosts asks every host's agent for its version, in parallel
// (eachHost), each within hostCheckTimeout, and measures the round trip.
func (r *Router) checkHosts(ctx context.Context) []hostCheck {
	checks := make([]hostCheck, len(r.opt.Hosts))
	for i, h := range r.opt.Hosts {
		checks[i] = hostCheck{Host: h, Err: fmt.Errorf("not checked")}
	}
	r.eachHost(ctx, r.opt.Hosts, func(ctx context.Context, i int, h Host) {
		ctx, cancel := context.WithTimeout(ctx, hostCheckTimeout)
		defer cancel()
		// Real time, not opt.Clock: this measures a real network call.
		start := time.Now()
		v, err := h.Agent.Version(ctx)
		checks[i] = hostCheck{Host: h, Version: v.Version, Latency: time.Since(start), Err: err}
		if err != nil {
			r.log.Warn("hosts: agent not reachable", "host", h.Name, "err", err)
		}
	})
	return checks
}

// hostsMessage lists every host with its agent's version, reachability
// and round-trip latency, the default marked, and says how --host works
// with this many hosts.
func (r *Router) hostsMessage(ctx context.Context) bot.Message {
	def, hasDefault := r.defaultHost()
	return hostsList(r.checkHosts(ctx), def.Name, hasDefault, r.opt.Clock())
}

// hostsList is hosts' answer for checks, def naming the default host when
// hasDefault, checked at now.
func hostsList(checks []hostCheck, def string, hasDefault bool, now time.Time) bot.Message {
	m := bot.Message{Title: bot.Plain("GitLab hosts"), Tone: bot.ToneSuccess}
	lines := make([]bot.Text, 0, len(checks)+1)
	for _, c := range checks {
		l := bot.Join(bot.Plain("• "), bot.Bold(c.Host.Name))
		if hasDefault && c.Host.Name == def {
			l = bot.Join(l, bot.Plain(" (default)"))
		}
		if c.Err != nil {
			m.Tone = bot.ToneWarning
			l = bot.Join(l, bot.Plain(": NOT reachable: "), bot.Sentence(agentProblem(c.Host.Name, c.Err)))
		} else {
			l = bot.Join(l, bot.Textf(": reachable, agent %s, %s round trip", c.Version, latencyText(c.Latency)))
		}
		lines = append(lines, l)
	}
	switch {
	case len(checks) > 1 && hasDefault:
		lines = append(lines, bot.Textf("Read-only subcommands without --host run on %s; --host all asks every host. migrate, finalize and restart need --host NAME.", def))
	case len(checks) > 1:
		lines = append(lines, bot.Plain("No host is the default: read-only subcommands need --host NAME, or --host all for every host. migrate, finalize and restart need --host NAME."))
	}
	m.Text = bot.JoinWith("\n", lines...)
	m.Context = bot.Textf("checked at %s, each within %s", bot.Time(now, bot.Clock), hostCheckTimeout)
	return m
}

// latencyText is a round trip in milliseconds, e.g. "12 ms".
func latencyText(d time.Duration) string {
	if d < time.Millisecond {
		return "under 1 ms"
	}
	return fmt.Sprintf("%d ms", d.Milliseconds())
}
