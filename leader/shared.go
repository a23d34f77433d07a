package leader

import (
	"context"
	"sync"
)

// Shared lets several users (serve's router and scheduler) lead under one
// campaign of an underlying Leadership: Run campaigns once for the
// process, and each user's RunWhileLeader runs its fn during every term of
// that one campaign. The users therefore lead together and lose
// leadership together, and a replica holds one election key, not one per
// user (two campaigns of one replica would share a lease-bound key, and
// one user resigning would delete it under the other).
//
// Shared is itself a Leadership, with the same invariants: each user's fn
// runs only during a term, with a context cancelled when the term ends or
// the user's ctx ends, never twice at once for one user, and again at the
// next term.
type Shared struct {
	l Leadership

	mu sync.Mutex
	// term is the current term's context; nil between terms.
	term context.Context
	// next is closed when a term begins (and then replaced).
	next chan struct{}
}

var _ Leadership = (*Shared)(nil)

// NewShared shares l; start its campaign with Run.
func NewShared(l Leadership) *Shared {
	return &Shared{l: l, next: make(chan struct{})}
}

// Run campaigns with the underlying Leadership until ctx ends (its
// RunWhileLeader) and returns its error. The users' terms end when ctx
// does.
func (s *Shared) Run(ctx context.Context) error {
	return s.l.RunWhileLeader(ctx, func(tctx context.Context) {
		s.mu.Lock()
		s.term = tctx
		close(s.next)
		s.next = make(chan struct{})
		s.mu.Unlock()
		<-tctx.Done()
		s.mu.Lock()
		s.term = nil
		s.mu.Unlock()
	})
}

// IsLeader is the underlying Leadership's.
func (s *Shared) IsLeader() bool { return s.l.IsLeader() }

// RunWhileLeader runs fn in each term of the shared campaign until ctx
// ends, and returns ctx's error. An fn that returns early keeps its term:
// it runs again only in the next one.
func (s *Shared) RunWhileLeader(ctx context.Context, fn func(ctx context.Context)) error {
	for {
		term, err := s.awaitTerm(ctx)
		if err != nil {
			return err
		}
		fctx, cancel := context.WithCancel(ctx)
		stop := context.AfterFunc(term, cancel)
		fn(fctx)
		<-fctx.Done()
		stop()
		cancel()
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// awaitTerm returns the current term, waiting for one to begin.
func (s *Shared) awaitTerm(ctx context.Context) (context.Context, error) {
	for {
		s.mu.Lock()
		term, next := s.term, s.next
		s.mu.Unlock()
		if term != nil && term.Err() == nil {
			return term, nil
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-next:
		}
	}
}
