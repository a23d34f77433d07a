// Package leader is the small leadership interface under which work that
// must happen once across all replicas runs: scheduled posts, the expiry
// sweeper and restart recovery.
//
// Today one process runs alone and is always leader (Always). A replicated
// deployment (etcd, a later issue) implements Leadership with an election
// and a lease; nothing that uses this package changes then.
package leader

import "context"

// Leadership says whether this process may do once-only work.
//
// Invariants an implementation keeps:
//   - RunWhileLeader calls fn only while this process holds leadership, with
//     a context that is cancelled as soon as leadership is lost (or ctx
//     ends); fn must stop promptly when it is.
//   - When leadership is lost and later regained, fn runs again with a new
//     context, so fn must be safe to start more than once (but never runs
//     twice at the same time in one process).
//   - RunWhileLeader returns when ctx ends, with ctx's error, or with an
//     error from the election itself.
type Leadership interface {
	// IsLeader reports whether this process holds leadership now.
	IsLeader() bool
	// RunWhileLeader runs fn each time this process becomes leader, until
	// ctx ends.
	RunWhileLeader(ctx context.Context, fn func(ctx context.Context)) error
}

// Always is the single-process Leadership: always leader.
type Always struct{}

// IsLeader is always true.
func (Always) IsLeader() bool { return true }

// RunWhileLeader runs fn once with ctx and returns ctx's error when ctx
// ends (after fn has returned).
func (Always) RunWhileLeader(ctx context.Context, fn func(ctx context.Context)) error {
	fn(ctx)
	<-ctx.Done()
	return ctx.Err()
}
