package metrics

import (
	"context"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics/metricstest"
)

// alertsFile is the example rules, from this package's directory.
const alertsFile = "../../deploy/prometheus/alerts.yaml"

// TestAlertRulesUseRealMetrics: every metric name in
// deploy/prometheus/alerts.yaml is one the bot really exposes, once each
// hook and scrape-time reader has run. (promtool, in CI, checks the rules'
// syntax and, with alerts_test.yaml, that they fire; the serve test checks
// the names again on a real scrape.)
func TestAlertRulesUseRealMetrics(t *testing.T) {
	rules, err := metricstest.AlertRules(alertsFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(rules) < 4 {
		t.Fatalf("%d rules; the examples cover down migrations, unreachable agents, waiting approvals and failing schedules", len(rules))
	}
	for _, r := range rules {
		if len(r.Metrics()) == 0 {
			t.Errorf("rule %s uses no gitlab_chatops_ metric: %q", r.Alert, r.Expr)
		}
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
	got := metricstest.Families{}
	for _, f := range fams {
		got[f.GetName()] = f
	}
	for _, n := range got.Missing(rules) {
		t.Errorf("alerts.yaml uses %s, which the bot does not expose", n)
	}
}
