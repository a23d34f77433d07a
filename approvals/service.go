package approvals

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strings"
	"time"
)

// maxIDAttempts bounds how often Open draws a new ID after a collision.
const maxIDAttempts = 5

// Service is the two-person workflow, and the only writer of requests and
// of the audit trail. It is safe for concurrent use; all coordination
// happens in the Store's atomic Apply.
//
// Each method changes at most one request in one Store.Apply (or Create)
// that also appends the change's audit entries, so a change is never
// written without its record, nor a record without its change. A refusal
// changes nothing; it is audited in a transaction of its own.
type Service struct {
	store  Store
	policy Policy
	// groups are the group resolvers by platform; "" answers for
	// unqualified groups (see WithGroupResolver).
	groups map[string]GroupResolver
	now    func() time.Time
	newID  func() (string, error)
	// reauth, reauthKey, reauthRand: TOTP re-authentication (WithReauth).
	reauth     ReauthStore
	reauthKey  ReauthKey
	reauthRand io.Reader
}

// Option configures a Service.
type Option func(*Service)

// WithClock makes the Service read the time from now instead of time.Now.
func WithClock(now func() time.Time) Option {
	return func(s *Service) { s.now = now }
}

// WithGroupResolver lets the ApproverGroups of platform be checked: r is
// asked about groups qualified by platform ("slack:S0DBA" is asked of the
// Slack resolver as "S0DBA"), and only for users of that platform; a user
// of another platform is simply not a member (no platform is asked about
// another's group). An unqualified group is asked of the resolver of the
// user's platform, or of the one given with platform "" (a program with a
// single, unnamed platform). A policy naming a group no resolver answers
// for is refused by NewService. A nil r is ignored.
func WithGroupResolver(platform string, r GroupResolver) Option {
	return func(s *Service) {
		if r == nil {
			return
		}
		if s.groups == nil {
			s.groups = make(map[string]GroupResolver)
		}
		s.groups[platform] = r
	}
}

// WithIDGenerator replaces NewID, e.g. for deterministic tests.
func WithIDGenerator(f func() (string, error)) Option {
	return func(s *Service) { s.newID = f }
}

// NewService returns the workflow over store, governed by policy (with
// defaults applied, then validated).
func NewService(store Store, policy Policy, opts ...Option) (*Service, error) {
	if store == nil {
		return nil, fmt.Errorf("approvals: a store is required: %w", ErrInvalid)
	}
	s := &Service{
		store:  store,
		policy: policy.WithDefaults(),
		now:    time.Now,
		newID:  NewID,
	}
	for _, o := range opts {
		o(s)
	}
	if s.now == nil {
		s.now = time.Now
	}
	clock := s.now
	s.now = func() time.Time { return clock().UTC().Round(0) } // stored times are UTC, without monotonic reading
	if err := s.policy.Validate(); err != nil {
		return nil, err
	}
	if err := s.checkReauthSetup(); err != nil {
		return nil, err
	}
	var unresolved []string
	for _, g := range slices.Concat(s.policy.ApproverGroups, s.policy.EmergencyApprovers) {
		if p, _ := SplitID(g); s.groups[p] == nil && s.groups[""] == nil && (p != "" || len(s.groups) == 0) {
			unresolved = append(unresolved, g)
		}
	}
	if len(unresolved) > 0 {
		return nil, fmt.Errorf("approval policy: approver groups %s are configured but no connected chat platform resolves them; list approvers by user ID instead: %w",
			strings.Join(unresolved, ", "), ErrInvalid)
	}
	return s, nil
}

// Policy returns a copy of the policy in force (with defaults applied).
func (s *Service) Policy() Policy {
	p := s.policy
	p.Requesters = maps.Clone(p.Requesters)
	for k, v := range p.Requesters {
		p.Requesters[k] = slices.Clone(v)
	}
	p.Approvers = slices.Clone(p.Approvers)
	p.ApproverGroups = slices.Clone(p.ApproverGroups)
	p.Channels = slices.Clone(p.Channels)
	p.Admins = slices.Clone(p.Admins)
	p.Reauth = maps.Clone(p.Reauth)
	p.EmergencyApprovers = slices.Clone(p.EmergencyApprovers)
	return p
}

// CheckRequester reports whether user may use subcommand in channel (see
// Policy.CheckRequester). It does not write an audit entry.
func (s *Service) CheckRequester(subcommand, channel string, user User) error {
	return s.policy.CheckRequester(subcommand, channel, user.ID)
}

// CheckAdmin reports whether user may add or remove schedules (see
// Policy.CheckAdmin). It does not write an audit entry.
func (s *Service) CheckAdmin(user User) error {
	return s.policy.CheckAdmin(user.ID)
}

// Request returns the request with the given ID.
func (s *Service) Request(ctx context.Context, id string) (*Request, error) {
	r, err := s.store.Request(ctx, id)
	if err != nil {
		return nil, s.storeErr(id, "read", err)
	}
	return r, nil
}

// Requests returns the requests that match f, newest first.
func (s *Service) Requests(ctx context.Context, f RequestFilter) ([]*Request, error) {
	rs, err := s.store.Requests(ctx, f)
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return rs, nil
}

// Running returns the requests in state running, for re-attaching to their
// jobs after a restart.
func (s *Service) Running(ctx context.Context) ([]*Request, error) {
	rs, err := s.store.Requests(ctx, RequestFilter{States: []State{StateRunning}})
	if err != nil {
		return nil, fmt.Errorf("list running requests: %w", err)
	}
	return rs, nil
}

// Open checks the policy and stores a new pending request. The caller has
// already validated the operation and built Argv.
func (s *Service) Open(ctx context.Context, nr NewRequest) (*Request, error) {
	if err := nr.validate(); err != nil {
		return nil, err
	}
	refused := func(err error) (*Request, error) {
		return nil, s.recordRefusal(ctx, AuditEntry{
			Actor: nr.Requester.ID, ActorName: nr.Requester.Name, Action: ActionCommandRefused,
			Host: nr.Host, Operation: nr.Operation, Argv: nr.Argv, Outcome: "open",
		}, err)
	}
	if err := s.policy.CheckRequester(nr.Operation, Qualify(nr.Platform, nr.Channel), nr.Requester.ID); err != nil {
		return refused(err)
	}
	if (s.policy.RequireReason || nr.Emergency) && strings.TrimSpace(nr.Reason) == "" {
		if nr.Emergency {
			return refused(fmt.Errorf("breaking glass needs a reason: repeat the command with the reason after --, e.g. `%s --emergency -- INC-123 database down`: %w", nr.Operation, ErrReasonRequired))
		}
		return refused(fmt.Errorf("a reason is required for %s: repeat the command and say why: %w", nr.Operation, ErrReasonRequired))
	}
	now := s.now()
	if err := s.checkWindow(nr.Operation, nr.Emergency, now); err != nil {
		return refused(err)
	}
	if nr.Emergency {
		if err := s.checkEmergencyApprovable(nr.Requester); err != nil {
			return refused(err)
		}
	}

	r := &Request{
		Platform: nr.Platform, Channel: nr.Channel, Thread: nr.Thread,
		Host: nr.Host, Operation: nr.Operation,
		Params: maps.Clone(nr.Params), Argv: slices.Clone(nr.Argv),
		Requester: nr.Requester, Reason: strings.TrimSpace(nr.Reason),
		Fingerprint: nr.Fingerprint, FingerprintInfo: nr.FingerprintInfo,
		Required:       s.policy.ApprovalsRequired,
		ApproverIDs:    slices.Clone(s.policy.Approvers),
		ApproverGroups: slices.Clone(s.policy.ApproverGroups),
		CreatedAt:      now,
		ExpiresAt:      now.Add(s.policy.TTL),
		State:          StatePending,
		FromRequest:    nr.FromRequest,
		Emergency:      nr.Emergency,
		Version:        1,
	}
	detail := "reason: " + r.Reason
	if r.Reason == "" {
		detail = "no reason given"
	}
	if r.Emergency {
		r.Required++
		r.EmergencyApprovers = slices.Clone(s.policy.EmergencyApprovers)
		detail = "EMERGENCY (break-glass, change windows bypassed; " + emergencyNeeds(r) + "); " + detail
	}
	if r.FingerprintInfo != "" {
		detail += "; based on: " + r.FingerprintInfo
	}
	for attempt := 1; ; attempt++ {
		id, err := s.newID()
		if err != nil {
			return nil, err
		}
		r.ID = id
		err = s.store.Create(ctx, r, s.entry(r, nr.Requester, ActionRequestOpened, detail, true))
		if err == nil {
			return r, nil
		}
		if !errors.Is(err, ErrExists) || attempt == maxIDAttempts {
			return nil, fmt.Errorf("store new %s request: %w", nr.Operation, err)
		}
	}
}

// CheckApprover is a cheap pre-check of whether user could approve request
// id now: it exists, is pending and not expired, user is not the requester,
// is an allowed approver and has not approved it yet. Callers use it to
// refuse before doing expensive work (such as running a status to compare
// fingerprints); Approve checks everything again atomically. A refusal is
// audited; a request found past its expiry is marked expired.
func (s *Service) CheckApprover(ctx context.Context, id string, user User) error {
	if err := user.validate("approve"); err != nil {
		return err
	}
	r, err := s.store.Request(ctx, id)
	if err != nil {
		err = s.storeErr(id, "read", err)
		if errors.Is(err, ErrNotFound) {
			return s.recordRefusal(ctx, refusalEntry(nil, id, user, string(VerdictApprove)), err)
		}
		return err
	}
	allowed, emergency, err := s.mayApproveRequest(ctx, r, user)
	if err != nil {
		return err
	}
	now := s.now()
	expire, err := s.checkDecision(r, user, VerdictApprove, allowed, now)
	if err == nil && !expire {
		err = s.checkFinalApproval(r, user, emergency, now)
	}
	if expire {
		if _, xerr := s.Expire(ctx, id); xerr != nil && !IsRefusal(xerr) {
			err = errors.Join(err, xerr)
		}
	}
	if err != nil {
		return s.recordRefusal(ctx, refusalEntry(r, id, user, string(VerdictApprove)), err)
	}
	return nil
}

// Approve records user's approval of request id. currentFingerprint is the
// fingerprint of the state now (e.g. the set of down migrations); when the
// request has a Fingerprint and the two differ, the approval is refused with
// ErrStateChanged. When Required distinct users have approved, the request
// becomes approved.
//
// Every check is made again inside the transaction, so concurrent approvals
// cannot count the same user twice or approve a request another user just
// denied. Group membership is resolved before the transaction (it may need
// the network) from the policy in force.
//
// When the policy asks for re-authentication for the request's operation
// (Policy.Reauth), the approval counts only with WithProof of a code
// Reauthenticate accepted for this request and user; without it, it is
// refused with ErrCodeRequired and audited.
func (s *Service) Approve(ctx context.Context, id string, user User, currentFingerprint string, opts ...ApproveOption) (*Request, error) {
	if err := user.validate("approve"); err != nil {
		return nil, err
	}
	var o approveOptions
	for _, opt := range opts {
		opt(&o)
	}
	var (
		allowed, emergency bool
		err                error
	)
	if r, rerr := s.store.Request(ctx, id); rerr == nil {
		allowed, emergency, err = s.mayApproveRequest(ctx, r, user)
	} else {
		allowed, err = s.mayApprove(ctx, user) // decide reports the missing request
	}
	if err != nil {
		return nil, err
	}
	return s.decide(ctx, id, user, VerdictApprove, allowed, func(r *Request, now time.Time) error {
		if err := s.checkFinalApproval(r, user, emergency && r.Emergency, now); err != nil {
			return err
		}
		if err := s.checkProof(r, user, o.proof, now); err != nil {
			return err
		}
		if r.Fingerprint != "" && currentFingerprint != r.Fingerprint {
			was := ""
			if r.FingerprintInfo != "" {
				was = " (it was based on: " + r.FingerprintInfo + ")"
			}
			return fmt.Errorf("what request %s was based on has changed since it was opened%s, so it cannot be approved; %s should check the state and open a new request: %w",
				r.ID, was, r.Requester, ErrStateChanged)
		}
		r.Decisions = append(r.Decisions, Decision{User: user, Verdict: VerdictApprove, At: now, EmergencyApprover: emergency && r.Emergency})
		if r.Enough() {
			r.State = StateApproved
		}
		return nil
	})
}

// Deny vetoes request id: one deny by an allowed approver ends it, whatever
// approvals it has. The requester cannot deny their own request; they
// Cancel it.
func (s *Service) Deny(ctx context.Context, id string, user User, reason string) (*Request, error) {
	if err := user.validate("deny"); err != nil {
		return nil, err
	}
	allowed, err := s.mayApprove(ctx, user)
	if err != nil {
		return nil, err
	}
	return s.decide(ctx, id, user, VerdictDeny, allowed, func(r *Request, now time.Time) error {
		r.Decisions = append(r.Decisions, Decision{User: user, Verdict: VerdictDeny, At: now, Reason: strings.TrimSpace(reason)})
		r.State = StateDenied
		return nil
	})
}

// Cancel withdraws pending request id. Only its requester may cancel it.
func (s *Service) Cancel(ctx context.Context, id string, user User) (*Request, error) {
	if err := user.validate("cancel"); err != nil {
		return nil, err
	}
	return s.decide(ctx, id, user, VerdictCancel, false, func(r *Request, now time.Time) error {
		r.Decisions = append(r.Decisions, Decision{User: user, Verdict: VerdictCancel, At: now})
		r.State = StateCancelled
		return nil
	})
}

// decide runs one decision (approve, deny, cancel) on a pending request in
// one Store.Apply: the common checks, then apply, then the audit entry. A
// request found past its expiry is marked expired in the same transaction,
// with its expiry and the refused decision audited, and the decision is
// refused with ErrExpired.
func (s *Service) decide(ctx context.Context, id string, user User, v Verdict, allowed bool, apply func(*Request, time.Time) error) (*Request, error) {
	var (
		refusal error
		expired bool
		before  *Request
	)
	r, err := s.store.Apply(ctx, id, func(r *Request) ([]AuditEntry, error) {
		refusal, expired, before = nil, false, r.Clone()
		now := s.now()
		expire, err := s.checkDecision(r, user, v, allowed, now)
		if expire {
			markExpired(r, now)
			refusal, expired = err, true
			refused := refusalEntry(r, id, user, string(v))
			refused.Detail = err.Error()
			return []AuditEntry{s.entry(r, SystemUser(), ActionRequestExpired, expiredDetail(r), false), refused}, nil
		}
		if err == nil {
			err = apply(r, now)
		}
		if err != nil {
			refusal = err
			return nil, err
		}
		return []AuditEntry{s.entry(r, user, decisionAction(v), decisionDetail(r, v), false)}, nil
	})
	switch {
	case err != nil && refusal != nil && err == refusal:
		return nil, s.recordRefusal(ctx, refusalEntry(before, id, user, string(v)), err)
	case err != nil:
		err = s.storeErr(id, string(v), err)
		if errors.Is(err, ErrNotFound) {
			return nil, s.recordRefusal(ctx, refusalEntry(nil, id, user, string(v)), err)
		}
		return nil, err
	case expired:
		return nil, refusal
	}
	return r, nil
}

func decisionAction(v Verdict) string {
	switch v {
	case VerdictApprove:
		return ActionRequestApproved
	case VerdictDeny:
		return ActionRequestDenied
	}
	return ActionRequestCancelled
}

// decisionDetail describes decision v just applied to r.
func decisionDetail(r *Request, v Verdict) string {
	switch v {
	case VerdictApprove:
		n := len(r.Approvals())
		detail := fmt.Sprintf("approval %d of %d", n, r.Required)
		if r.Decisions[len(r.Decisions)-1].EmergencyApprover {
			detail += " by an emergency approver, which suffices"
		}
		if r.State == StatePending {
			detail += fmt.Sprintf("; waiting for %d more", r.Required-n)
		}
		return detail
	case VerdictDeny:
		if why := r.Decisions[len(r.Decisions)-1].Reason; why != "" {
			return "reason: " + why
		}
		return "no reason given"
	}
	return "cancelled by the requester"
}

// Start moves approved request id to running. It is the exactly-once gate:
// however many callers race, only one gets the request back; the others
// get ErrAlreadyStarted (or ErrNotApproved, ErrAlreadyDecided, ErrExpired
// naming the state). Only the caller that got success may run the argv.
//
// The start and its audit entry are one transaction: if either cannot be
// written, neither is, and an error is returned: do not run it, and end the
// request with Abandon (the expiry sweep does so too, after
// ApprovedDeadline).
func (s *Service) Start(ctx context.Context, id string) (*Request, error) {
	return s.change(ctx, id, "start", func(r *Request, now time.Time) ([]AuditEntry, error) {
		switch {
		case r.State == StateApproved:
			r.State = StateRunning
			r.StartedAt = now
			names := make([]string, 0, r.Required)
			for _, d := range r.Approvals() {
				names = append(names, d.User.String())
			}
			detail := "approved by " + list(names)
			if r.Emergency {
				detail = "EMERGENCY (break-glass): " + detail + "; reason: " + r.Reason
			}
			return []AuditEntry{s.entry(r, SystemUser(), ActionRequestStarted, detail, true)}, nil
		case r.State.Started() && !r.StartedAt.IsZero():
			return nil, fmt.Errorf("request %s was already started at %s (it is %s now); it runs only once: %w",
				r.ID, when(r.StartedAt, now), r.State, ErrAlreadyStarted)
		case r.State == StatePending:
			return nil, fmt.Errorf("request %s is still waiting for approval (%d of %d): %w",
				r.ID, len(r.Approvals()), r.Required, ErrNotApproved)
		}
		return nil, decidedErr(r, now)
	})
}

// Abandon ends approved request id, which was never started, as
// interrupted: nothing ran. It is what happens when starting failed (the
// store could not record the start) or when the bot restarted between the
// approval and the start (the approval may be stale by then). why says
// what happened; the request's Error and the audit entry carry it.
func (s *Service) Abandon(ctx context.Context, id, why string) (*Request, error) {
	return s.change(ctx, id, "abandon", func(r *Request, now time.Time) ([]AuditEntry, error) {
		if r.State != StateApproved {
			if !r.StartedAt.IsZero() {
				return nil, fmt.Errorf("request %s was already started at %s (it is %s now): %w", r.ID, when(r.StartedAt, now), r.State, ErrAlreadyStarted)
			}
			return nil, decidedErr(r, now)
		}
		r.State = StateInterrupted
		r.EndedAt = now
		r.Error = "not started, nothing ran: " + why
		return []AuditEntry{s.entry(r, SystemUser(), ActionRequestFinished, r.Error, false)}, nil
	})
}

// SetJob records the agent's job ID on running request id. Recording the
// same job ID again (a follower that re-attached to it, on this replica or
// another) is allowed and writes nothing, so the trail records each job
// once; a different one is refused.
func (s *Service) SetJob(ctx context.Context, id, jobID string) (*Request, error) {
	if strings.TrimSpace(jobID) == "" {
		return nil, fmt.Errorf("request %s: empty job ID: %w", id, ErrInvalid)
	}
	var same *Request
	r, err := s.change(ctx, id, "set job", func(r *Request, now time.Time) ([]AuditEntry, error) {
		if r.State != StateRunning {
			return nil, fmt.Errorf("request %s is %s, not running; a job can only be recorded for a running request: %w", r.ID, r.State, ErrNotRunning)
		}
		if r.JobID == jobID {
			same = r.Clone()
			return nil, errUnchanged
		}
		if r.JobID != "" {
			return nil, fmt.Errorf("request %s already has job %s; it cannot be given job %s: %w", r.ID, r.JobID, jobID, ErrInvalid)
		}
		r.JobID = jobID
		return []AuditEntry{s.entry(r, SystemUser(), ActionRequestJob, "agent job "+jobID, false)}, nil
	})
	if same != nil {
		return same, nil
	}
	return r, err
}

// Finish records how running request id ended: outcome is StateSucceeded,
// StateFailed or StateInterrupted. detail becomes the request's Outcome when
// it succeeded and its Error otherwise.
func (s *Service) Finish(ctx context.Context, id string, outcome State, detail string) (*Request, error) {
	switch outcome {
	case StateSucceeded, StateFailed, StateInterrupted:
	default:
		return nil, fmt.Errorf("request %s: %q is not an outcome; use succeeded, failed or interrupted: %w", id, outcome, ErrInvalid)
	}
	return s.change(ctx, id, "finish", func(r *Request, now time.Time) ([]AuditEntry, error) {
		if r.State != StateRunning {
			if r.State.Started() || r.State == StateInterrupted {
				return nil, fmt.Errorf("request %s already finished: it %s at %s: %w", r.ID, r.State, when(r.EndedAt, now), ErrAlreadyDecided)
			}
			return nil, fmt.Errorf("request %s is %s, not running, so it cannot finish: %w", r.ID, r.State, ErrNotRunning)
		}
		r.State = outcome
		r.EndedAt = now
		r.Note = ""
		if outcome == StateSucceeded {
			r.Outcome = detail
		} else {
			r.Error = detail
		}
		entry := s.entry(r, SystemUser(), ActionRequestFinished, detail, false)
		if r.Emergency {
			r.ReviewDue = now.Add(ReviewWithin)
			entry.Detail += "; EMERGENCY request: post-incident review by an admin due by " + r.ReviewDue.Format("2006-01-02 15:04 UTC")
		}
		return []AuditEntry{entry}, nil
	})
}

// errUnchanged aborts a change that would write nothing new; it is not a
// refusal and is never audited nor returned to callers.
var errUnchanged = errors.New("unchanged")

// Note sets running request id's Note to note, or clears it when note is
// empty, audited as request.noted. It is how a state that lasts (the agent
// cannot be reached, the outcome is not known yet) is seen outside the
// thread: in `pending` and on the request's card. Setting the note it
// already has changes nothing and writes nothing.
func (s *Service) Note(ctx context.Context, id, note string) (*Request, error) {
	note = strings.TrimSpace(note)
	var same *Request
	r, err := s.change(ctx, id, "note", func(r *Request, now time.Time) ([]AuditEntry, error) {
		if r.State != StateRunning {
			return nil, fmt.Errorf("request %s is %s, not running; only a running request takes a note: %w", r.ID, r.State, ErrNotRunning)
		}
		if r.Note == note {
			same = r.Clone()
			return nil, errUnchanged
		}
		r.Note = note
		detail := note
		if detail == "" {
			detail = "note cleared"
		}
		return []AuditEntry{s.entry(r, SystemUser(), ActionRequestNoted, detail, false)}, nil
	})
	if same != nil {
		return same, nil
	}
	return r, err
}

// Expire marks pending request id expired if its approval window has
// passed. It refuses (ErrInvalid) while the window is still open.
func (s *Service) Expire(ctx context.Context, id string) (*Request, error) {
	return s.change(ctx, id, "expire", func(r *Request, now time.Time) ([]AuditEntry, error) {
		if r.State != StatePending {
			return nil, decidedErr(r, now)
		}
		if !r.Due(now) {
			return nil, fmt.Errorf("request %s is open for approval until %s; it cannot expire before then: %w", r.ID, when(r.ExpiresAt, now), ErrInvalid)
		}
		markExpired(r, now)
		return []AuditEntry{s.entry(r, SystemUser(), ActionRequestExpired, expiredDetail(r), false)}, nil
	})
}

// change runs fn on request id in one Store.Apply on behalf of the system;
// the entries fn returns are written with the change. An error from fn is
// a refusal: nothing is written, it is audited as request.refused and
// returned as is.
func (s *Service) change(ctx context.Context, id, attempted string, fn func(*Request, time.Time) ([]AuditEntry, error)) (*Request, error) {
	return s.changeAs(ctx, id, SystemUser(), attempted, fn)
}

// changeAs is change on behalf of actor, whose refusals are audited as
// theirs.
func (s *Service) changeAs(ctx context.Context, id string, actor User, attempted string, fn func(*Request, time.Time) ([]AuditEntry, error)) (*Request, error) {
	var (
		refusal error
		before  *Request
	)
	r, err := s.store.Apply(ctx, id, func(r *Request) ([]AuditEntry, error) {
		before = r.Clone()
		entries, err := fn(r, s.now())
		refusal = err
		return entries, err
	})
	switch {
	case err != nil && errors.Is(refusal, errUnchanged) && err == refusal:
		return nil, refusal
	case err != nil && refusal != nil && err == refusal:
		return nil, s.recordRefusal(ctx, refusalEntry(before, id, actor, attempted), err)
	case err != nil:
		return nil, s.storeErr(id, attempted, err)
	}
	return r, nil
}

// AddParams adds params to request id's Params, e.g. the finalize GitLab
// suggested when a migrate failed (for `finalize --from`), and audits it
// with detail. What was approved never changes: a key the request already
// has is refused unless its value is the same.
func (s *Service) AddParams(ctx context.Context, id string, params map[string]string, detail string) (*Request, error) {
	return s.change(ctx, id, "add parameters", func(r *Request, now time.Time) ([]AuditEntry, error) {
		for k, v := range params {
			if old, ok := r.Params[k]; ok && old != v {
				return nil, fmt.Errorf("request %s already has %s=%q; its parameters cannot be changed: %w", r.ID, k, old, ErrInvalid)
			}
		}
		if r.Params == nil {
			r.Params = map[string]string{}
		}
		maps.Copy(r.Params, params)
		return []AuditEntry{s.entry(r, SystemUser(), ActionRequestAnnotated, detail, false)}, nil
	})
}

// ApprovedDeadline is how long a request may stay approved without being
// started. Start follows the final approval at once; a request still
// approved after this long was left behind by a failure (the store refused
// the start, the bot crashed), and ExpireDue ends it as interrupted.
const ApprovedDeadline = 2 * time.Minute

// ExpireDue is the sweep that gives every waiting state a deadline: it
// expires every pending request whose window has passed, abandons every
// approved request not started within ApprovedDeadline of its last
// approval, and returns the requests it changed. Requests changed
// concurrently are skipped.
func (s *Service) ExpireDue(ctx context.Context) ([]*Request, error) {
	waiting, err := s.store.Requests(ctx, RequestFilter{States: []State{StatePending, StateApproved}})
	if err != nil {
		return nil, fmt.Errorf("list waiting requests: %w", err)
	}
	var (
		out  []*Request
		errs []error
	)
	now := s.now()
	for _, p := range waiting {
		var (
			r   *Request
			err error
		)
		switch last, _ := p.Final(); {
		case p.State == StatePending && p.Due(now):
			r, err = s.Expire(ctx, p.ID)
		case p.State == StateApproved && now.Sub(last.At) >= ApprovedDeadline:
			r, err = s.Abandon(ctx, p.ID, fmt.Sprintf("it was approved at %s but not started within %s", when(last.At, now), ApprovedDeadline))
		default:
			continue
		}
		if r != nil {
			out = append(out, r)
		}
		if err != nil && !IsRefusal(err) {
			errs = append(errs, err)
		}
	}
	return out, errors.Join(errs...)
}

// checkDecision says whether user may take decision v on r now. expire is
// true when r is pending but past its window; the error is then ErrExpired.
// allowed is whether user is an allowed approver (ignored for cancel).
func (s *Service) checkDecision(r *Request, user User, v Verdict, allowed bool, now time.Time) (expire bool, err error) {
	if r.State != StatePending {
		return false, decidedErr(r, now)
	}
	if r.Due(now) {
		return true, fmt.Errorf("request %s expired at %s without enough approvals; %s can open a new one if it is still needed: %w",
			r.ID, when(r.ExpiresAt, now), r.Requester, ErrExpired)
	}
	isRequester := r.IsRequester(user.ID)
	switch v {
	case VerdictApprove:
		if isRequester {
			return false, fmt.Errorf("you opened request %s yourself; a different person must approve it: %w", r.ID, ErrSelfApproval)
		}
		if !allowed {
			return false, fmt.Errorf("you are not an approver for gitlab-chatops requests, so you cannot approve request %s; ask one of its approvers: %w", r.ID, ErrNotApprover)
		}
		if d, ok := r.ApprovedBy(user.ID); ok {
			more := r.Required - len(r.Approvals())
			return false, fmt.Errorf("you already approved request %s at %s; it needs %s from someone else: %w", r.ID, when(d.At, now), plural(more, "more approval"), ErrDuplicateApproval)
		}
	case VerdictDeny:
		if isRequester {
			return false, fmt.Errorf("you opened request %s yourself; to withdraw it, cancel it instead of denying it: %w", r.ID, ErrSelfApproval)
		}
		if !allowed {
			return false, fmt.Errorf("you are not an approver for gitlab-chatops requests, so you cannot deny request %s: %w", r.ID, ErrNotApprover)
		}
	case VerdictCancel:
		if !isRequester {
			return false, fmt.Errorf("only %s, who opened request %s, can cancel it; approvers can deny it instead: %w", r.Requester, r.ID, ErrNotRequester)
		}
	}
	return false, nil
}

// mayApprove reports whether the policy in force lets user approve or deny.
func (s *Service) mayApprove(ctx context.Context, user User) (bool, error) {
	if s.policy.anyoneMayApprove() || containsID(s.policy.Approvers, user.ID) {
		return true, nil
	}
	return s.inGroups(ctx, s.policy.ApproverGroups, user, "approver group")
}

// inGroups reports whether user is a member of any of groups (what names
// them in an error).
func (s *Service) inGroups(ctx context.Context, groups []string, user User, what string) (bool, error) {
	up, local := SplitID(user.ID)
	for _, g := range groups {
		gp, group := SplitID(g)
		r := s.resolver(gp, up)
		if r == nil {
			continue // another platform's group: not a member, and that platform is not asked
		}
		ok, err := r.IsMember(ctx, group, local)
		if err != nil {
			return false, fmt.Errorf("could not check whether %s is in %s %s; try again in a moment: %w", user, what, g, err)
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// resolver returns the GroupResolver that answers for a group of platform
// gp about a user of platform up ("" for unqualified), or nil when the
// user cannot be a member: the group is another platform's, or no
// resolver answers for it.
func (s *Service) resolver(gp, up string) GroupResolver {
	if gp != "" && up != "" && gp != up {
		return nil
	}
	p := gp
	if p == "" {
		p = up
	}
	if r := s.groups[p]; r != nil {
		return r
	}
	return s.groups[""]
}

// decidedErr describes a request that is no longer pending.
func decidedErr(r *Request, now time.Time) error {
	d, _ := r.Final()
	switch r.State {
	case StatePending:
		return fmt.Errorf("request %s is still pending: %w", r.ID, ErrNotApproved)
	case StateApproved:
		names := make([]string, 0, r.Required)
		for _, a := range r.Approvals() {
			names = append(names, a.User.String())
		}
		return fmt.Errorf("request %s was already approved by %s at %s: %w", r.ID, list(names), when(d.At, now), ErrAlreadyDecided)
	case StateRunning:
		return fmt.Errorf("request %s was already approved and is running (started at %s): %w", r.ID, when(r.StartedAt, now), ErrAlreadyDecided)
	case StateInterrupted:
		if r.StartedAt.IsZero() {
			return fmt.Errorf("request %s was never started (%s): %w", r.ID, r.Error, ErrAlreadyDecided)
		}
		return fmt.Errorf("request %s already ran: it %s at %s: %w", r.ID, r.State, when(r.EndedAt, now), ErrAlreadyDecided)
	case StateSucceeded, StateFailed:
		return fmt.Errorf("request %s already ran: it %s at %s: %w", r.ID, r.State, when(r.EndedAt, now), ErrAlreadyDecided)
	case StateDenied:
		why := ""
		if d.Reason != "" {
			why = " (" + d.Reason + ")"
		}
		return fmt.Errorf("request %s was already denied by %s at %s%s: %w", r.ID, d.User, when(d.At, now), why, ErrAlreadyDecided)
	case StateCancelled:
		return fmt.Errorf("request %s was cancelled by %s at %s: %w", r.ID, d.User, when(d.At, now), ErrAlreadyDecided)
	case StateExpired:
		return fmt.Errorf("request %s expired at %s without enough approvals; %s can open a new one if it is still needed: %w", r.ID, when(r.ExpiresAt, now), r.Requester, ErrExpired)
	}
	return fmt.Errorf("request %s is in unknown state %q: %w", r.ID, r.State, ErrInvalid)
}

func markExpired(r *Request, now time.Time) {
	r.State = StateExpired
	r.Decisions = append(r.Decisions, Decision{User: SystemUser(), Verdict: VerdictExpire, At: now})
}

func expiredDetail(r *Request) string {
	return fmt.Sprintf("expired with %d of %d approvals", len(r.Approvals()), r.Required)
}

// entry builds the audit entry for a change of r made by actor.
func (s *Service) entry(r *Request, actor User, action, detail string, withArgv bool) AuditEntry {
	e := AuditEntry{
		Actor: actor.ID, ActorName: actor.Name, Action: action,
		RequestID: r.ID, Host: r.Host, Operation: r.Operation,
		Outcome: string(r.State), Detail: detail,
	}
	if withArgv {
		e.Argv = slices.Clone(r.Argv)
	}
	return e
}

// refusalEntry builds the audit entry for a refused decision; r may be nil
// when the request does not exist.
func refusalEntry(r *Request, id string, user User, attempted string) AuditEntry {
	e := AuditEntry{
		Actor: user.ID, ActorName: user.Name, Action: ActionRequestRefused,
		RequestID: id, Outcome: attempted,
	}
	if r != nil {
		e.Host, e.Operation = r.Host, r.Operation
	}
	return e
}

// Record appends entries that change no request (read-only runs, refused
// commands and calls, job output digests) to the audit trail, in one
// transaction. It ignores ctx's cancellation: what it records has already
// happened.
func (s *Service) Record(ctx context.Context, entries ...AuditEntry) error {
	if _, err := s.store.Append(context.WithoutCancel(ctx), entries...); err != nil {
		what := "entries"
		if len(entries) > 0 {
			what = entries[0].Action
		}
		return fmt.Errorf("record %s in the audit log: %w", what, err)
	}
	return nil
}

// recordRefusal audits refusal (its message becomes the Detail) and returns
// it, joined with any audit failure.
func (s *Service) recordRefusal(ctx context.Context, e AuditEntry, refusal error) error {
	e.Detail = refusal.Error()
	if err := s.Record(ctx, e); err != nil {
		return errors.Join(refusal, err)
	}
	return refusal
}

// storeErr words a store error for the chat user.
func (s *Service) storeErr(id, doing string, err error) error {
	if errors.Is(err, ErrNotFound) {
		return fmt.Errorf("there is no request %q; check the ID in the request message: %w", id, ErrNotFound)
	}
	return fmt.Errorf("%s request %s: %w", doing, id, err)
}

func (nr NewRequest) validate() error {
	var missing []string
	if strings.TrimSpace(nr.Host) == "" {
		missing = append(missing, "host")
	}
	if strings.TrimSpace(nr.Operation) == "" {
		missing = append(missing, "operation")
	}
	if len(nr.Argv) == 0 || nr.Argv[0] == "" {
		missing = append(missing, "argv")
	}
	if nr.Requester.ID == "" {
		missing = append(missing, "requester ID")
	}
	if len(missing) > 0 {
		return fmt.Errorf("new request is missing %s: %w", list(missing), ErrInvalid)
	}
	return nil
}

func (u User) validate(doing string) error {
	if strings.TrimSpace(u.ID) == "" {
		return fmt.Errorf("cannot %s: the user has no ID: %w", doing, ErrInvalid)
	}
	return nil
}

// when formats t for chat: the time alone if it is on the same day as now,
// with the date otherwise.
func when(t, now time.Time) string {
	t, now = t.UTC(), now.UTC()
	if t.IsZero() {
		return "an unknown time"
	}
	if t.YearDay() == now.YearDay() && t.Year() == now.Year() {
		return t.Format("15:04 UTC")
	}
	return t.Format("2006-01-02 15:04 UTC")
}

// list joins names as "a", "a and b", "a, b and c".
func list(names []string) string {
	switch len(names) {
	case 0:
		return "nobody"
	case 1:
		return names[0]
	}
	return strings.Join(names[:len(names)-1], ", ") + " and " + names[len(names)-1]
}

// plural returns "1 thing" or "n things".
func plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}
