// Package approvalstest has in-memory implementations of the interfaces
// package approvals defines, for tests of approvals and of the packages that
// use it. They are not persistent and not for production.
package approvalstest

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// Key is the audit key of the in-memory Store and of test databases.
var Key = auditchain.Key("approvalstest-audit-key-0123456789abcdef")

// Store is an in-memory approvals.Store. The zero value is ready.
//
// Apply is optimistic, as an etcd backend would be: fn runs on a copy
// outside the lock, and the result is committed only if the request did
// not change meanwhile; otherwise fn runs again on the new version. The
// audit chain is sealed with package auditchain, as the bbolt store does,
// so Verify works on it.
type Store struct {
	mu   sync.Mutex
	reqs map[string]*approvals.Request
	// enrolments are the re-authentication records (reauth.go).
	enrolments map[string]*approvals.Enrolment
	stored     [][]byte // audit entries as stored; seq n is stored[n-1]
	head       auditchain.Head

	// Fail, when set, is called before each write with the operation
	// ("create", "apply", "append") and the request about to be written
	// (nil for append); an error is returned and nothing is written. It
	// simulates a store (or its audit) failing.
	Fail func(op string, r *approvals.Request) error
	// Now, when set, replaces time.Now for audit entry times.
	Now func() time.Time
	// applyHook, when set, runs between fn and the commit (tests of the
	// optimistic retry).
	applyHook func()
}

var (
	_ approvals.Store   = (*Store)(nil)
	_ auditchain.Reader = (*Store)(nil)
)

func (s *Store) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

func (s *Store) fail(op string, r *approvals.Request) error {
	if s.Fail == nil {
		return nil
	}
	return s.Fail(op, r)
}

// appendLocked seals entries after the head; s.mu is held.
func (s *Store) appendLocked(entries []approvals.AuditEntry) ([]approvals.AuditEntry, error) {
	out := make([]approvals.AuditEntry, 0, len(entries))
	sealed := make([][]byte, 0, len(entries))
	head := s.head
	for _, e := range entries {
		p, err := auditchain.Prepare(e)
		if err != nil {
			return nil, err
		}
		se := p.Seal(Key, head, s.now())
		head = se.Head
		sealed = append(sealed, se.Stored)
		out = append(out, se.Entry)
	}
	s.stored = append(s.stored, sealed...)
	s.head = head
	return out, nil
}

// Create implements approvals.Store.
func (s *Store) Create(ctx context.Context, r *approvals.Request, entries ...approvals.AuditEntry) error {
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
	if err := s.fail("create", r); err != nil {
		return err
	}
	if _, err := s.appendLocked(entries); err != nil {
		return err
	}
	s.reqs[r.ID] = r.Clone()
	return nil
}

// Request implements approvals.Store.
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

// Apply implements approvals.Store, optimistically (see Store).
func (s *Store) Apply(ctx context.Context, id string, fn func(*approvals.Request) ([]approvals.AuditEntry, error)) (*approvals.Request, error) {
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cur, err := s.Request(ctx, id)
		if err != nil {
			return nil, err
		}
		r := cur.Clone()
		entries, err := fn(r)
		if err != nil {
			return nil, err
		}
		if r.ID != id {
			return nil, fmt.Errorf("update of request %s changed its ID to %s: %w", id, r.ID, approvals.ErrInvalid)
		}
		if s.applyHook != nil {
			s.applyHook()
		}
		s.mu.Lock()
		if s.reqs[id].Version != cur.Version {
			s.mu.Unlock()
			continue // changed meanwhile: run fn again on the new version
		}
		r.Version++
		if err := s.fail("apply", r); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if _, err := s.appendLocked(entries); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		s.reqs[id] = r.Clone()
		s.mu.Unlock()
		return r, nil
	}
}

// Requests implements approvals.Store.
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

// Append implements approvals.Store.
func (s *Store) Append(ctx context.Context, entries ...approvals.AuditEntry) ([]approvals.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.fail("append", nil); err != nil {
		return nil, err
	}
	return s.appendLocked(entries)
}

// ReadAudit implements auditchain.Reader.
func (s *Store) ReadAudit(ctx context.Context, fn func(seq uint64, stored []byte) error) (auditchain.Head, error) {
	s.mu.Lock()
	stored, head := slices.Clone(s.stored), s.head
	s.mu.Unlock()
	for i, b := range stored {
		if err := fn(uint64(i+1), b); err != nil {
			return head, err
		}
	}
	return head, ctx.Err()
}

// Tamper replaces the stored bytes of entry seq by edit's result, behind
// the chain's back, as an attacker with write access to the store would.
func (s *Store) Tamper(seq uint64, edit func([]byte) []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if seq == 0 || seq > uint64(len(s.stored)) {
		return fmt.Errorf("no audit entry %d", seq)
	}
	s.stored[seq-1] = edit(slices.Clone(s.stored[seq-1]))
	return nil
}

// Entries returns every audit entry, decoded, in order.
func (s *Store) Entries() []approvals.AuditEntry {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]approvals.AuditEntry, 0, len(s.stored))
	for _, b := range s.stored {
		e, err := auditchain.Decode(b)
		if err != nil {
			e = approvals.AuditEntry{Detail: "undecodable: " + err.Error()}
		}
		out = append(out, e)
	}
	return out
}

// Actions returns the Action of every audit entry, in order.
func (s *Store) Actions() []string {
	var out []string
	for _, e := range s.Entries() {
		out = append(out, e.Action)
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

// Failing wraps a Store and fails writes that Fail picks: Fail is called
// with the operation ("create", "apply", "append") and the request about
// to be written (nil for append), inside the write; an error aborts the
// write (nothing of it is stored) and is returned. It injects store and
// audit failures into a real backend.
type Failing struct {
	approvals.Store
	Fail func(op string, r *approvals.Request) error
}

// Create implements approvals.Store.
func (f Failing) Create(ctx context.Context, r *approvals.Request, entries ...approvals.AuditEntry) error {
	if err := f.Fail("create", r); err != nil {
		return err
	}
	return f.Store.Create(ctx, r, entries...)
}

// Apply implements approvals.Store.
func (f Failing) Apply(ctx context.Context, id string, fn func(*approvals.Request) ([]approvals.AuditEntry, error)) (*approvals.Request, error) {
	var injected error
	r, err := f.Store.Apply(ctx, id, func(r *approvals.Request) ([]approvals.AuditEntry, error) {
		injected = nil
		entries, err := fn(r)
		if err != nil {
			return nil, err
		}
		if injected = f.Fail("apply", r); injected != nil {
			return nil, injected
		}
		return entries, nil
	})
	if err != nil && injected != nil && err == injected {
		// Returned as a store failure, not as fn's refusal.
		return nil, fmt.Errorf("injected store failure: %w", err)
	}
	return r, err
}

// Append implements approvals.Store.
func (f Failing) Append(ctx context.Context, entries ...approvals.AuditEntry) ([]approvals.AuditEntry, error) {
	if err := f.Fail("append", nil); err != nil {
		return nil, err
	}
	return f.Store.Append(ctx, entries...)
}

// TypicalEntry is an audit entry of typical size, for benchmarks: an
// approval with argv and a detail line.
func TypicalEntry() approvals.AuditEntry {
	return approvals.AuditEntry{
		Actor: "U04ABCDEF12", ActorName: "Alice Example",
		Action: approvals.ActionRequestApproved, RequestID: "r7k2qxa9",
		Host: "gitlab-1.prod.example.com", Operation: "finalize",
		Argv: []string{"gitlab-rake",
			`gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,events,id,'[["id"],["id_convert_to_bigint"]]']`},
		Outcome: "approved", Detail: "approval 1 of 1; based on: 2 batched background migrations active",
	}
}
