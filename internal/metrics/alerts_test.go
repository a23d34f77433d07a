package metrics

import (
	"context"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"
)

// alertsFile is the example rules, from this package's directory.
const alertsFile = "../../deploy/prometheus/alerts.yaml"

// alertMetrics returns every gitlab_chatops_* name the rules' expressions
// use, and the number of rules.
func alertMetrics(t *testing.T, path string) ([]string, int) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Groups []struct {
			Rules []struct {
				Alert string `yaml:"alert"`
				Expr  string `yaml:"expr"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	re := regexp.MustCompile(`\b` + Prefix + `_[a-z0-9_]+`)
	var names []string
	rules := 0
	for _, g := range file.Groups {
		for _, r := range g.Rules {
			rules++
			found := re.FindAllString(r.Expr, -1)
			if len(found) == 0 {
				t.Errorf("rule %s uses no %s_ metric: %q", r.Alert, Prefix, r.Expr)
			}
			names = append(names, found...)
		}
	}
	slices.Sort(names)
	return slices.Compact(names), rules
}

// TestAlertRulesUseRealMetrics: every metric name in
// deploy/prometheus/alerts.yaml is one the bot really exposes, once each
// hook and scrape-time reader has run. (promtool, in CI, checks the rules'
// syntax and, with alerts_test.yaml, that they fire.)
func TestAlertRulesUseRealMetrics(t *testing.T) {
	names, rules := alertMetrics(t, alertsFile)
	if rules < 4 {
		t.Fatalf("%d rules; the examples cover down migrations, unreachable agents, waiting approvals and failing schedules", rules)
	}
	b := NewBot()
	b.MigrationStatus("gitlab-1", "main", 1, time.Now())
	b.ScheduledRun("daily", "failed")
	if err := b.WatchRequests(func(context.Context) (OpenRequests, error) {
		return OpenRequests{ByState: map[string]int{"pending": 1}}, nil
	}, time.Minute, time.Second); err != nil {
		t.Fatal(err)
	}
	if err := b.ProbeAgents(map[string]Probe{"gitlab-1": func(context.Context) error { return nil }}, time.Second); err != nil {
		t.Fatal(err)
	}
	fams, err := b.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	exposed := map[string]bool{}
	for _, f := range fams {
		exposed[f.GetName()] = true
	}
	for _, n := range names {
		if !exposed[n] {
			t.Errorf("alerts.yaml uses %s, which the bot does not expose", n)
		}
	}
}
