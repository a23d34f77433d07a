// Command gitlab-sim is a SIMULATOR of GitLab's gitlab-rake and gitlab-ctl
// for tests and demos of gitlab-chatops. It touches no real GitLab: it keeps
// a pretend GitLab host in a JSON state file and prints exactly what the
// real commands print.
//
// Invoked through a symlink named gitlab-rake or gitlab-ctl it acts as that
// program; otherwise the first argument chooses: rake, ctl, init,
// scenarios. See gitlab-sim --help.
package main

import (
	"os"
	"path/filepath"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/sim"
)

func main() {
	os.Exit(sim.Main(argsFor(os.Args), os.Stdout, os.Stderr, os.Getenv))
}

// argsFor turns the process arguments into sim.Main's: a gitlab-rake or
// gitlab-ctl symlink selects the mode, and a leading --state FILE is moved
// before it.
func argsFor(argv []string) []string {
	if len(argv) == 0 {
		return nil
	}
	var mode string
	switch strings.TrimSuffix(filepath.Base(argv[0]), ".exe") {
	case "gitlab-rake":
		mode = "rake"
	case "gitlab-ctl":
		mode = "ctl"
	default:
		return argv[1:]
	}
	rest := argv[1:]
	var pre []string
	for len(rest) > 0 {
		if rest[0] == "--state" && len(rest) > 1 {
			pre, rest = append(pre, rest[0], rest[1]), rest[2:]
			continue
		}
		if strings.HasPrefix(rest[0], "--state=") {
			pre, rest = append(pre, rest[0]), rest[1:]
			continue
		}
		break
	}
	return append(append(pre, mode), rest...)
}
