package approvals

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Review is an admin's acknowledgement of an emergency request's
// post-incident review.
type Review struct {
	By   User      `json:"by"`
	At   time.Time `json:"at"`
	Note string    `json:"note"`
}

// Audit actions of the post-incident review.
const (
	ActionRequestReviewed = "request.reviewed"        // an admin acknowledged an emergency request's review (Detail: the note)
	ActionReviewReminded  = "request.review_reminded" // the audit channel was reminded of an overdue review
)

// ReviewOpen reports whether r is an emergency request that ran and whose
// review nobody acknowledged yet.
func (r *Request) ReviewOpen() bool {
	return !r.ReviewDue.IsZero() && r.Review == nil
}

// ReviewOverdue reports whether r's review is open past its due time.
func (r *Request) ReviewOverdue(now time.Time) bool {
	return r.ReviewOpen() && !now.Before(r.ReviewDue)
}

// maxReviewNote bounds the note of a review.
const maxReviewNote = 1000

// Review records admin user's acknowledgement of emergency request id's
// post-incident review, with note (what was learnt, or where the review
// is written up). Only policy.admins may; a note is required. A late
// acknowledgement is still recorded, and says it was late.
func (s *Service) Review(ctx context.Context, id string, user User, note string) (*Request, error) {
	if err := user.validate("review"); err != nil {
		return nil, err
	}
	note = strings.TrimSpace(note)
	refused := func(err error) (*Request, error) {
		return nil, s.recordRefusal(ctx, refusalEntry(nil, id, user, "review"), err)
	}
	switch {
	case len(s.policy.Admins) == 0:
		return refused(fmt.Errorf("acknowledging a post-incident review needs an admin, and no policy.admins is configured: %w", ErrNotAllowed))
	case !containsID(s.policy.Admins, user.ID):
		return refused(fmt.Errorf("only the bot's admins may acknowledge a post-incident review; ask one of them (policy.admins: %s): %w", strings.Join(s.policy.Admins, ", "), ErrNotAllowed))
	case note == "":
		return refused(fmt.Errorf("say what the review found, or where it is written up, after --: `/gitlab-migrations review %s -- <note>`: %w", id, ErrReasonRequired))
	case len(note) > maxReviewNote:
		return refused(fmt.Errorf("the note is %d bytes long; at most %d are allowed: link to the write-up instead: %w", len(note), maxReviewNote, ErrInvalid))
	}
	return s.changeAs(ctx, id, user, "review", func(r *Request, now time.Time) ([]AuditEntry, error) {
		switch {
		case !r.Emergency:
			return nil, fmt.Errorf("request %s was not an emergency request, so it has no post-incident review: %w", r.ID, ErrInvalid)
		case r.Review != nil:
			return nil, fmt.Errorf("the review of request %s was already acknowledged by %s at %s: %w", r.ID, r.Review.By, when(r.Review.At, now), ErrAlreadyDecided)
		case r.ReviewDue.IsZero():
			return nil, fmt.Errorf("request %s has not run (it is %s), so there is nothing to review yet: %w", r.ID, r.State, ErrInvalid)
		}
		r.Review = &Review{By: user, At: now, Note: note}
		detail := "review acknowledged: " + note
		if now.After(r.ReviewDue) {
			detail = fmt.Sprintf("review acknowledged %s late: %s", now.Sub(r.ReviewDue).Round(time.Minute), note)
		}
		return []AuditEntry{s.entry(r, user, ActionRequestReviewed, detail, false)}, nil
	})
}

// MarkReviewReminded records that the audit channel is being reminded of
// request id's overdue review. It succeeds once per request (the caller
// that gets the request back posts the reminder; any other gets a refusal
// wrapping ErrAlreadyDecided), so replicas racing on the sweep remind once.
func (s *Service) MarkReviewReminded(ctx context.Context, id string) (*Request, error) {
	return s.change(ctx, id, "remind of review", func(r *Request, now time.Time) ([]AuditEntry, error) {
		switch {
		case !r.ReviewOverdue(now):
			return nil, fmt.Errorf("request %s has no overdue review: %w", r.ID, ErrInvalid)
		case !r.ReviewReminded.IsZero():
			return nil, fmt.Errorf("the overdue review of request %s was already reminded at %s: %w", r.ID, when(r.ReviewReminded, now), ErrAlreadyDecided)
		}
		r.ReviewReminded = now
		return []AuditEntry{s.entry(r, SystemUser(), ActionReviewReminded, "post-incident review overdue since "+r.ReviewDue.Format("2006-01-02 15:04 UTC"), false)}, nil
	})
}

// OpenReviews returns the emergency requests whose review is open, newest
// first.
func (s *Service) OpenReviews(ctx context.Context) ([]*Request, error) {
	rs, err := s.store.Requests(ctx, RequestFilter{ReviewOpen: true})
	if err != nil {
		return nil, fmt.Errorf("list open post-incident reviews: %w", err)
	}
	return rs, nil
}
