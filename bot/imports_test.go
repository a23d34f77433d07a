package bot_test

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// importViolations checks the import rules of the chat layer on go list
// lines "PKG IMPORT IMPORT…" of the module mod: an adapter (any package
// under bot/ except bot itself and bot/bottest, whose fixtures need the
// router) imports no package of the module but bot; commands imports no
// package under bot/ but bot. Third-party and standard packages are free.
func importViolations(mod string, lines []string) []string {
	botPkg := mod + "/bot"
	var bad []string
	for _, line := range lines {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		pkg, imports := f[0], f[1:]
		ours := func(p string) bool { return p == mod || strings.HasPrefix(p, mod+"/") }
		switch {
		case pkg == mod+"/commands":
			for _, imp := range imports {
				if strings.HasPrefix(imp, botPkg+"/") {
					bad = append(bad, pkg+" imports the adapter "+imp+": the router must know no platform")
				}
			}
		case strings.HasPrefix(pkg, botPkg+"/") && pkg != botPkg+"/bottest":
			for _, imp := range imports {
				if ours(imp) && imp != botPkg {
					bad = append(bad, pkg+" imports "+imp+": an adapter imports only bot (what it needs comes in through bot.Setup and bot.ConfigProblems)")
				}
			}
		}
	}
	return bad
}

func TestImportViolations(t *testing.T) {
	const mod = "example.com/m"
	for _, tc := range []struct {
		name string
		line string
		bad  bool
	}{
		{"adapter on bot and its SDK", mod + "/bot/slack " + mod + "/bot github.com/slack-go/slack net/http", false},
		{"adapter on another package of ours", mod + "/bot/slack " + mod + "/bot " + mod + "/internal/transport", true},
		{"adapter on another adapter", mod + "/bot/chat2 " + mod + "/bot/slack", true},
		{"bottest may import the router", mod + "/bot/bottest " + mod + "/commands " + mod + "/internal/golden", false},
		{"adapter in a test folder", mod + "/bot/bottest/webhookchat " + mod + "/commands", true},
		{"commands on bot", mod + "/commands " + mod + "/bot " + mod + "/gitlab", false},
		{"commands on an adapter", mod + "/commands " + mod + "/bot " + mod + "/bot/mattermost", true},
		{"bot itself", mod + "/bot net/http", false},
		{"serve wires adapters", mod + "/cmd/x " + mod + "/bot/slack " + mod + "/internal/transport", false},
	} {
		if got := importViolations(mod, []string{tc.line}); (len(got) > 0) != tc.bad {
			t.Errorf("%s: violations %q, want any: %v", tc.name, got, tc.bad)
		}
	}
}

// TestAdaptersImportOnlyBot holds the module to the rules of
// importViolations, as go list reports its packages (not their tests).
func TestAdaptersImportOnlyBot(t *testing.T) {
	goList := func(args ...string) []string {
		t.Helper()
		out, err := exec.Command("go", append([]string{"list"}, args...)...).Output()
		if err != nil {
			t.Fatalf("go list %s: %v", strings.Join(args, " "), err)
		}
		return strings.Split(strings.TrimSpace(string(out)), "\n")
	}
	mod := goList("-m")[0]
	lines := goList("-deps=false", "-f", `{{.ImportPath}} {{join .Imports " "}}`, "./...", "../commands")
	// The rule must have something to hold: the adapters and commands are
	// among the packages listed.
	var pkgs []string
	for _, l := range lines {
		pkgs = append(pkgs, strings.Fields(l)[0])
	}
	for _, want := range []string{"/bot/slack", "/bot/mattermost", "/bot/console", "/commands"} {
		if !slices.Contains(pkgs, mod+want) {
			t.Fatalf("go list did not list %s%s: %q", mod, want, pkgs)
		}
	}
	for _, v := range importViolations(mod, lines) {
		t.Error(v)
	}
}
