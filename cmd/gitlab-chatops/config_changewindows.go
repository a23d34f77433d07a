package main

import (
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
	"github.com/gitlab-chatops/gitlab-chatops/window"
)

// windowsConfig is policy.windows: when destructive operations may start.
type windowsConfig struct {
	// Allow windows: with any, operations may start only inside one.
	Allow []windowConfig `yaml:"allow"`
	// Freeze periods: operations may never start inside one.
	Freeze []windowConfig `yaml:"freeze"`
}

// windowConfig is one window: spec and duration (recurring), or from and
// to (fixed), in tz.
type windowConfig struct {
	// Name is how refusals name it, e.g. "year-end freeze".
	Name string `yaml:"name"`
	// Spec is a 5-field cron spec or a descriptor (not @every), read on
	// tz's wall clock; Duration how long each window lasts (elapsed), e.g. 8h.
	Spec     string `yaml:"spec"`
	Duration string `yaml:"duration"`
	// From and To are dates ("2026-12-24" or "2026-12-24 18:00") in tz.
	From string `yaml:"from"`
	To   string `yaml:"to"`
	// TZ is an IANA zone (Europe/Berlin); empty is UTC.
	TZ string `yaml:"tz"`
}

// checkWindows records every problem of policy.windows at its key path and
// returns the policy; ok is false when there are no windows (nothing is
// restricted) or a problem was recorded.
func checkWindows(p *configcheck.Problems, wc windowsConfig) (window.Policy, bool) {
	var pol window.Policy
	before := p.Len()
	for _, l := range []struct {
		key  string
		list []windowConfig
		out  *[]window.Span
	}{{"policy.windows.allow", wc.Allow, &pol.Allow}, {"policy.windows.freeze", wc.Freeze, &pol.Freeze}} {
		for i, c := range l.list {
			if s, ok := checkWindow(p, configcheck.Index(l.key, i), c); ok {
				*l.out = append(*l.out, s)
			}
		}
	}
	if p.Len() > before || len(pol.Allow)+len(pol.Freeze) == 0 {
		return window.Policy{}, false
	}
	return pol, true
}

// checkWindow checks one window at path, each field where it is wrong.
func checkWindow(p *configcheck.Problems, path string, c windowConfig) (window.Span, bool) {
	key := func(k string) string { return configcheck.Join(path, k) }
	before := p.Len()
	if _, err := window.Zone(c.TZ); err != nil {
		p.Addf(key("tz"), "%s", trimInvalid(err))
	}
	recurring, fixed := c.Spec != "" || c.Duration != "", c.From != "" || c.To != ""
	switch {
	case recurring && fixed:
		p.Addf(path, "give either spec and duration (a recurring window) or from and to (a fixed period), not both")
		return window.Span{}, false
	case !recurring && !fixed:
		p.Addf(path, "is empty: give spec and duration (e.g. spec: \"0 9 * * 1-5\", duration: 8h) or from and to (e.g. from: 2026-12-20, to: 2027-01-04)")
		return window.Span{}, false
	case len(c.Name) > 100 || strings.ContainsAny(c.Name, "\n\r"):
		p.Addf(key("name"), "must be one line of at most 100 characters")
	}
	var (
		s   window.Span
		err error
	)
	if recurring {
		if c.Spec == "" {
			p.Addf(key("spec"), "missing: say when each window starts, e.g. \"0 9 * * 1-5\"")
		} else if _, err := window.Recurring(c.Spec, "", window.MaxDuration); err != nil {
			p.Addf(key("spec"), "%s", trimInvalid(err))
		}
		d, ok := p.Duration(key("duration"), c.Duration, "8h")
		if c.Duration == "" {
			p.Addf(key("duration"), "missing: say how long each window lasts, e.g. 8h")
		} else if ok {
			if err := window.CheckDuration(d); err != nil {
				p.Addf(key("duration"), "%s", trimInvalid(err))
			}
		}
		if p.Len() > before {
			return window.Span{}, false
		}
		s, err = window.Recurring(c.Spec, c.TZ, d)
	} else {
		for _, f := range []struct{ key, v string }{{"from", c.From}, {"to", c.To}} {
			if f.v == "" {
				p.Addf(key(f.key), "missing: a fixed period needs from and to, e.g. 2026-12-20 or 2026-12-20 18:00 (in tz)")
			} else if _, err := window.ParseDate(f.v, time.UTC); err != nil {
				p.Addf(key(f.key), "%s", trimInvalid(err))
			}
		}
		if p.Len() > before {
			return window.Span{}, false
		}
		if s, err = window.Fixed(c.From, c.To, c.TZ); err != nil {
			p.Addf(key("to"), "%s", trimInvalid(err))
			return window.Span{}, false
		}
	}
	if err != nil {
		p.Addf(path, "%s", trimInvalid(err))
		return window.Span{}, false
	}
	s.Name = c.Name
	return s, true
}

// trimInvalid drops the sentinel's words from the end of err's text.
func trimInvalid(err error) string {
	s := strings.TrimSuffix(err.Error(), ": "+window.ErrInvalid.Error())
	return strings.TrimSuffix(s, ": invalid")
}
