package approvals

import "context"

// RequestStore keeps requests. Package storage implements it on bbolt;
// package approvalstest has an in-memory one.
//
// Implementations must hand out copies: changing a returned *Request must
// not change what is stored.
type RequestStore interface {
	// CreateRequest stores a new request. It fails with an error wrapping
	// ErrExists if a request with the same ID is already stored.
	CreateRequest(ctx context.Context, r *Request) error

	// Request returns the request with the given ID, or an error wrapping
	// ErrNotFound.
	Request(ctx context.Context, id string) (*Request, error)

	// UpdateRequest reads the request, calls fn on it and writes the result,
	// all in ONE atomic transaction: no other update of any request is
	// interleaved. On success it increments Version, writes, and returns
	// the request as written.
	//
	// If fn returns an error, nothing is written and UpdateRequest returns
	// that error unchanged (not wrapped), so callers can compare it. fn may
	// be called more than once (a backend with optimistic concurrency
	// retries), so it must not have side effects beyond the request and
	// variables it resets on each call. fn must not change the ID. fn should
	// be quick and must not wait on the network: it may hold the store's
	// write lock.
	//
	// If there is no such request, it returns an error wrapping ErrNotFound
	// without calling fn.
	UpdateRequest(ctx context.Context, id string, fn func(*Request) error) (*Request, error)

	// Requests returns the requests that match f, newest (by CreatedAt)
	// first.
	Requests(ctx context.Context, f RequestFilter) ([]*Request, error)
}

// GroupResolver answers whether a user belongs to a chat platform's group
// (a Slack user group, a Mattermost group). The chat adapter provides it;
// a nil GroupResolver means the platform has no groups.
type GroupResolver interface {
	IsMember(ctx context.Context, group string, userID string) (bool, error)
}
