package approvals

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// ReviewWithin is how long after an emergency request ran an admin has to
// acknowledge its post-incident review before it is overdue.
const ReviewWithin = 24 * time.Hour

// emergencyNeeds says what an emergency request r needs, for its audit
// entry and card.
func emergencyNeeds(r *Request) string {
	needs := plural(r.Required, "approval")
	if len(r.EmergencyApprovers) > 0 {
		needs += " or one from " + strings.Join(r.EmergencyApprovers, ", ")
	}
	return "needs " + needs
}

// mayApproveRequest reports whether user may approve or deny r under the
// policy in force, and whether user is an emergency approver of r (r is an
// emergency request and user is in policy.emergency_approvers); an
// emergency approver may approve an emergency request without being one
// of the approvers.
func (s *Service) mayApproveRequest(ctx context.Context, r *Request, user User) (allowed, emergency bool, err error) {
	allowed, err = s.mayApprove(ctx, user)
	if err != nil || !r.Emergency || len(s.policy.EmergencyApprovers) == 0 {
		return allowed, false, err
	}
	emergency, err = s.inGroups(ctx, s.policy.EmergencyApprovers, user, "emergency approver group")
	return allowed || emergency, emergency, err
}

// checkFinalApproval refuses the approval by user that would approve r
// (and so start it) while the change windows are closed, unless r is an
// emergency request. Earlier approvals are recorded whatever the time: the
// window matters when the request would run.
func (s *Service) checkFinalApproval(r *Request, user User, emergency bool, now time.Time) error {
	if r.Emergency || r.State != StatePending {
		return nil
	}
	c := r.Clone()
	c.Decisions = append(c.Decisions, Decision{User: user, Verdict: VerdictApprove, At: now, EmergencyApprover: emergency})
	if !c.Enough() {
		return nil
	}
	if err := s.checkWindow(r.Operation, false, now); err != nil {
		return fmt.Errorf("request %s cannot be approved now, as the approval would start it: %w", r.ID, err)
	}
	return nil
}

// checkEmergencyApprovable refuses an emergency request that nobody could
// approve: with approvers listed by ID alone (no groups, no emergency
// approvers), fewer of them than approvals_required + 1 besides the
// requester.
func (s *Service) checkEmergencyApprovable(requester User) error {
	p := s.policy
	if p.anyoneMayApprove() || len(p.ApproverGroups) > 0 || len(p.EmergencyApprovers) > 0 {
		return nil
	}
	others := 0
	for _, id := range uniq(p.Approvers) {
		if !SameID(id, requester.ID) {
			others++
		}
	}
	if need := p.ApprovalsRequired + 1; others < need {
		return fmt.Errorf("an emergency request needs %s, but only %s could approve yours; ask an administrator to list more approvers or an emergency_approvers group, or open an ordinary request: %w",
			plural(need, "approval"), plural(others, "approver"), ErrNotAllowed)
	}
	return nil
}
