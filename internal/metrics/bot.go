package metrics

import (
	"errors"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Bot is the bot's metrics: its registry and collectors, and the hook
// methods the observed packages call (through their own observer
// interfaces). Create one per process with NewBot; a nil *Bot records
// nothing.
type Bot struct {
	reg *prometheus.Registry

	commands    *prometheus.CounterVec
	transitions *prometheus.CounterVec
	decision    *prometheus.HistogramVec
	completion  *prometheus.HistogramVec
	audit       *prometheus.CounterVec
	jobs        *prometheus.HistogramVec
	apiCalls    *prometheus.CounterVec
	apiErrors   *prometheus.CounterVec
	apiRetries  *prometheus.CounterVec
	scheduled   *prometheus.CounterVec
	statusAt    *prometheus.GaugeVec
	down        *prometheus.GaugeVec
}

// NewBot returns the bot's metrics in a registry of their own.
func NewBot() *Bot {
	b := &Bot{
		reg: newRegistry(),
		commands: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("commands_total"),
			Help: "Commands typed or clicked, by subcommand and outcome (accepted, refused, error)."},
			[]string{"subcommand", "outcome"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("request_transitions_total"),
			Help: "Requests that entered a state (counted transitions; pending counts opened requests), by operation and state."},
			[]string{"operation", "state"}),
		decision: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name("request_decision_seconds"),
			Help:    "Time from a request being opened to its decision, by operation and decision (approved, denied, cancelled, expired).",
			Buckets: requestBuckets}, []string{"operation", "decision"}),
		completion: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name("request_completion_seconds"),
			Help:    "Time from a request being opened to the end of its run (succeeded, failed, interrupted), by operation and state.",
			Buckets: requestBuckets}, []string{"operation", "state"}),
		audit: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("audit_entries_appended_total"),
			Help: "Audit entries appended to the trail (committed), by action."}, []string{"action"}),
		jobs: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: name("agent_job_duration_seconds"),
			Help:    "Duration of agent jobs the bot followed to their end, by host, operation and state (the exit class: succeeded, failed, timed_out, cancelled, interrupted).",
			Buckets: jobBuckets}, []string{"host", "operation", "state"}),
		apiCalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("chat_api_calls_total"),
			Help: "Chat platform API calls (each counted once, however many attempts), by platform and method."},
			[]string{"platform", "method"}),
		apiErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("chat_api_errors_total"),
			Help: "Chat platform API calls that failed for good (after their retries), by platform and method."},
			[]string{"platform", "method"}),
		apiRetries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("chat_api_retries_total"),
			Help: "Chat platform API attempts repeated after a rate limit or a server error, by platform and method."},
			[]string{"platform", "method"}),
		scheduled: prometheus.NewCounterVec(prometheus.CounterOpts{Name: name("scheduled_runs_total"),
			Help: "Scheduled runs, by schedule ID and outcome (posted, silent, failed, error, skipped)."},
			[]string{"schedule", "outcome"}),
		statusAt: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("status_last_success_timestamp_seconds"),
			Help: "Unix time of the last db:migrate:status that succeeded and parsed, by host and database."},
			[]string{"host", "database"}),
		down: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: name("migrations_down"),
			Help: "Migrations down in the last successful db:migrate:status, by host and database."},
			[]string{"host", "database"}),
	}
	b.reg.MustRegister(b.commands, b.transitions, b.decision, b.completion, b.audit, b.jobs,
		b.apiCalls, b.apiErrors, b.apiRetries, b.scheduled, b.statusAt, b.down)
	return b
}

// Handler serves the bot's metrics (mount it at /metrics).
func (b *Bot) Handler() http.Handler { return handler(b.reg) }

// Registry is the bot's registry, for collectors registered by the wiring
// and for tests that gather it.
func (b *Bot) Registry() *prometheus.Registry { return b.reg }

// Command counts one command by subcommand ("unknown" for text that names
// none) and outcome.
func (b *Bot) Command(subcommand, outcome string) {
	if b == nil {
		return
	}
	b.commands.WithLabelValues(subcommand, outcome).Inc()
}

// Decisions and completions: the states RequestChanged times.
var (
	decisions   = map[string]bool{"approved": true, "denied": true, "cancelled": true, "expired": true}
	completions = map[string]bool{"succeeded": true, "failed": true, "interrupted": true}
)

// RequestChanged records that a request of operation went from one state
// to another (from is "" for a request just opened); age is the time from
// its opening to this change. A decision (leaving pending) is timed in
// request_decision_seconds, an end after approval in
// request_completion_seconds.
func (b *Bot) RequestChanged(operation, from, to string, age time.Duration) {
	if b == nil || from == to {
		return
	}
	b.transitions.WithLabelValues(operation, to).Inc()
	switch {
	case from == "pending" && decisions[to]:
		b.decision.WithLabelValues(operation, to).Observe(age.Seconds())
	case from != "pending" && completions[to]:
		b.completion.WithLabelValues(operation, to).Observe(age.Seconds())
	}
}

// AuditAppended counts one committed audit entry.
func (b *Bot) AuditAppended(action string) {
	if b == nil {
		return
	}
	b.audit.WithLabelValues(action).Inc()
}

// AgentJob records a job the bot followed to its end.
func (b *Bot) AgentJob(host, operation, state string, d time.Duration) {
	if b == nil {
		return
	}
	b.jobs.WithLabelValues(host, operation, state).Observe(d.Seconds())
}

// MigrationStatus records a successful db:migrate:status of one database
// on host, taken at at, with down migrations down.
func (b *Bot) MigrationStatus(host, database string, down int, at time.Time) {
	if b == nil {
		return
	}
	b.statusAt.WithLabelValues(host, database).Set(float64(at.UnixNano()) / 1e9)
	b.down.WithLabelValues(host, database).Set(float64(down))
}

// APICall records one chat API call that took attempts tries and ended
// with err (nil: it succeeded).
func (b *Bot) APICall(platform, method string, attempts int, err error) {
	if b == nil {
		return
	}
	// Errors and retries are reported (as 0) from a method's first call,
	// so that a rate over them has a series before the first failure.
	b.apiCalls.WithLabelValues(platform, method).Inc()
	b.apiRetries.WithLabelValues(platform, method).Add(float64(max(attempts-1, 0)))
	failed := b.apiErrors.WithLabelValues(platform, method)
	if err != nil {
		failed.Inc()
	}
}

// ScheduledRun counts one run of schedule id by outcome.
func (b *Bot) ScheduledRun(id, outcome string) {
	if b == nil {
		return
	}
	b.scheduled.WithLabelValues(id, outcome).Inc()
}

// errNoReader is the scrape error of a read-time collector without a
// reader (a wiring mistake, not a runtime condition).
var errNoReader = errors.New("metrics: no reader")
