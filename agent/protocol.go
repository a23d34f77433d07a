package agent

import (
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Wire types shared by the agent (server) and the bot (client). Everything is
// JSON; a job's output streams as NDJSON, one Event per line.

// ProtocolVersion names the API generation, the prefix of every path.
const ProtocolVersion = "v1"

// RunRequest asks the agent to run one catalogue operation. The agent builds
// the argv itself from Operation and Args (gitlab.Operation.Command); nothing
// in the request is ever passed to a shell or used as a program name.
type RunRequest struct {
	Operation string      `json:"operation"`
	Args      gitlab.Args `json:"args"`
	// Argv is the command line the bot built, program first, without the
	// agent's path or sudo prefix (gitlab.Command.Argv): for a mutating
	// operation, exactly the argv stored in the approved request and shown
	// on its approval message. The agent runs only if its own catalogue
	// builds the same argv from Operation and Args. Required for mutating
	// operations; compared when given for read-only ones.
	Argv []string `json:"argv,omitempty"`
	// RequestID, Requester and Approvers come from the bot's approval record.
	// The agent records them so that the host's own records say who asked
	// and who approved; for a mutating run they must be what Approval says.
	RequestID string   `json:"request_id,omitempty"`
	Requester string   `json:"requester,omitempty"`
	Approvers []string `json:"approvers,omitempty"`
	// Approval is the bot's signed statement that this mutating run was
	// approved (see ApprovalStatement): it must name this host, Operation,
	// Argv, RequestID, Requester and Approvers. Required for mutating
	// operations, refused on read-only ones.
	Approval *ApprovalStatement `json:"approval,omitempty"`
	// Purpose is "" or PurposeApprovalCheck. An approval check is a
	// read-only run that an approver waits on (the migrate fingerprint
	// re-check); the agent keeps one read-only slot for it, so status
	// traffic cannot starve approvals.
	Purpose string `json:"purpose,omitempty"`
}

// PurposeApprovalCheck marks a read-only RunRequest made to check an
// approval; see RunRequest.Purpose and Config.MaxReadOnlyJobs.
const PurposeApprovalCheck = "approval-check"

// Event types of a job stream.
const (
	EventJob       = "job"       // first event: the job summary (its ID above all)
	EventLine      = "line"      // one line of output
	EventHeartbeat = "heartbeat" // sent after HeartbeatInterval without other events
	EventEnd       = "end"       // last event: the complete JobRecord
)

// Event is one NDJSON line of a job stream. Exactly one of Job, Line and
// Record is set, according to Type; heartbeats carry only Time.
type Event struct {
	Type   string      `json:"type"`
	Time   time.Time   `json:"time,omitzero"`
	Job    *JobSummary `json:"job,omitempty"`
	Line   *Line       `json:"line,omitempty"`
	Record *JobRecord  `json:"record,omitempty"`
}

// Streams a Line can come from.
const (
	StreamStdout = "stdout"
	StreamStderr = "stderr"
)

// MaxLineBytes caps one Line's text. A longer line of output is split into
// several Lines of at most this size (cut at a UTF-8 boundary), so no single
// line can make the agent or the client buffer without bound.
const MaxLineBytes = 64 * 1024

// Line is one line of a job's output, without its newline. Seq numbers the
// lines of a job from 1 across both streams, in the order the agent read
// them; the order within one stream is the program's. Text is valid UTF-8:
// invalid bytes are replaced with U+FFFD before the line is numbered, so
// every copy of it (stream, log, digest) is the same.
type Line struct {
	Seq    int64     `json:"seq"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
	Text   string    `json:"text"`
}

// Job states.
const (
	StateRunning     = "running"
	StateSucceeded   = "succeeded"
	StateFailed      = "failed"
	StateTimedOut    = "timed_out"
	StateCancelled   = "cancelled"
	StateInterrupted = "interrupted" // the agent stopped or restarted while the job ran
)

// JobSummary identifies a job and says what it runs; it is the job event's
// payload and what a busy refusal names.
type JobSummary struct {
	ID        string      `json:"id"`
	Operation string      `json:"operation"`
	Args      gitlab.Args `json:"args"`
	Argv      []string    `json:"argv"`
	Mutating  bool        `json:"mutating"`
	RequestID string      `json:"request_id,omitempty"`
	Requester string      `json:"requester,omitempty"`
	Approvers []string    `json:"approvers,omitempty"`
	State     string      `json:"state"`
	Started   time.Time   `json:"started"`
}

// HeadTailLines is how many lines JobRecord.Head and JobRecord.Tail keep.
const HeadTailLines = 50

// JobRecord is everything the agent keeps about a job. It is written to
// state_dir/jobs/<id>/record.json when the job starts, every few seconds
// while it runs and when it ends, and is the payload of the end event.
type JobRecord struct {
	ID        string      `json:"id"`
	Operation string      `json:"operation"`
	Args      gitlab.Args `json:"args"`
	// Argv is exactly what was executed, sudo prefix included.
	Argv      []string `json:"argv"`
	Mutating  bool     `json:"mutating"`
	RequestID string   `json:"request_id,omitempty"`
	Requester string   `json:"requester,omitempty"`
	Approvers []string `json:"approvers,omitempty"`
	State     string   `json:"state"`
	// ExitCode is the program's exit status; nil when it did not exit by
	// itself (not started, killed by a signal).
	ExitCode   *int      `json:"exit_code,omitempty"`
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended,omitzero"`
	DurationMS int64     `json:"duration_ms"`
	// Digest is "sha256:<hex>" of the output, see DigestLines. It covers
	// every line, including those past the on-disk log bound.
	Digest string `json:"digest"`
	// Lines is the number of lines (the last Seq); Bytes the number of
	// bytes the program wrote to stdout and stderr together.
	Lines int64 `json:"lines"`
	Bytes int64 `json:"bytes"`
	// Head and Tail are the first and last HeadTailLines lines; they
	// overlap when the job printed fewer than 2*HeadTailLines lines.
	Head []Line `json:"head"`
	Tail []Line `json:"tail"`
	// LogTruncated is set when the on-disk output log reached max_log_bytes
	// (or could not be written): replays stop there, then continue with
	// whatever of Tail comes after.
	LogTruncated bool `json:"log_truncated,omitempty"`
	// Error explains a state other than succeeded in words.
	Error string `json:"error,omitempty"`
}

// Summary returns the JobSummary of r.
func (r JobRecord) Summary() JobSummary {
	return JobSummary{
		ID: r.ID, Operation: r.Operation, Args: r.Args, Argv: r.Argv, Mutating: r.Mutating,
		RequestID: r.RequestID, Requester: r.Requester, Approvers: r.Approvers,
		State: r.State, Started: r.Started,
	}
}

// Finished reports whether the job has ended, in whatever way.
func (r JobRecord) Finished() bool { return r.State != StateRunning }

// ErrorResponse is the body of every non-2xx answer. Field names the
// request field at fault (operation, args field names, request_id, …) when
// there is one.
type ErrorResponse struct {
	Error string `json:"error"`
	Field string `json:"field,omitempty"`
	// Running is set on 409 busy: the mutating job holding the lock.
	Running *JobSummary `json:"running,omitempty"`
}

// CancelRequest is the optional body of POST /v1/jobs/{id}/cancel.
type CancelRequest struct {
	Requester string `json:"requester,omitempty"`
	Reason    string `json:"reason,omitempty"`
}

// Health is the answer of GET /v1/health.
type Health struct {
	Status  string       `json:"status"` // "ok", or "draining" while shutting down
	Version string       `json:"version"`
	Time    time.Time    `json:"time"`
	Running []JobSummary `json:"running"`
}

// OperationInfo describes one catalogue entry in VersionInfo.
type OperationInfo struct {
	Name           string `json:"name"`
	Kind           string `json:"kind"`
	Mutating       bool   `json:"mutating"`
	Program        string `json:"program"`
	TimeoutSeconds int64  `json:"timeout_seconds"`
	Summary        string `json:"summary"`
}

// VersionInfo is the answer of GET /v1/version.
type VersionInfo struct {
	Version    string          `json:"version"`
	Protocol   string          `json:"protocol"`
	Operations []OperationInfo `json:"operations"`
}
