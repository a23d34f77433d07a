package agent

import "time"

// ServerObserver is told about the agent's jobs, for metrics; it must be
// quick (some calls are made under the server's lock).
// internal/metrics' *Agent implements it.
type ServerObserver interface {
	// JobStarted: a job of operation started.
	JobStarted(operation string, mutating bool)
	// JobEnded: it ended in state (succeeded, failed, timed_out,
	// cancelled, interrupted) after d.
	JobEnded(operation string, mutating bool, state string, d time.Duration)
	// BusyRejected: a run was refused because its kind of slot was
	// taken (a mutating job runs: 409; every read-only slot: 429).
	BusyRejected(mutating bool)
}

// ServerOption configures a Server beyond its Config.
type ServerOption func(*Server)

// WithObserver reports the server's jobs to o.
func WithObserver(o ServerObserver) ServerOption {
	return func(s *Server) {
		if o != nil {
			s.obs = o
		}
	}
}

type noServerObserver struct{}

func (noServerObserver) JobStarted(string, bool)                      {}
func (noServerObserver) JobEnded(string, bool, string, time.Duration) {}
func (noServerObserver) BusyRejected(bool)                            {}
