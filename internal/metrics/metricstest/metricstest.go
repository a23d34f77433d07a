// Package metricstest scrapes a /metrics endpoint the way Prometheus does
// and reads values out of the exposition, for tests of the bot and the
// agent.
package metricstest

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"go.yaml.in/yaml/v3"
)

// Families are the metric families of one scrape, by name.
type Families map[string]*dto.MetricFamily

// Scrape GETs url (a /metrics endpoint) and parses the text exposition.
func Scrape(t testing.TB, url string) Families {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("scrape %s: %s\n%s", url, resp.Status, b)
	}
	fams, err := Parse(resp.Body)
	if err != nil {
		t.Fatalf("scrape %s: %v", url, err)
	}
	return fams
}

// Parse reads a text exposition.
func Parse(r io.Reader) (Families, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("parse exposition: %w", err)
	}
	return Families(fams), nil
}

// Value is the value of the series name{labels} (pairs: "host", "gitlab-1",
// …; the series may have more labels, which must then be unambiguous), and
// whether it exists. A histogram's value is its sample count, a summary's
// too. name may end in _count or _sum to read those of a histogram.
func (f Families) Value(name string, labels ...string) (float64, bool) {
	if len(labels)%2 != 0 {
		panic("metricstest: labels must be name, value pairs")
	}
	base, part := name, ""
	if _, ok := f[name]; !ok {
		for _, suffix := range []string{"_count", "_sum"} {
			if b, ok := strings.CutSuffix(name, suffix); ok {
				if _, ok := f[b]; ok {
					base, part = b, suffix
				}
			}
		}
	}
	fam, ok := f[base]
	if !ok {
		return 0, false
	}
	var found []*dto.Metric
	for _, m := range fam.GetMetric() {
		if matches(m, labels) {
			found = append(found, m)
		}
	}
	if len(found) != 1 {
		return 0, false
	}
	m := found[0]
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue(), true
	case m.Gauge != nil:
		return m.Gauge.GetValue(), true
	case m.Histogram != nil && part == "_sum":
		return m.Histogram.GetSampleSum(), true
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount()), true
	case m.Untyped != nil:
		return m.Untyped.GetValue(), true
	}
	return 0, false
}

func matches(m *dto.Metric, labels []string) bool {
	for i := 0; i < len(labels); i += 2 {
		if !slices.ContainsFunc(m.GetLabel(), func(l *dto.LabelPair) bool {
			return l.GetName() == labels[i] && l.GetValue() == labels[i+1]
		}) {
			return false
		}
	}
	return true
}

// Want checks each expectation: "name{k=v,...} value" as name, labels
// and value, reporting every mismatch.
type Want struct {
	Name   string
	Labels []string
	Value  float64
}

// Check reports every series of wants that is missing or has another value.
func (f Families) Check(t testing.TB, wants ...Want) {
	t.Helper()
	for _, w := range wants {
		got, ok := f.Value(w.Name, w.Labels...)
		switch {
		case !ok:
			t.Errorf("%s%v: no such series in the scrape", w.Name, w.Labels)
		case got != w.Value:
			t.Errorf("%s%v = %v, want %v", w.Name, w.Labels, got, w.Value)
		}
	}
}

// APICalls is a bot.APIObserver that keeps what it was told, one line per
// call: "PLATFORM METHOD attempts=N failed=BOOL".
type APICalls struct {
	mu    sync.Mutex
	calls []string
}

// APICall implements bot.APIObserver.
func (c *APICalls) APICall(platform, method string, attempts int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf("%s %s attempts=%d failed=%t", platform, method, attempts, err != nil))
}

// Calls returns the calls told so far.
func (c *APICalls) Calls() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.calls)
}

// Rule is one alerting rule of a Prometheus rules file.
type Rule struct {
	Alert string `yaml:"alert"`
	Expr  string `yaml:"expr"`
}

// AlertRules reads the alerting rules of a Prometheus rules file.
func AlertRules(path string) ([]Rule, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var file struct {
		Groups []struct {
			Rules []Rule `yaml:"rules"`
		} `yaml:"groups"`
	}
	if err := yaml.Unmarshal(b, &file); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var rules []Rule
	for _, g := range file.Groups {
		rules = append(rules, g.Rules...)
	}
	return rules, nil
}

var metricName = regexp.MustCompile(`\bgitlab_chatops_[a-z0-9_]+`)

// Metrics are the gitlab_chatops_* names r's expression uses.
func (r Rule) Metrics() []string { return metricName.FindAllString(r.Expr, -1) }

// Missing are the metric names rules use that f does not have, sorted.
func (f Families) Missing(rules []Rule) []string {
	var out []string
	for _, r := range rules {
		for _, n := range r.Metrics() {
			if _, ok := f[n]; !ok && !slices.Contains(out, n) {
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out
}
