package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

const configUsage = `Usage: gitlab-chatops config check [--for serve|console] FILE

Checks the whole file as serve (or console --config) would at start and
prints every problem at once, each with its line and key path; exits 2 if
there is any. Secrets left empty in the file are taken from the
environment (SLACK_*, MATTERMOST_*, GITLAB_CHATOPS_AUDIT_KEY), as serve
does. Without --for, a file with a slack: or mattermost: section is
checked for serve, others for the console.
`

// runConfig runs `config check`.
func runConfig(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		fmt.Fprint(stderr, configUsage)
		return exitError{2, errors.New("config: the only subcommand is check")}
	}
	fs := flag.NewFlagSet("config check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, configUsage) }
	purpose := fs.String("for", "", "serve or console (default: serve when a chat platform is configured)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitError{2, errors.New("config check needs exactly one FILE")}
	}
	path := fs.Arg(0)
	var u use
	switch *purpose {
	case "serve":
		u.serve = true
	case "console":
		u.console = true
	case "":
		u.serve = hasPlatform(path)
		u.console = !u.serve
	default:
		return exitError{2, fmt.Errorf("config check --for %q: use serve or console", *purpose)}
	}
	cfg, err := loadConfig(path, u, os.Getenv)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: no problems found (checked for %s)\n", path, describeUse(cfg, u))
	if u.serve && cfg.Policy.AnyoneMayApprove {
		fmt.Fprintln(stdout, "warning: policy.anyone_may_approve is true: any second person may approve migrate, finalize and restart")
	}
	return nil
}

// hasPlatform reports whether the file at path has the section of a chat
// platform (platforms.go); loadConfig reports whatever else is wrong with it.
func hasPlatform(path string) bool {
	data, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	var fc fileConfig
	configcheck.New(path).Decode(data, &fc)
	var none configcheck.Problems // this look only asks which sections there are
	for _, pf := range platforms {
		if _, ok := pf.load(&fc, &none, func(string) string { return "" }); ok {
			return true
		}
	}
	return false
}

func describeUse(cfg config, u use) string {
	if !u.serve {
		return fmt.Sprintf("the console; %d host(s)", len(cfg.Hosts))
	}
	out := fmt.Sprintf("serve: %s; %d host(s)", strings.Join(cfg.chats, " and "), len(cfg.Hosts))
	if cfg.etcd != nil {
		out += fmt.Sprintf("; storage on etcd, %d endpoint(s)", len(cfg.etcd.Endpoints))
	}
	return out
}
