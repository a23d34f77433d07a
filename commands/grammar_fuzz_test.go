package commands

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// FuzzParse checks the grammar's promises on any text: it never panics;
// what it accepts has no invisible or text-direction character in any
// field, a reason within its bound, and a finalize with exactly the four
// values (or --from).
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"status --db ci", "migrate -- upgrade to 17.5", "deny r7k2qxa9 can't now", runbookLine,
		"finalize " + runbookLine + " -- why", "finalize Job t c [[\"id\"]\\, [\"x\"]] --db ci",
		"sudo gitlab-ctl restart sidekiq -- x", "finalize '[", "approve a b c", "migrate -- a\u202eb",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		inv, err := Parse(text)
		if err != nil {
			return
		}
		fields := append([]string{inv.Sub, inv.Host, inv.DB, inv.From, inv.Reason}, inv.Args...)
		for _, s := range fields {
			for _, r := range s {
				if _, bad := invisible(r); bad {
					t.Fatalf("Parse(%q) accepted %U in %+v", text, r, inv)
				}
			}
		}
		if n := utf8.RuneCountInString(inv.Reason); n > maxReasonRunes {
			t.Fatalf("Parse(%q) accepted a reason of %d characters", text, n)
		}
		if inv.Sub == "finalize" && inv.From == "" && len(inv.Args) != 4 {
			t.Fatalf("Parse(%q) accepted finalize with %d values", text, len(inv.Args))
		}
		if _, ok := subcommands[inv.Sub]; !ok || strings.TrimSpace(inv.Sub) == "" {
			t.Fatalf("Parse(%q) accepted subcommand %q", text, inv.Sub)
		}
	})
}
