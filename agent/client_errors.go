package agent

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrJobNotFound is returned (wrapped) when the agent does not know a job:
// never run there, or pruned beyond keep_jobs.
var ErrJobNotFound = errors.New("agent: job not found")

// ErrNoJobForRequest is returned (wrapped) by JobForRequest when the agent
// has no mutating job for a request ID: it never started there (or was
// pruned beyond keep_jobs).
var ErrNoJobForRequest = errors.New("agent: no job for this request")

// ErrDigestMismatch is returned (wrapped, with the record) when the client
// received every line of a job but their digest differs from the agent's.
var ErrDigestMismatch = errors.New("agent: output digest mismatch")

// APIError is any refusal by the agent other than busy (409): the HTTP
// status, the agent's message and, for 400, the request field at fault.
type APIError struct {
	Status  int
	Message string
	Field   string
	// RetryAfter is the agent's Retry-After on a 429 (0: not given).
	RetryAfter time.Duration
}

// TooBusy reports whether err is the agent's 429 (its read-only slots are
// all taken: nothing started, the same call may be made again) and how
// long the agent asked to wait (0 when it did not say).
func TooBusy(err error) (time.Duration, bool) {
	var ae *APIError
	if errors.As(err, &ae) && ae.Status == http.StatusTooManyRequests {
		return ae.RetryAfter, true
	}
	return 0, false
}

func (e *APIError) Error() string {
	if e.Field != "" {
		return fmt.Sprintf("agent: %d: %s (field %s)", e.Status, e.Message, e.Field)
	}
	return fmt.Sprintf("agent: %d: %s", e.Status, e.Message)
}

// BusyError is the agent's 409: a mutating job is already running, and
// Running says which.
type BusyError struct {
	Message string
	Running JobSummary
}

func (e *BusyError) Error() string { return "agent: " + e.Message }

// StreamError means a job started but its stream broke before the end
// event: the job goes on on the agent. Re-attach with
// Client.Attach(ctx, JobID, LastSeq+1, …).
type StreamError struct {
	JobID   string
	LastSeq int64 // the highest Seq received (0: none)
	Err     error
}

func (e *StreamError) Error() string {
	return fmt.Sprintf("agent: stream of job %s broke after line %d (the job continues; re-attach from %d): %v",
		e.JobID, e.LastSeq, e.LastSeq+1, e.Err)
}

func (e *StreamError) Unwrap() error { return e.Err }
