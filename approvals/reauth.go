package approvals

import (
	"context"
	"errors"
	"slices"
	"time"
)

// Re-authentication methods a policy may ask of the approvers of an
// operation (Policy.Reauth).
const (
	// ReauthNone: an approval counts as given (the default).
	ReauthNone = "none"
	// ReauthTOTP: an approval counts only with a current code of the
	// approver's authenticator app (RFC 6238), enrolled beforehand.
	ReauthTOTP = "totp"
)

// The rules of TOTP re-authentication. They are fixed: a weaker setting
// is not something a configuration should be able to choose.
const (
	// MaxWrongCodes wrong codes within WrongCodeWindow lock the approver
	// out for Lockout.
	MaxWrongCodes   = 5
	WrongCodeWindow = 10 * time.Minute
	Lockout         = 15 * time.Minute
	// ProofTTL is how long a verified code lets its approval be recorded:
	// the approval follows at once, after at most the status check it is
	// compared against.
	ProofTTL = 5 * time.Minute
)

// Audit actions of re-authentication (written by the Service, in the same
// transaction as the enrolment record they describe).
const (
	ActionReauthEnrolled = "reauth.enrolled" // an approver enrolled, or replaced their secret
	ActionReauthVerified = "reauth.verified" // a code was accepted
	ActionReauthFailed   = "reauth.failed"   // a wrong or reused code was refused (Detail: how many in the window)
	ActionReauthLocked   = "reauth.locked"   // the approver is locked out (Detail: until when)
	ActionReauthReset    = "reauth.reset"    // an admin removed an approver's enrolment (a lost phone)
)

// Re-authentication refusals (each a refusal: IsRefusal is true).
var (
	// ErrCodeRequired: the operation needs re-authentication and no code
	// (or no proof of one) was given.
	ErrCodeRequired = errors.New("re-authentication code required")
	// ErrNotEnrolled: the approver has no authenticator enrolled.
	ErrNotEnrolled = errors.New("not enrolled for re-authentication")
	// ErrWrongCode: the code is not the current one.
	ErrWrongCode = errors.New("wrong re-authentication code")
	// ErrCodeReused: the code (or an earlier one) was already accepted.
	ErrCodeReused = errors.New("re-authentication code already used")
	// ErrLockedOut: too many wrong codes; the approver must wait.
	ErrLockedOut = errors.New("locked out of re-authentication")
)

// Enrolment is one approver's re-authentication record: their sealed
// TOTP secret and the state that refuses replays and guessing. There is
// one per user, kept by a ReauthStore.
type Enrolment struct {
	// UserID is the approver's qualified ID; the secret is sealed to it.
	UserID string `json:"user_id"`
	// Secret is the TOTP secret sealed with the ReauthKey (AES-256-GCM,
	// see SealSecret); never the secret itself. Empty: not enrolled.
	Secret []byte `json:"secret,omitempty"`
	// EnrolledAt is when the current secret was enrolled.
	EnrolledAt time.Time `json:"enrolled_at,omitzero"`
	// LastStep is the RFC 6238 time step (Unix time / 30 s) of the last
	// accepted code: a code of this step or an earlier one is refused,
	// so a code is accepted once.
	LastStep int64 `json:"last_step,omitempty"`
	// Failures are the times of the wrong codes within WrongCodeWindow.
	Failures []time.Time `json:"failures,omitempty"`
	// LockedUntil is the end of a lockout (zero: none).
	LockedUntil time.Time `json:"locked_until,omitzero"`
	// Version is incremented by every write (0: never written).
	Version uint64 `json:"version"`
}

// Enrolled reports whether e holds a secret.
func (e *Enrolment) Enrolled() bool { return e != nil && len(e.Secret) > 0 }

// Clone returns a deep copy of e.
func (e *Enrolment) Clone() *Enrolment {
	if e == nil {
		return nil
	}
	c := *e
	c.Secret = slices.Clone(e.Secret)
	c.Failures = slices.Clone(e.Failures)
	return &c
}

// ReauthStore keeps the approvers' Enrolments beside the requests and the
// audit trail (the bbolt file, etcd), shared by every replica. Its
// contract mirrors Store.Apply's: UpdateReauth is one atomic
// read-modify-write of one user's record together with audit entries.
// Every backend passes approvalstest.RunReauthStoreSuite.
type ReauthStore interface {
	// Enrolment returns userID's record; a user never written has a
	// fresh record (UserID set, Version 0, not enrolled), not an error.
	Enrolment(ctx context.Context, userID string) (*Enrolment, error)

	// UpdateReauth reads userID's record (fresh if none), calls fn on it,
	// writes the result and appends the entries fn returned, in ONE
	// atomic transaction, and returns the record as written (Version
	// incremented). If fn returns an error, nothing is written and that
	// error is returned unchanged. fn may run more than once (optimistic
	// backends retry when the record changed under them), so it must
	// have no side effects beyond the record and variables it resets on
	// each call; it must not change UserID, nor wait on the network.
	UpdateReauth(ctx context.Context, userID string, fn func(*Enrolment) ([]AuditEntry, error)) (*Enrolment, error)
}
