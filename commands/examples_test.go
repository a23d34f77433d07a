package commands

import (
	"slices"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// TestHelpExamplesParse: every subcommand has examples, and each parses
// as the subcommand it illustrates.
func TestHelpExamplesParse(t *testing.T) {
	for name := range subcommands {
		exs := examples[name]
		if len(exs) == 0 {
			t.Errorf("%s has no example", name)
		}
		for _, e := range exs {
			inv, err := Parse(strings.TrimPrefix(e.line, "/gitlab-migrations "))
			if err != nil {
				t.Errorf("example %s: %v", e.line, err)
				continue
			}
			if inv.Sub != name {
				t.Errorf("example %s parses as %s", e.line, inv.Sub)
			}
		}
	}
	for name := range examples {
		if _, ok := subcommands[name]; !ok {
			t.Errorf("examples for %s, which is no subcommand", name)
		}
	}
}

// TestHelpGolden: help finalize shows the pasted form first.
func TestHelpGolden(t *testing.T) {
	checkMessage(t, "help-finalize", helpMessage(Invocation{Sub: "help", Args: []string{"finalize"}}))
	checkMessage(t, "help-approve", helpMessage(Invocation{Sub: "help", Args: []string{"APPROVE"}}))
	checkMessage(t, "help-upgrade-check", helpMessage(Invocation{Sub: "help", Args: []string{"upgrade-check"}}))
}

// TestHelpListsEverySubcommand: the general help, which lists the
// subcommands in an order of its own, names each one.
func TestHelpListsEverySubcommand(t *testing.T) {
	help := helpMessage(Invocation{Sub: "help"}).Text
	for name, s := range subcommands {
		if !slices.Contains(help, bot.Code(s.usage)[0]) {
			t.Errorf("help does not list %s", name)
		}
	}
}
