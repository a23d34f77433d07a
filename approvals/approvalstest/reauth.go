package approvalstest

import (
	"context"
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

var _ approvals.ReauthStore = (*Store)(nil)

// ReauthKey is the re-authentication key of tests.
var ReauthKey = approvals.ReauthKey("approvalstest-reauth-key-0123456789abcdef")

// Enrolment implements approvals.ReauthStore.
func (s *Store) Enrolment(ctx context.Context, userID string) (*approvals.Enrolment, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if e, ok := s.enrolments[userID]; ok {
		return e.Clone(), nil
	}
	return &approvals.Enrolment{UserID: userID}, nil
}

// UpdateReauth implements approvals.ReauthStore, optimistically like
// Apply: fn runs on a copy outside the lock and is run again if the
// record changed meanwhile.
func (s *Store) UpdateReauth(ctx context.Context, userID string, fn func(*approvals.Enrolment) ([]approvals.AuditEntry, error)) (*approvals.Enrolment, error) {
	for {
		cur, err := s.Enrolment(ctx, userID)
		if err != nil {
			return nil, err
		}
		e := cur.Clone()
		entries, err := fn(e)
		if err != nil {
			return nil, err
		}
		if e.UserID != userID {
			return nil, fmt.Errorf("update of the enrolment of %s changed its user to %s: %w", userID, e.UserID, approvals.ErrInvalid)
		}
		if s.applyHook != nil {
			s.applyHook()
		}
		s.mu.Lock()
		if old, ok := s.enrolments[userID]; ok && old.Version != cur.Version || !ok && cur.Version != 0 {
			s.mu.Unlock()
			continue
		}
		e.Version++
		if err := s.fail("reauth", nil); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if _, err := s.appendLocked(entries); err != nil {
			s.mu.Unlock()
			return nil, err
		}
		if s.enrolments == nil {
			s.enrolments = make(map[string]*approvals.Enrolment)
		}
		s.enrolments[userID] = e.Clone()
		s.mu.Unlock()
		return e, nil
	}
}
