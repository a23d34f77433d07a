package approvals

import (
	"maps"
	"slices"
	"time"
)

// Request is one destructive operation waiting for, or past, approval.
//
// What is approved is exactly Argv on exactly Host: the bot runs the stored
// argv and nothing else. A Request is created by Service.Open and changed
// only by the Service's methods, each of which bumps Version.
type Request struct {
	// ID is opaque and short enough to type in chat (see NewID).
	ID string `json:"id"`

	// Platform, Channel and Thread say where the request's root post
	// lives, so progress can be reported into its thread. The caller fills
	// them; Thread may be set after the root post is made.
	Platform string `json:"platform,omitempty"`
	Channel  string `json:"channel,omitempty"`
	Thread   string `json:"thread,omitempty"`

	// Host is the GitLab node the operation runs on.
	Host string `json:"host"`
	// Operation is the catalogue name, e.g. "migrate", "finalize", "restart".
	Operation string `json:"operation"`
	// Params are the validated arguments of the operation, for display and
	// so a finalize can be derived from a failed migrate.
	Params map[string]string `json:"params,omitempty"`
	// Argv is exactly what will run, program first.
	Argv []string `json:"argv"`

	Requester User   `json:"requester"`
	Reason    string `json:"reason,omitempty"`

	// Fingerprint identifies the state the request was based on (e.g. a
	// hash of the set of down migrations). When it is non-empty, Approve
	// refuses if the current fingerprint differs.
	Fingerprint string `json:"fingerprint,omitempty"`
	// FingerprintInfo describes that state for people.
	FingerprintInfo string `json:"fingerprint_info,omitempty"`

	// Required is how many distinct approvers are needed, copied from the
	// policy when the request was opened.
	Required int `json:"required"`
	// ApproverIDs and ApproverGroups are who may approve, copied from the
	// policy when the request was opened, so the root post can mention
	// them. Whether a user may approve is decided by the policy in force
	// at the time of the decision.
	ApproverIDs    []string `json:"approver_ids,omitempty"`
	ApproverGroups []string `json:"approver_groups,omitempty"`

	CreatedAt time.Time `json:"created_at"`
	ExpiresAt time.Time `json:"expires_at"`

	State     State      `json:"state"`
	Decisions []Decision `json:"decisions,omitempty"`

	// JobID is the agent's job, set once the job was submitted.
	JobID     string    `json:"job_id,omitempty"`
	StartedAt time.Time `json:"started_at,omitzero"`
	EndedAt   time.Time `json:"ended_at,omitzero"`
	// Outcome is the summary of a succeeded run; Error says what went
	// wrong in a failed or interrupted one.
	Outcome string `json:"outcome,omitempty"`
	Error   string `json:"error,omitempty"`
	// Note says what is going on with a running request that people should
	// know, e.g. "outcome unknown: agent unreachable since 14:05 UTC". It
	// is set and cleared by Service.Note, and cleared when the request
	// finishes.
	Note string `json:"note,omitempty"`

	// FromRequest is the request this one was derived from, e.g. the failed
	// migrate a finalize was offered for.
	FromRequest string `json:"from_request,omitempty"`

	// Emergency marks a break-glass request (`--emergency`): it bypasses
	// the change windows, needs one more approval than the policy (or one
	// from policy.emergency_approvers) and, once it ran, a post-incident
	// review (ReviewDue, Review; see review.go).
	Emergency bool `json:"emergency,omitempty"`
	// EmergencyApprovers are the groups one of whose members approves an
	// emergency request alone, copied from the policy when it was opened
	// (for its card and mentions; the policy in force decides).
	EmergencyApprovers []string `json:"emergency_approvers,omitempty"`
	// ReviewDue is when the post-incident review of an emergency request
	// that ran is due (set by Finish); zero for any other request.
	ReviewDue time.Time `json:"review_due,omitzero"`
	// Review is the admin's acknowledgement of that review, once given.
	Review *Review `json:"review,omitempty"`
	// ReviewReminded is when the audit channel was reminded of an overdue
	// review (once).
	ReviewReminded time.Time `json:"review_reminded,omitzero"`

	// Version is bumped by the store on every successful Store.Apply.
	Version int64 `json:"version"`
}

// Verdict is what a Decision was.
type Verdict string

const (
	VerdictApprove Verdict = "approve"
	VerdictDeny    Verdict = "deny"
	VerdictCancel  Verdict = "cancel"
	VerdictExpire  Verdict = "expire"
)

// Decision is one recorded act on a pending request.
type Decision struct {
	// User decided; for VerdictExpire it is the system user.
	User    User      `json:"user"`
	Verdict Verdict   `json:"verdict"`
	At      time.Time `json:"at"`
	Reason  string    `json:"reason,omitempty"`
	// EmergencyApprover: an approval of an emergency request by a member
	// of policy.emergency_approvers, which alone approves it.
	EmergencyApprover bool `json:"emergency_approver,omitempty"`
}

// SystemUser is the user the bot acts as (expiry, start, finish).
func SystemUser() User { return User{ID: ActorSystem, Name: ActorSystem} }

// Approvals returns the approve decisions, one per distinct user, in order.
// Users are compared as qualified IDs (Canonical), so a decision stored
// unqualified and a qualified one by the same user count once.
func (r *Request) Approvals() []Decision {
	var out []Decision
	for _, d := range r.Decisions {
		if d.Verdict == VerdictApprove && !slices.ContainsFunc(out, func(o Decision) bool { return r.SameUser(o.User.ID, d.User.ID) }) {
			out = append(out, d)
		}
	}
	return out
}

// ApprovedBy returns userID's approve decision, if there is one.
func (r *Request) ApprovedBy(userID string) (Decision, bool) {
	for _, d := range r.Decisions {
		if d.Verdict == VerdictApprove && r.SameUser(d.User.ID, userID) {
			return d, true
		}
	}
	return Decision{}, false
}

// Canonical returns id, a user ID stored in or compared with r, qualified:
// an unqualified one (a request stored before IDs were qualified) belongs
// to the platform the request was opened on, where its requester typed
// it. A request without a Platform leaves it unqualified.
func (r *Request) Canonical(id string) string {
	return QualifyDefault(r.Platform, id)
}

// SameUser reports whether user IDs a and b are the same person for r:
// the same qualified ID once both are Canonical (SameID).
func (r *Request) SameUser(a, b string) bool {
	return SameID(r.Canonical(a), r.Canonical(b))
}

// IsRequester reports whether userID opened r.
func (r *Request) IsRequester(userID string) bool {
	return r.SameUser(r.Requester.ID, userID)
}

// Final returns the decision that ended the pending state (deny, cancel,
// expire, or the last approval), if there is one.
func (r *Request) Final() (Decision, bool) {
	if r.State == StatePending || len(r.Decisions) == 0 {
		return Decision{}, false
	}
	return r.Decisions[len(r.Decisions)-1], true
}

// Enough reports whether r's approvals suffice: Required distinct
// approvers, or, for an emergency request, one emergency approver.
func (r *Request) Enough() bool {
	if len(r.Approvals()) >= r.Required {
		return true
	}
	return r.Emergency && slices.ContainsFunc(r.Decisions, func(d Decision) bool {
		return d.Verdict == VerdictApprove && d.EmergencyApprover
	})
}

// Due reports whether r is pending and its approval window has passed.
func (r *Request) Due(now time.Time) bool {
	return r.State == StatePending && !now.Before(r.ExpiresAt)
}

// Clone returns a deep copy of r. Stores hand out clones so callers cannot
// change stored state behind the Service's back.
func (r *Request) Clone() *Request {
	if r == nil {
		return nil
	}
	c := *r
	c.Params = maps.Clone(r.Params)
	c.Argv = slices.Clone(r.Argv)
	c.ApproverIDs = slices.Clone(r.ApproverIDs)
	c.ApproverGroups = slices.Clone(r.ApproverGroups)
	c.Decisions = slices.Clone(r.Decisions)
	c.EmergencyApprovers = slices.Clone(r.EmergencyApprovers)
	if r.Review != nil {
		rv := *r.Review
		c.Review = &rv
	}
	return &c
}

// NewRequest is what a caller supplies to Service.Open. The Service fills
// in ID, times, Required, approvers and State.
type NewRequest struct {
	Platform, Channel, Thread string

	Host string
	// Operation is the catalogue name; it is also the subcommand looked up
	// in Policy.Requesters (the destructive subcommands are named after
	// their operations).
	Operation string
	Params    map[string]string
	Argv      []string

	Requester User
	Reason    string

	Fingerprint     string
	FingerprintInfo string

	FromRequest string

	// Emergency opens a break-glass request (see Request.Emergency); it
	// needs a Reason.
	Emergency bool
}

// RequestFilter selects requests from a Store.
type RequestFilter struct {
	// States keeps requests in any of these states; empty keeps all.
	States []State
	// Limit caps the number returned; 0 means no limit.
	Limit int
	// ReviewOpen keeps only emergency requests whose post-incident review
	// is due and not yet acknowledged.
	ReviewOpen bool
}

// Match reports whether r passes the filter's States and ReviewOpen.
// Every store filters with it, so a new criterion needs no store change.
func (f RequestFilter) Match(r *Request) bool {
	if f.ReviewOpen && !r.ReviewOpen() {
		return false
	}
	return len(f.States) == 0 || slices.Contains(f.States, r.State)
}
