package approvals

import "errors"

// Sentinel errors. The Service wraps them in a message meant for the chat
// user, e.g. "request r7k2qxa9 was already approved by bob at 10:42 UTC:
// request already decided"; test for them with errors.Is.
var (
	// ErrNotFound: there is no such request.
	ErrNotFound = errors.New("not found")
	// ErrExists: a request with that ID already exists (Store.Create).
	ErrExists = errors.New("already exists")
	// ErrInvalid: the input is malformed (empty host, unknown outcome, ...).
	ErrInvalid = errors.New("invalid")

	// ErrNotAllowed: the policy does not let this user request this
	// operation, or not in this channel.
	ErrNotAllowed = errors.New("not allowed")
	// ErrReasonRequired: the policy requires a reason and none was given.
	ErrReasonRequired = errors.New("reason required")

	// ErrSelfApproval: the requester tried to approve (or deny) their own
	// request.
	ErrSelfApproval = errors.New("self-approval is not allowed")
	// ErrNotApprover: the user is not an allowed approver.
	ErrNotApprover = errors.New("not an approver")
	// ErrNotRequester: only the requester may cancel a request.
	ErrNotRequester = errors.New("not the requester")
	// ErrDuplicateApproval: the user already approved this request.
	ErrDuplicateApproval = errors.New("duplicate approval")
	// ErrExpired: the request's approval window has passed.
	ErrExpired = errors.New("request expired")
	// ErrAlreadyDecided: the request is no longer pending (or, for Start,
	// was denied, cancelled or expired). The message names the state.
	ErrAlreadyDecided = errors.New("request already decided")
	// ErrStateChanged: what the request was based on (its Fingerprint) is
	// no longer true; a new request must be opened.
	ErrStateChanged = errors.New("state changed since the request was opened")

	// ErrNotApproved: Start was called on a request still waiting for
	// approvals.
	ErrNotApproved = errors.New("not approved yet")
	// ErrAlreadyStarted: Start was called on a request that already passed
	// the exactly-once gate.
	ErrAlreadyStarted = errors.New("already started")
	// ErrNotRunning: SetJob or Finish was called on a request that is not
	// running.
	ErrNotRunning = errors.New("not running")
	// ErrOutsideWindow: destructive operations may not start now
	// (policy.windows: outside the allow windows, or in a freeze).
	ErrOutsideWindow = errors.New("outside the change windows")
)

// IsRefusal reports whether err is a refusal by the workflow or the policy
// (something to tell the user), as opposed to a failure of the store (which
// holds the audit trail) or the group resolver (something to tell the operator).
func IsRefusal(err error) bool {
	for _, e := range []error{
		ErrNotFound, ErrInvalid, ErrNotAllowed, ErrReasonRequired,
		ErrSelfApproval, ErrNotApprover, ErrNotRequester, ErrDuplicateApproval,
		ErrExpired, ErrAlreadyDecided, ErrStateChanged,
		ErrNotApproved, ErrAlreadyStarted, ErrNotRunning, ErrOutsideWindow,
		ErrCodeRequired, ErrNotEnrolled, ErrWrongCode, ErrCodeReused, ErrLockedOut,
	} {
		if errors.Is(err, e) {
			return true
		}
	}
	return false
}
