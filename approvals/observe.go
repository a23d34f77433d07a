package approvals

import (
	"context"
	"time"
)

// Observer is told what the Service committed: each change of a
// request's state and each audit entry appended. It is how metrics see
// the workflow without this package knowing about them; an implementation
// must be quick and must not call back into the Service.
type Observer interface {
	// RequestChanged: a request of operation went from one state to
	// another (from is "" when it was just opened); age is the time from
	// its opening to the change, on the Service's clock (the decision's
	// time for a decision, the end for a finished run).
	RequestChanged(operation, from, to string, age time.Duration)
	// AuditAppended: one entry with this action was committed.
	AuditAppended(action string)
}

// WithObserver makes the Service report what it commits to o. Nothing is
// reported for a change that was refused or did not commit.
func WithObserver(o Observer) Option {
	return func(s *Service) {
		if o != nil {
			s.store = observedStore{Store: s.store, o: o}
		}
	}
}

// observedStore reports committed writes of the Store it wraps. Wrapping
// the Store, the one place every write passes, keeps the Service's methods
// free of metrics calls.
type observedStore struct {
	Store
	o Observer
}

func (s observedStore) Create(ctx context.Context, r *Request, entries ...AuditEntry) error {
	if err := s.Store.Create(ctx, r, entries...); err != nil {
		return err
	}
	s.o.RequestChanged(r.Operation, "", string(r.State), 0)
	s.audited(entries)
	return nil
}

func (s observedStore) Apply(ctx context.Context, id string, fn func(*Request) ([]AuditEntry, error)) (*Request, error) {
	// fn may run more than once (optimistic backends retry); only the
	// last run's view is what was committed.
	var (
		from    State
		entries []AuditEntry
	)
	r, err := s.Store.Apply(ctx, id, func(r *Request) ([]AuditEntry, error) {
		from = r.State
		es, err := fn(r)
		entries = es
		return es, err
	})
	if err != nil {
		return r, err
	}
	if r.State != from {
		s.o.RequestChanged(r.Operation, string(from), string(r.State), changedAt(r).Sub(r.CreatedAt))
	}
	s.audited(entries)
	return r, nil
}

func (s observedStore) Append(ctx context.Context, entries ...AuditEntry) ([]AuditEntry, error) {
	stored, err := s.Store.Append(ctx, entries...)
	if err == nil {
		s.audited(stored)
	}
	return stored, err
}

func (s observedStore) audited(entries []AuditEntry) {
	for _, e := range entries {
		s.o.AuditAppended(e.Action)
	}
}

// changedAt is when r reached its current state: its end, its start, or
// the decision that ended its pending state.
func changedAt(r *Request) time.Time {
	switch {
	case !r.EndedAt.IsZero():
		return r.EndedAt
	case r.State == StateRunning && !r.StartedAt.IsZero():
		return r.StartedAt
	}
	if d, ok := r.Final(); ok {
		return d.At
	}
	return r.CreatedAt
}
