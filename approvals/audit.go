package approvals

import "time"

// ActorSystem is the Actor of audit entries the bot writes on its own
// behalf (expiry, start, finish).
const ActorSystem = "system"

// ActorScheduler is the Actor of the audit entries of scheduled runs.
const ActorScheduler = "scheduler"

// Audit actions. The Service writes the request.* ones; the router writes
// the others.
const (
	ActionRequestOpened    = "request.opened"    // a request was opened
	ActionRequestApproved  = "request.approved"  // an approval was recorded (Outcome: the state after it)
	ActionRequestRefused   = "request.refused"   // an approve, deny or cancel was refused
	ActionRequestDenied    = "request.denied"    // an approver vetoed
	ActionRequestCancelled = "request.cancelled" // the requester withdrew
	ActionRequestExpired   = "request.expired"   // the approval window passed
	ActionRequestStarted   = "request.started"   // the exactly-once gate was passed
	ActionRequestJob       = "request.job"       // the agent job ID was recorded
	ActionRequestFinished  = "request.finished"  // the run ended (Outcome: succeeded, failed, interrupted), or an approved request was abandoned
	ActionRequestAnnotated = "request.annotated" // parameters were added (a suggested follow-up)
	ActionRequestNoted     = "request.noted"     // a running request's note was set or cleared (e.g. "outcome unknown: agent unreachable since …")
	ActionCommandRefused   = "command.refused"   // a command was refused by policy
	ActionAuthRefused      = "auth.refused"      // an incoming call failed verification
	ActionReadOnlyRun      = "readonly.run"      // a read-only operation ran
	ActionScheduleAdded    = "schedule.added"    // an admin added a schedule from chat (Detail: the schedule)
	ActionScheduleRemoved  = "schedule.removed"  // an admin removed a chat-defined schedule (Detail: the schedule)
	ActionScheduleRunNow   = "schedule.run"      // someone ran a schedule now (`schedules run`; the run itself is the scheduler's readonly.run)
)

// AuditEntry is one line of the audit trail.
//
// The log is a keyed hash chain: each stored entry carries the HMAC-SHA256
// of the previous entry's stored bytes, so changing, removing or
// reordering an entry is detected by verification (package auditchain).
//
// The JSON form is the stored form. Seq, Time and PrevHash must stay
// omitted when zero: package auditchain encodes the rest of an entry
// before its transaction and writes those three in front of it inside.
type AuditEntry struct {
	// Seq is assigned by the log: 1, 2, 3, ... without gaps.
	Seq uint64 `json:"seq,omitzero"`
	// Time is assigned by the log when zero.
	Time time.Time `json:"time,omitzero"`
	// Actor is a user ID qualified by platform ("slack:U123"; bare in
	// entries written before IDs were qualified), or ActorSystem.
	Actor     string `json:"actor,omitempty"`
	ActorName string `json:"actor_name,omitempty"`
	// Action is one of the Action* constants.
	Action       string   `json:"action,omitempty"`
	RequestID    string   `json:"request_id,omitempty"`
	Host         string   `json:"host,omitempty"`
	Operation    string   `json:"operation,omitempty"`
	Argv         []string `json:"argv,omitempty"`
	Outcome      string   `json:"outcome,omitempty"`
	Detail       string   `json:"detail,omitempty"`
	OutputDigest string   `json:"output_digest,omitempty"`
	// PrevHash is the hex HMAC-SHA256 of the previous entry's stored
	// bytes; empty for the first entry. Assigned by the log.
	PrevHash string `json:"prev_hash,omitempty"`
}
