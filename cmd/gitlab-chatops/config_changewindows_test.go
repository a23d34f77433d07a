package main

import (
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// checkPolicyYAML decodes a policy section as the bot's file would hold
// it and checks it, returning the problems by key path and the policy.
func checkPolicyYAML(t *testing.T, doc string) (map[string]string, approvals.Policy) {
	t.Helper()
	p := configcheck.New("bot.yaml")
	var fc struct {
		Policy policyConfig `yaml:"policy"`
	}
	if !p.Decode([]byte(doc), &fc) {
		t.Fatalf("decode: %v", p.Err())
	}
	pol := checkPolicy(p, fc.Policy, false, nil)
	got := map[string]string{}
	for _, q := range p.List() {
		got[q.Path] = q.String()
	}
	return got, pol
}

func TestPolicyWindowsConfig(t *testing.T) {
	valid := `
policy:
  approvers: [bob, carol]
  emergency_approvers: [oncall]
  windows:
    allow:
      - spec: "0 9 * * 1-5"
        duration: 8h
        tz: Europe/Berlin
    freeze:
      - name: year-end freeze
        from: 2026-12-19
        to: "2027-01-04 08:00"
        tz: Europe/Berlin
      - spec: "0 0 * * 6"
        duration: 48h
`
	problems, pol := checkPolicyYAML(t, valid)
	if len(problems) != 0 {
		t.Fatalf("valid windows refused: %v", problems)
	}
	if pol.Windows == nil || !slices.Equal(pol.EmergencyApprovers, []string{"console:oncall"}) {
		t.Fatalf("policy: windows %v, emergency approvers %v", pol.Windows, pol.EmergencyApprovers)
	}
	// Tue 2026-12-22 10:00 UTC: inside a weekday window, but frozen.
	why, next, closed := pol.Windows.Closed(time.Date(2026, 12, 22, 10, 0, 0, 0, time.UTC))
	if !closed || !strings.Contains(why, "year-end freeze") || pol.Windows.Format(next) != "Mon 2027-01-04 09:00 CET (Europe/Berlin), 08:00 UTC" {
		t.Fatalf("Closed = %q, %s, %v", why, pol.Windows.Format(next), closed)
	}

	for _, tc := range []struct {
		name, windows string
		want          map[string]string // key path → words of its problem
	}{
		{"every field wrong at once", `
    allow:
      - spec: "@every 1h"
        duration: 0s
        tz: Mars/Olympus
      - spec: "0 9 * * 1-5"
    freeze:
      - from: 24.12.2026
        to: 2027-01-04
      - from: 2027-01-04
        to: 2026-12-24
`, map[string]string{
			"policy.windows.allow[0].spec":     "starts no window at a fixed time",
			"policy.windows.allow[0].duration": "must be positive",
			"policy.windows.allow[0].tz":       "unknown time zone",
			"policy.windows.allow[1].duration": "missing",
			"policy.windows.freeze[0].from":    "is not a date",
			"policy.windows.freeze[1].to":      "must be after from",
		}},
		{"both forms, or neither", `
    freeze:
      - spec: "0 0 * * 6"
        duration: 48h
        from: 2026-12-24
      - name: nothing
`, map[string]string{
			"policy.windows.freeze[0]": "not both",
			"policy.windows.freeze[1]": "is empty",
		}},
		{"a fixed period needs both ends; a duration is a Go duration", `
    allow:
      - spec: "0 9 * * *"
        duration: 8 hours
    freeze:
      - from: 2026-12-24
`, map[string]string{
			"policy.windows.allow[0].duration": "8h",
			"policy.windows.freeze[0].to":      "missing",
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, _ := checkPolicyYAML(t, "policy:\n  anyone_may_approve: true\n  windows:"+tc.windows)
			if len(got) != len(tc.want) {
				t.Errorf("problems %v, want %d", got, len(tc.want))
			}
			for path, words := range tc.want {
				if !strings.Contains(got[path], words) {
					t.Errorf("%s: %q, want it to say %q", path, got[path], words)
				}
			}
		})
	}
	got, _ := checkPolicyYAML(t, "policy:\n  windows:\n    allow:\n      - spec: \"0 9 * * *\"\n        lasts: 8h\n")
	if !strings.Contains(got["policy.windows.allow[0].lasts"], "unknown") {
		t.Errorf("an unknown key is not refused at its path: %v", got)
	}
}

// TestREADMEWindowsPolicy: the README's example policy of "Change windows,
// freezes and break-glass" is valid, and its refusal example is what the
// bot says on its freeze.
func TestREADMEWindowsPolicy(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Change windows, freezes and break-glass\n")
	if !ok {
		t.Fatal("the README has no section on change windows")
	}
	_, block, _ := strings.Cut(section, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	problems, pol := checkPolicyYAML(t, block)
	if len(problems) != 0 {
		t.Fatalf("the README's example policy is refused: %v", problems)
	}
	at := time.Date(2026, 12, 22, 10, 0, 0, 0, time.UTC)
	svc, err := approvals.NewService(&approvalstest.Store{}, pol, approvals.WithClock(func() time.Time { return at }),
		approvals.WithGroupResolver("", approvalstest.Groups{}))
	if err != nil {
		t.Fatal(err)
	}
	refusal := svc.CheckWindow("migrate", false)
	if refusal == nil {
		t.Fatal("the README's policy allows a migrate inside its freeze")
	}
	said := strings.Join(strings.Fields(section), " ")
	want := strings.TrimSuffix(strings.Join(strings.Fields(refusal.Error()), " "), ": "+approvals.ErrOutsideWindow.Error())
	if !strings.Contains(said, "M"+strings.TrimPrefix(want, "m")+".") {
		t.Fatalf("the README's refusal is not what the bot says, which is:\n%s", want)
	}
}
