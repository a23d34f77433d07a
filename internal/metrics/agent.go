package metrics

import (
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Agent is the host agent's metrics, in a registry of its own. A nil
// *Agent records nothing.
type Agent struct {
	reg      *prometheus.Registry
	started  *prometheus.CounterVec
	running  *prometheus.GaugeVec
	duration *prometheus.HistogramVec
	busy     *prometheus.CounterVec
}

// NewAgent returns the agent's metrics.
func NewAgent() *Agent {
	a := &Agent{
		reg: newRegistry(),
		started: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("agent_jobs_started_total"),
			Help: "Jobs the agent started, by operation."}, []string{"operation"}),
		running: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("agent_jobs_running"),
			Help: "Jobs running now, by kind (mutating, read_only)."}, []string{"kind"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name("agent_job_run_seconds"),
			Help:    "Duration of the agent's jobs, by operation and end state (succeeded, failed, timed_out, cancelled, interrupted).",
			Buckets: jobBuckets}, []string{"operation", "state"}),
		busy: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("agent_busy_rejections_total"),
			Help: "Runs refused because the agent was busy, by kind: mutating (409, a mutating job runs) or read_only (429, every read-only slot taken)."},
			[]string{"kind"}),
	}
	a.reg.MustRegister(a.started, a.running, a.duration, a.busy)
	// Both kinds are reported from the start, so a dashboard shows 0
	// rather than nothing.
	for _, k := range []string{"mutating", "read_only"} {
		a.running.WithLabelValues(k)
		a.busy.WithLabelValues(k)
	}
	return a
}

// Handler serves the agent's metrics.
func (a *Agent) Handler() http.Handler { return handler(a.reg) }

// Registry is the agent's registry.
func (a *Agent) Registry() *prometheus.Registry { return a.reg }

func kind(mutating bool) string {
	if mutating {
		return "mutating"
	}
	return "read_only"
}

// JobStarted records a job that started.
func (a *Agent) JobStarted(operation string, mutating bool) {
	if a == nil {
		return
	}
	a.started.WithLabelValues(operation).Inc()
	a.running.WithLabelValues(kind(mutating)).Inc()
}

// JobEnded records a job that ended in state after d.
func (a *Agent) JobEnded(operation string, mutating bool, state string, d time.Duration) {
	if a == nil {
		return
	}
	a.running.WithLabelValues(kind(mutating)).Dec()
	a.duration.WithLabelValues(operation, state).Observe(d.Seconds())
}

// BusyRejected records a run refused because its kind of slot was taken.
func (a *Agent) BusyRejected(mutating bool) {
	if a == nil {
		return
	}
	a.busy.WithLabelValues(kind(mutating)).Inc()
}
