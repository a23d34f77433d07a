// Package approvalstest has in-memory implementations of the interfaces
// package approvals defines, for tests of approvals and of the packages that
// use it. They are not persistent and not for production.
package approvalstest

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// Store is an in-memory approvals.RequestStore. The zero value is ready.
// One mutex serialises every call, so UpdateRequest is atomic.
type Store struct {
	mu   sync.Mutex
	reqs map[string]*approvals.Request
	// FailUpdates, when non-nil, is returned by every UpdateRequest after
	// fn succeeded (nothing is written), to simulate a store failure.
	FailUpdates error
}

var _ approvals.RequestStore = (*Store)(nil)

// CreateRequest implements approvals.RequestStore.
func (s *Store) CreateRequest(ctx context.Context, r *approvals.Request) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.reqs == nil {
		s.reqs = make(map[string]*approvals.Request)
	}
	if _, ok := s.reqs[r.ID]; ok {
		return fmt.Errorf("request %s: %w", r.ID, approvals.ErrExists)
	}
	s.reqs[r.ID] = r.Clone()
	return nil
}

// Request implements approvals.RequestStore.
func (s *Store) Request(ctx context.Context, id string) (*approvals.Request, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.reqs[id]
	if !ok {
		return nil, fmt.Errorf("request %q: %w", id, approvals.ErrNotFound)
	}
	return r.Clone(), nil
}

// UpdateRequest implements approvals.RequestStore.
func (s *Store) UpdateRequest(ctx context.Context, id string, fn func(*approvals.Request) error) (*approvals.Request, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	cur, ok := s.reqs[id]
	if !ok {
		return nil, fmt.Errorf("request %q: %w", id, approvals.ErrNotFound)
	}
	r := cur.Clone()
	if err := fn(r); err != nil {
		return nil, err
	}
	if r.ID != id {
		return nil, fmt.Errorf("update of request %s changed its ID to %s: %w", id, r.ID, approvals.ErrInvalid)
	}
	if s.FailUpdates != nil {
		return nil, s.FailUpdates
	}
	r.Version++
	s.reqs[id] = r.Clone()
	return r, nil
}

// Requests implements approvals.RequestStore.
func (s *Store) Requests(ctx context.Context, f approvals.RequestFilter) ([]*approvals.Request, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*approvals.Request
	for _, r := range s.reqs {
		if f.Match(r) {
			out = append(out, r.Clone())
		}
	}
	slices.SortFunc(out, func(a, b *approvals.Request) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

// Audit is an in-memory approvals.AuditLog that chains entries like the
// real one (PrevHash is the SHA-256 of the previous entry's JSON). The
// zero value is ready.
type Audit struct {
	mu      sync.Mutex
	entries []approvals.AuditEntry
	last    []byte
	// Fail, when non-nil, is returned by every Append (nothing is stored).
	Fail error
	// Now, when set, replaces time.Now.
	Now func() time.Time
}

var _ approvals.AuditLog = (*Audit)(nil)

// Append implements approvals.AuditLog.
func (a *Audit) Append(ctx context.Context, e approvals.AuditEntry) (approvals.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return approvals.AuditEntry{}, err
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.Fail != nil {
		return approvals.AuditEntry{}, a.Fail
	}
	e.Seq = uint64(len(a.entries)) + 1
	e.PrevHash = ""
	if a.last != nil {
		h := sha256.Sum256(a.last)
		e.PrevHash = hex.EncodeToString(h[:])
	}
	if e.Time.IsZero() {
		now := time.Now
		if a.Now != nil {
			now = a.Now
		}
		e.Time = now()
	}
	b, err := json.Marshal(e)
	if err != nil {
		return approvals.AuditEntry{}, fmt.Errorf("encode audit entry: %w", err)
	}
	e.Argv = slices.Clone(e.Argv)
	a.entries = append(a.entries, e)
	a.last = b
	return e, nil
}

// Entries returns a copy of everything appended so far.
func (a *Audit) Entries() []approvals.AuditEntry {
	a.mu.Lock()
	defer a.mu.Unlock()
	return slices.Clone(a.entries)
}

// Actions returns the Action of every entry, in order.
func (a *Audit) Actions() []string {
	a.mu.Lock()
	defer a.mu.Unlock()
	out := make([]string, len(a.entries))
	for i, e := range a.entries {
		out[i] = e.Action
	}
	return out
}

// Groups is a GroupResolver backed by a map from group to member IDs.
// Err, when set, is returned by every IsMember.
type Groups struct {
	Members map[string][]string
	Err     error
}

var _ approvals.GroupResolver = Groups{}

// IsMember implements approvals.GroupResolver.
func (g Groups) IsMember(ctx context.Context, group, userID string) (bool, error) {
	if g.Err != nil {
		return false, g.Err
	}
	return slices.Contains(g.Members[group], userID), ctx.Err()
}

// Clock is a settable clock for approvals.WithClock.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock returns a clock stopped at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t} }

// Now returns the clock's time.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}
