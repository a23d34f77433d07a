package commands_test

import (
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/commands"
)

// TestParseEmergency: --emergency is a switch of the three subcommands
// that change GitLab, and of no other.
func TestParseEmergency(t *testing.T) {
	for _, tc := range []struct {
		line      string
		emergency bool
		args      []string
		reason    string
		err       string
	}{
		{line: "migrate --emergency -- INC-1 deploy blocked", emergency: true, reason: "INC-1 deploy blocked"},
		{line: "restart --emergency puma -- INC-2", emergency: true, args: []string{"puma"}, reason: "INC-2"},
		{line: "restart puma --host gitlab-1 --emergency -- INC-2", emergency: true, args: []string{"puma"}, reason: "INC-2"},
		{line: "finalize --from r7k2qxa9 --emergency -- INC-3", emergency: true, reason: "INC-3"},
		{line: "migrate -- --emergency is only words here", reason: "--emergency is only words here"},
		{line: "migrate --emergency --emergency -- x", err: "--emergency is given twice"},
		{line: "migrate --emergency=1 -- x", err: "--emergency takes no value"},
		{line: "status --emergency", err: "status does not take --emergency"},
		{line: "approve r7k2qxa9 --emergency", err: "approve does not take --emergency"},
	} {
		t.Run(tc.line, func(t *testing.T) {
			inv, err := commands.Parse(tc.line)
			if tc.err != "" {
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Fatalf("err = %v, want %q", err, tc.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if inv.Emergency != tc.emergency || inv.Reason != tc.reason || strings.Join(inv.Args, " ") != strings.Join(tc.args, " ") {
				t.Fatalf("got emergency %v, args %q, reason %q", inv.Emergency, inv.Args, inv.Reason)
			}
		})
	}
}
