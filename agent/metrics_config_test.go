package agent

import (
	"strings"
	"testing"
)

// TestMetricsListenConfig: metrics_listen defaults to loopback, "" turns
// the listener off, a bad address or the mTLS port is refused with the
// fix, and only a non-loopback address counts as exposed (warned about).
func TestMetricsListenConfig(t *testing.T) {
	certs, fake, state := configFixture(t)
	base := string(fill(validYAML, certs, fake, state))
	for _, tc := range []struct {
		name, line string
		want       string // the resulting MetricsListen
		exposed    bool
		err        []string
	}{
		{name: "absent", want: DefaultMetricsListen},
		{name: "off", line: `metrics_listen: ""`, want: ""},
		{name: "loopback v6", line: `metrics_listen: "[::1]:9200"`, want: "[::1]:9200"},
		{name: "all interfaces", line: `metrics_listen: ":9101"`, want: ":9101", exposed: true},
		{name: "a node address", line: `metrics_listen: "10.0.0.5:9101"`, want: "10.0.0.5:9101", exposed: true},
		{name: "no port", line: `metrics_listen: "127.0.0.1"`, err: []string{"metrics_listen", "not host:port", DefaultMetricsListen}},
		{name: "bad port", line: `metrics_listen: "127.0.0.1:http"`, err: []string{"metrics_listen", "port"}},
		{name: "the mTLS port", line: `metrics_listen: "127.0.0.1:8443"`, err: []string{"metrics_listen", "never on the mTLS port"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := ParseConfig([]byte(base + tc.line + "\n"))
			if tc.err != nil {
				if err == nil {
					t.Fatalf("accepted: %q", cfg.MetricsListen)
				}
				for _, w := range tc.err {
					if !strings.Contains(err.Error(), w) {
						t.Errorf("error %q lacks %q", err, w)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.MetricsListen != tc.want || cfg.MetricsExposed() != tc.exposed {
				t.Errorf("metrics_listen %q exposed %t, want %q %t", cfg.MetricsListen, cfg.MetricsExposed(), tc.want, tc.exposed)
			}
		})
	}
	if DefaultConfig().MetricsListen != "" {
		t.Error("DefaultConfig serves metrics; only a configuration file asks for them")
	}
}
