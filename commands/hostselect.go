package commands

import (
	"fmt"
	"strings"
)

// AllHosts as --host runs a read-only subcommand on every configured host
// (the same word as schedule.AllHosts). No host may be named so.
const AllHosts = "all"

// checkHostNames refuses a host named like AllHosts and more than one
// default host: either would make "which host?" ambiguous.
func checkHostNames(hosts []Host) error {
	def := ""
	for _, h := range hosts {
		if strings.EqualFold(h.Name, AllHosts) {
			return fmt.Errorf("host %q: the name is reserved (--host all means every host)", h.Name)
		}
		if h.Default {
			if def != "" {
				return fmt.Errorf("hosts %s and %s are both the default: at most one may be", def, h.Name)
			}
			def = h.Name
		}
	}
	return nil
}

// defaultHost is the host a subcommand without --host means: the only
// host, or the one marked default; ok is false when several are
// configured and none is marked.
func (r *Router) defaultHost() (Host, bool) {
	if len(r.opt.Hosts) == 1 {
		return r.opt.Hosts[0], true
	}
	for _, h := range r.opt.Hosts {
		if h.Default {
			return h, true
		}
	}
	return Host{}, false
}

// host returns the host named name; an empty name means the default host
// (read-only subcommands; stored requests always name theirs).
func (r *Router) host(name string) (Host, error) {
	if name == "" {
		if h, ok := r.defaultHost(); ok {
			return h, nil
		}
		return Host{}, fmt.Errorf("several hosts are configured (%s) and none is the default: choose one with --host NAME, or --host all for every host (the configuration's `default: true` on a host makes it the one used without --host)", r.hostList())
	}
	h, ok := r.hosts[name]
	if !ok {
		return Host{}, fmt.Errorf("unknown host %q: known hosts are %s", echo(name), r.hostList())
	}
	return h, nil
}

// destructiveHost is the one host a destructive subcommand may run on:
// with several hosts configured it must be named, even the default one,
// because a change to GitLab must never land on a host nobody named.
func (r *Router) destructiveHost(sub, name string) (Host, error) {
	switch {
	case name == AllHosts:
		return Host{}, fmt.Errorf("%s changes GitLab, so it runs on one host at a time: --host all is only for the read-only subcommands (status, bbm, services, upgrade-check). Name the host with --host NAME, one of %s", sub, r.hostList())
	case name == "" && len(r.opt.Hosts) > 1:
		return Host{}, fmt.Errorf("%s changes GitLab and several hosts are configured (%s): name the one it is for with --host NAME, even the default one", sub, r.hostList())
	}
	return r.host(name)
}

// hostList names the configured hosts in configuration order, the
// default marked.
func (r *Router) hostList() string {
	names := make([]string, len(r.opt.Hosts))
	for i, h := range r.opt.Hosts {
		names[i] = h.Name
		if h.Default && len(r.opt.Hosts) > 1 {
			names[i] += " (default)"
		}
	}
	return strings.Join(names, ", ")
}

// HostNames are the configured hosts' names in configuration order: what
// a schedule's host may name (besides AllHosts), for schedule.Config.
func (r *Router) HostNames() []string {
	names := make([]string, len(r.opt.Hosts))
	for i, h := range r.opt.Hosts {
		names[i] = h.Name
	}
	return names
}
