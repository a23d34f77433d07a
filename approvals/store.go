package approvals

import "context"

// Store keeps requests and the audit trail together, because a change to a
// request and the audit entries that record it are written in ONE
// transaction: there is no state in which a request changed and its audit
// entry is missing, or the reverse. Package storage implements it on bbolt;
// package approvalstest has an in-memory one. Both pass the conformance
// suite approvalstest.RunStoreSuite, and so must any other backend.
//
// Writes go through the Service only (it is the only writer): the router
// and the rest of the bot read requests and append audit entries through
// Service methods.
//
// Audit entries are sealed into the chain by the backend with package
// auditchain, inside the transaction: it assigns Seq, PrevHash and (when
// zero) Time.
//
// Implementations must hand out copies: changing a returned *Request must
// not change what is stored.
type Store interface {
	// Create stores a new request and appends entries, in one transaction.
	// It fails with an error wrapping ErrExists, writing nothing, if a
	// request with the same ID is already stored.
	Create(ctx context.Context, r *Request, entries ...AuditEntry) error

	// Request returns the request with the given ID, or an error wrapping
	// ErrNotFound.
	Request(ctx context.Context, id string) (*Request, error)

	// Apply reads the request, calls fn on it, writes the result and
	// appends the entries fn returned, all in ONE atomic transaction: no
	// other change of any request or of the audit chain is interleaved. On
	// success it increments Version and returns the request as written.
	//
	// If fn returns an error, nothing is written and Apply returns that
	// error unchanged (not wrapped), so callers can compare it. fn may be
	// called more than once (a backend with optimistic concurrency retries
	// when the request changed under it), so it must not have side effects
	// beyond the request and variables it resets on each call. fn must not
	// change the ID. fn should be quick and must not wait on the network:
	// it may hold the store's write lock.
	//
	// If there is no such request, it returns an error wrapping
	// ErrNotFound without calling fn.
	Apply(ctx context.Context, id string, fn func(*Request) ([]AuditEntry, error)) (*Request, error)

	// Requests returns the requests that match f, newest (by CreatedAt)
	// first.
	Requests(ctx context.Context, f RequestFilter) ([]*Request, error)

	// Append appends entries that change no request (refusals, read-only
	// runs), in order, in one transaction, and returns them as stored.
	Append(ctx context.Context, entries ...AuditEntry) ([]AuditEntry, error)
}

// GroupResolver answers whether a user belongs to a chat platform's group
// (a Slack user group, a Mattermost group). The chat adapter provides it;
// a nil GroupResolver means the platform has no groups.
type GroupResolver interface {
	IsMember(ctx context.Context, group string, userID string) (bool, error)
}
