package metrics

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prefix is the namespace of every metric of the bot and the agent.
const Prefix = "gitlab_chatops"

// newRegistry returns a registry with the Go runtime and process
// collectors, the baseline every scrape target has.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return reg
}

// handler serves reg in the exposition format. A collector that fails
// (a store that cannot be read) leaves its metrics out and is logged by
// promhttp's error log, never failing the whole scrape.
func handler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError, Registry: reg})
}

func name(n string) string { return Prefix + "_" + n }

// Buckets for durations that range from a second (a status) to hours (a
// migrate, an approval that waits for someone to come back).
var (
	jobBuckets     = []float64{0.25, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200}
	requestBuckets = []float64{10, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 14400, 43200, 86400}
)
