// Command gitlab-chatops-agent runs on each GitLab node and executes, for the
// gitlab-chatops bot, the fixed catalogue of GitLab operations (gitlab-rake,
// gitlab-ctl) over mutual TLS: never a shell, one mutating job at a time,
// every job recorded under the state directory.
//
// Usage:
//
//	gitlab-chatops-agent serve --config /etc/gitlab-chatops-agent/agent.yaml
//	gitlab-chatops-agent --simulate [--port 8765] [--state-dir DIR] [--scenario NAME]
//	gitlab-chatops-agent certs --out DIR --host gitlab-1.example.com[,10.0.0.5]
//	gitlab-chatops-agent check-config --config FILE
//	gitlab-chatops-agent version
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/sim"
)

// version is set at build time (-ldflags "-X main.version=1.2.3") and never
// changed at run time.
var version = ""

func agentVersion() string {
	if version != "" {
		return version
	}
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		return bi.Main.Version
	}
	return "dev"
}

const usage = `gitlab-chatops-agent runs GitLab database-migration operations for the gitlab-chatops bot.

Usage:
  gitlab-chatops-agent serve --config FILE        serve (also the default when only flags are given)
  gitlab-chatops-agent --simulate [flags]         serve a SIMULATED GitLab on 127.0.0.1 for development
  gitlab-chatops-agent certs --out DIR --host NAME[,NAME...]
                                                  create a CA, agent and bot certificates
  gitlab-chatops-agent certs --out DIR --client NAME
                                                  issue another client certificate from DIR's CA
  gitlab-chatops-agent check-config --config FILE validate a configuration and exit
  gitlab-chatops-agent version                    print the version and the operation catalogue

Run a subcommand with -h for its flags.
`

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run dispatches a subcommand and returns the exit code: 0 success, 1
// failure, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	return runContext(context.Background(), args, stdout, stderr)
}

// runContext is run, stopping serve when ctx ends (as SIGTERM does).
func runContext(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	switch cmd, rest := args[0], args[1:]; {
	case cmd == "serve":
		return runServe(ctx, rest, stderr)
	case cmd == "certs":
		return runCerts(rest, stdout, stderr)
	case cmd == "check-config":
		return runCheckConfig(rest, stdout, stderr)
	case cmd == "version":
		return runVersion(stdout)
	case cmd == "gitlab-sim":
		// Hidden: the simulator's gitlab-rake and gitlab-ctl, which the
		// agent in --simulate mode runs as its own executable.
		return sim.Main(rest, stdout, stderr, os.Getenv)
	case cmd == "help" || cmd == "-h" || cmd == "--help":
		fmt.Fprint(stdout, usage)
		return 0
	case strings.HasPrefix(cmd, "-"):
		return runServe(ctx, args, stderr)
	default:
		fmt.Fprintf(stderr, "gitlab-chatops-agent: unknown subcommand %q\n\n%s", cmd, usage)
		return 2
	}
}
