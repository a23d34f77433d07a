package main

import (
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

func runCheckConfig(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check-config", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "the configuration file to check")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" || fs.NArg() > 0 {
		fmt.Fprintln(stderr, "Usage: gitlab-chatops-agent check-config --config FILE")
		return 2
	}
	cfg, err := agent.LoadConfig(*path)
	if err != nil {
		// Every problem at once, each with its line and key path.
		fmt.Fprintln(stderr, "gitlab-chatops-agent:", err)
		return 2
	}
	fmt.Fprintf(stdout, "%s is valid\n", *path)
	describeConfig(stdout, cfg)
	return 0
}

// describeConfig prints the effective settings (never key material).
func describeConfig(w io.Writer, cfg agent.Config) {
	if cfg.Insecure {
		fmt.Fprintf(w, "  listen             %s  (INSECURE: plain HTTP, no client authentication)\n", cfg.Listen)
	} else {
		allowed := "any certificate signed by client_ca"
		if len(cfg.TLS.AllowedClients) > 0 {
			allowed = strings.Join(cfg.TLS.AllowedClients, ", ")
		}
		fmt.Fprintf(w, "  listen             %s  (mutual TLS 1.3)\n  tls.cert           %s\n  tls.client_ca      %s\n  allowed clients    %s\n",
			cfg.Listen, cfg.TLS.Cert, cfg.TLS.ClientCA, allowed)
	}
	switch {
	case cfg.MetricsListen == "":
		fmt.Fprintf(w, "  metrics_listen     none\n")
	case cfg.MetricsExposed():
		fmt.Fprintf(w, "  metrics_listen     %s  (/metrics and /healthz WITHOUT authentication, not loopback: firewall it)\n", cfg.MetricsListen)
	default:
		fmt.Fprintf(w, "  metrics_listen     %s  (/metrics and /healthz, loopback only)\n", cfg.MetricsListen)
	}
	prog := func(p agent.Program) string {
		s := strings.Join(append([]string{p.Path}, p.Args...), " ")
		if cfg.Sudo != "" {
			s = cfg.Sudo + " -n -- " + s
		}
		return s
	}
	fmt.Fprintf(w, "  gitlab-rake        %s\n  gitlab-ctl         %s\n  state_dir          %s\n", prog(cfg.Rake), prog(cfg.Ctl), cfg.StateDir)
	fmt.Fprintf(w, "  max_read_only_jobs %d\n  max_log_bytes      %d\n  kill_grace         %s\n  shutdown_grace     %s\n  keep_jobs          %d\n",
		cfg.MaxReadOnlyJobs, cfg.MaxLogBytes, cfg.KillGrace, cfg.ShutdownGrace, cfg.KeepJobs)
	ops := gitlab.Catalogue()
	sort.Slice(ops, func(a, b int) bool { return ops[a].Name < ops[b].Name })
	for _, op := range ops {
		fmt.Fprintf(w, "  timeout %-10s %s\n", op.Name, cfg.Timeout(op))
	}
}
