package commands

import (
	"context"
	"log/slog"
	"sync"
)

// Log lines of a request carry request_id, and those of an agent job
// job_id, without every function taking a logger: the context carries a
// logScope, made once where the request becomes known (withRequestLog)
// and told the job ID once the agent gives it (logScope.setJob, from the
// follower). r.logger(ctx) is the logger to use wherever a ctx is at hand.
//
// The job ID arrives in the middle of a run, after the context was made,
// so the scope is a small mutable holder rather than a value in the
// context itself.
type logScope struct {
	mu      sync.Mutex
	log     *slog.Logger // base, with request_id and job_id as known
	request string
	job     string
	base    *slog.Logger // without job_id
	// forJob: made by withJobLog for one job, which setJob names.
	forJob bool
}

type logScopeKey struct{}

func scopeOf(ctx context.Context) *logScope {
	s, _ := ctx.Value(logScopeKey{}).(*logScope)
	return s
}

// logger is the logger for work done under ctx: the router's, with the
// request_id and job_id of the request and job ctx is about.
func (r *Router) logger(ctx context.Context) *slog.Logger {
	if s := scopeOf(ctx); s != nil {
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.log
	}
	return r.log
}

// withRequestLog returns ctx whose logger carries request_id. The same
// request again (a caller already derived it) returns ctx unchanged.
func (r *Router) withRequestLog(ctx context.Context, requestID string) context.Context {
	if s := scopeOf(ctx); s != nil && s.requestID() == requestID {
		return ctx
	}
	l := r.log.With("request_id", requestID)
	return context.WithValue(ctx, logScopeKey{}, &logScope{log: l, base: l, request: requestID})
}

// withJobLog returns ctx with a scope for one job, which setJob gives
// its job_id, keeping the request_id ctx carries. A ctx made by withJobLog
// whose job is not known yet is returned unchanged: the caller (execute)
// made it so that its own lines after the job carry the job's ID too.
func (r *Router) withJobLog(ctx context.Context) context.Context {
	s := scopeOf(ctx)
	if s != nil && s.forJob && s.jobID() == "" {
		return ctx
	}
	l, request := r.log, ""
	if s != nil {
		s.mu.Lock()
		l, request = s.base, s.request
		s.mu.Unlock()
	}
	return context.WithValue(ctx, logScopeKey{}, &logScope{log: l, base: l, request: request, forJob: true})
}

func (s *logScope) requestID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.request
}

func (s *logScope) jobID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.job
}

// setJob makes every later line of the scope carry job_id.
func (s *logScope) setJob(id string) {
	if s == nil || id == "" {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.job == id {
		return
	}
	s.job = id
	s.log = s.base.With("job_id", id)
}
