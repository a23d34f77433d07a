// Command gitlab-chatops is the ChatOps bot: it takes /gitlab-migrations
// commands from a chat platform (or the console), enforces two-person
// approval for destructive ones and runs them on GitLab hosts through their
// gitlab-chatops-agent.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/gitlab-chatops/gitlab-chatops/sim"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

const usage = `gitlab-chatops: run GitLab database-migration operations from chat, with two-person approval.

Usage:
  gitlab-chatops serve --config FILE
  gitlab-chatops console [--config FILE] [--simulate [--scenario NAME]]
  gitlab-chatops config check [--for serve|console] FILE
  gitlab-chatops audit verify|export|tail (--config FILE | --db FILE [--key-file FILE]) [--anchor HASH] [--since TIME] [-n N]
  gitlab-chatops storage copy --from bolt:PATH|etcd:ENDPOINTS --to bolt:PATH|etcd:ENDPOINTS [--config FILE | --key-file FILE] [--etcd-prefix P] [--etcd-ca F --etcd-cert F --etcd-key F]
  gitlab-chatops version

serve       connect to Slack and/or Mattermost as configured
console     chat from the terminal: type "alice: /gitlab-migrations status"
            (--simulate runs an in-process agent over a simulated GitLab)
config      check a configuration file: every problem at once, with its key path
audit       check, export or show the tamper-evident audit trail
storage     copy everything from one store to another (bolt to etcd, or back)
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run dispatches a subcommand and returns the process exit code.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch args[0] {
	case "serve":
		err = runServe(ctx, args[1:], stderr)
	case "console":
		err = runConsole(ctx, args[1:], stdin, stdout, stderr)
	case "config":
		err = runConfig(args[1:], stdout, stderr)
	case "audit":
		err = runAudit(ctx, args[1:], stdout)
	case "storage":
		err = runStorage(ctx, args[1:], stdout)
	case "version", "--version":
		fmt.Fprintln(stdout, "gitlab-chatops", version)
	case "gitlab-sim":
		// The simulator, as the in-process agent of --simulate starts it:
		// this binary re-executed as gitlab-rake / gitlab-ctl.
		return sim.Main(args[1:], stdout, stderr, os.Getenv)
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
	default:
		fmt.Fprintf(stderr, "gitlab-chatops: unknown subcommand %q\n\n%s", args[0], usage)
		return 2
	}
	if err != nil {
		var ee exitError
		if errors.As(err, &ee) {
			fmt.Fprintln(stderr, "gitlab-chatops:", ee.err)
			return ee.code
		}
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "gitlab-chatops:", err)
		return 1
	}
	return 0
}

// exitError carries a specific exit code (audit verify uses 3 for a broken
// chain, as opposed to 1 for being unable to check).
type exitError struct {
	code int
	err  error
}

func (e exitError) Error() string { return e.err.Error() }
