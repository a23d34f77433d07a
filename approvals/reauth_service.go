package approvals

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"
)

// TOTP parameters: those of every common authenticator app (RFC 6238's
// defaults): six digits, 30 s steps, HMAC-SHA1. A code of the step before
// or after the current one is accepted too (clock drift, typing time).
const (
	totpPeriod = 30
	totpDigits = otp.DigitsSix
	totpSkew   = 1
	totpIssuer = "gitlab-chatops"
)

// WithReauth gives the Service what TOTP re-authentication needs: the
// store of enrolments and the key their secrets are sealed with. A policy
// whose Reauth asks for TOTP is refused by NewService without them.
// random, when not nil, replaces crypto/rand for new secrets (tests).
func WithReauth(store ReauthStore, key ReauthKey, random io.Reader) Option {
	return func(s *Service) {
		s.reauth, s.reauthKey, s.reauthRand = store, key, random
	}
}

// checkReauthSetup refuses a policy asking for TOTP without a store or a
// usable key.
func (s *Service) checkReauthSetup() error {
	if !s.policy.reauthUsed() {
		return nil
	}
	if s.reauth == nil {
		return fmt.Errorf("approval policy: policy.reauth asks for TOTP but the bot's store keeps no enrolments: %w", ErrInvalid)
	}
	if err := s.reauthKey.Check(); err != nil {
		return fmt.Errorf("approval policy: %w", err)
	}
	return nil
}

// NeedsReauth reports whether approving operation needs a code.
func (s *Service) NeedsReauth(operation string) bool {
	return s.policy.ReauthFor(operation) == ReauthTOTP
}

// Enrolled reports whether user has an authenticator enrolled.
func (s *Service) Enrolled(ctx context.Context, user User) (bool, error) {
	if s.reauth == nil {
		return false, nil
	}
	e, err := s.reauth.Enrolment(ctx, user.ID)
	if err != nil {
		return false, fmt.Errorf("read the enrolment of %s: %w", user, err)
	}
	return e.Enrolled(), nil
}

// ReauthProof says that an approver gave a valid code for one request. Only
// Service.Reauthenticate makes one (its fields are unexported), and Approve
// of an operation that needs re-authentication counts only with a proof
// for that request and approver, no older than ProofTTL.
type ReauthProof struct {
	requestID, userID string
	at                time.Time
}

// ApproveOption adds to an approval what some policies ask for.
type ApproveOption func(*approveOptions)

type approveOptions struct{ proof ReauthProof }

// WithProof gives Approve the proof of a verified code.
func WithProof(p ReauthProof) ApproveOption {
	return func(o *approveOptions) { o.proof = p }
}

// checkProof is Approve's check, inside its transaction: r's operation
// needs re-authentication and p does not prove it for r and user now.
func (s *Service) checkProof(r *Request, user User, p ReauthProof, now time.Time) error {
	if !s.NeedsReauth(r.Operation) {
		return nil
	}
	if p.requestID != r.ID || p.userID != user.ID || p.at.IsZero() {
		return fmt.Errorf("approving %s needs the current code of your authenticator app: type /gitlab-migrations approve %s --code NNNNNN: %w", r.Operation, r.ID, ErrCodeRequired)
	}
	if now.Sub(p.at) > ProofTTL {
		return fmt.Errorf("your code for request %s was checked at %s, over %s ago; approve again with a new code: %w", r.ID, when(p.at, now), minutes(ProofTTL), ErrCodeRequired)
	}
	return nil
}

// Reauthenticate checks user's code for approving request id. A valid,
// unused code gives the proof Approve needs (nothing is approved yet); a
// request whose operation needs no re-authentication gives an empty proof
// and no error, whatever the code. Every answer but a malformed code is
// audited: the accepted code, a wrong or reused one (counted: MaxWrongCodes
// within WrongCodeWindow lock user out for Lockout), a try while locked out.
func (s *Service) Reauthenticate(ctx context.Context, id string, user User, code string) (ReauthProof, error) {
	if err := user.validate("re-authenticate"); err != nil {
		return ReauthProof{}, err
	}
	r, err := s.store.Request(ctx, id)
	if err != nil {
		err = s.storeErr(id, "read", err)
		if errors.Is(err, ErrNotFound) {
			return ReauthProof{}, s.recordRefusal(ctx, refusalEntry(nil, id, user, string(VerdictApprove)), err)
		}
		return ReauthProof{}, err
	}
	if !s.NeedsReauth(r.Operation) {
		return ReauthProof{}, nil
	}
	base := AuditEntry{Actor: user.ID, ActorName: user.Name, RequestID: r.ID, Host: r.Host, Operation: r.Operation, Outcome: string(VerdictApprove)}
	at, _, err := s.verifyCode(ctx, user, code, base, "approving request "+r.ID)
	if err != nil {
		return ReauthProof{}, err
	}
	return ReauthProof{requestID: r.ID, userID: user.ID, at: at}, nil
}

// Enroll gives user a new TOTP secret, stored sealed, and returns its key
// (the otpauth:// URI and QR code to show to user alone). Replacing an
// enrolled secret needs a current code of it (code), so that a borrowed
// chat session cannot quietly take over an approver's second factor; a
// secret the configured key cannot open any more may be replaced without.
// Audited as reauth.enrolled.
func (s *Service) Enroll(ctx context.Context, user User, code string) (*otp.Key, error) {
	if err := user.validate("enrol"); err != nil {
		return nil, err
	}
	if s.reauth == nil || s.reauthKey.Check() != nil {
		return nil, s.recordRefusal(ctx, AuditEntry{Actor: user.ID, ActorName: user.Name, Action: ActionCommandRefused, Operation: "enroll"},
			fmt.Errorf("re-authentication is not set up on this bot (no policy.reauth, or no reauth key), so there is nothing to enrol in: %w", ErrNotAllowed))
	}
	account := user.Name
	if account == "" {
		account = user.ID
	}
	key, err := totp.Generate(totp.GenerateOpts{Issuer: totpIssuer, AccountName: account, Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1, Rand: s.reauthRand})
	if err != nil {
		return nil, fmt.Errorf("generate a TOTP secret: %w", err)
	}
	sealed, err := s.reauthKey.SealSecret(user.ID, key.Secret())
	if err != nil {
		return nil, err
	}
	cur, err := s.reauth.Enrolment(ctx, user.ID)
	if err != nil {
		return nil, fmt.Errorf("read the enrolment of %s: %w", user, err)
	}
	// The record must still be the one checked here when the new secret
	// is written: a secret enrolled meanwhile is never replaced without
	// its code.
	replacing, checked := "enrolled", cur.Version
	if cur.Enrolled() {
		if _, oerr := s.reauthKey.OpenSecret(user.ID, cur.Secret); oerr != nil {
			replacing = "re-enrolled: the previous secret did not open with the configured key"
		} else {
			if strings.TrimSpace(code) == "" {
				return nil, s.recordRefusal(ctx, AuditEntry{Actor: user.ID, ActorName: user.Name, Action: ActionCommandRefused, Operation: "enroll"},
					fmt.Errorf("you are already enrolled; to replace your authenticator's secret, prove you hold it: /gitlab-migrations enroll --code NNNNNN (the current code): %w", ErrCodeRequired))
			}
			base := AuditEntry{Actor: user.ID, ActorName: user.Name, Operation: "enroll", Outcome: "enroll"}
			if _, checked, err = s.verifyCode(ctx, user, code, base, "re-enrolling"); err != nil {
				return nil, err
			}
			replacing = "re-enrolled: the previous secret was replaced"
		}
	}
	_, err = s.reauth.UpdateReauth(ctx, user.ID, func(e *Enrolment) ([]AuditEntry, error) {
		if e.Version != checked {
			return nil, fmt.Errorf("your enrolment changed while this one was being made (another enrolment, or a code, at the same moment); nothing was replaced: run enroll again: %w", ErrInvalid)
		}
		now := s.now()
		e.Secret, e.EnrolledAt, e.Failures, e.LockedUntil = sealed, now, nil, time.Time{}
		return []AuditEntry{{Actor: user.ID, ActorName: user.Name, Action: ActionReauthEnrolled, Operation: "enroll", Detail: replacing}}, nil
	})
	switch {
	case err != nil && IsRefusal(err):
		return nil, s.recordRefusal(ctx, AuditEntry{Actor: user.ID, ActorName: user.Name, Action: ActionCommandRefused, Operation: "enroll"}, err)
	case err != nil:
		return nil, fmt.Errorf("store the enrolment of %s: %w", user, err)
	}
	return key, nil
}

// ResetEnrolment removes userID's authenticator, for an approver who lost
// it: they enrol again from scratch. Only an admin (policy.admins) may, and
// never for themselves (a borrowed admin session could otherwise replace
// its own second factor); replays of old codes stay refused. Audited as
// reauth.reset by admin, in the same transaction.
func (s *Service) ResetEnrolment(ctx context.Context, admin User, userID string) error {
	if err := admin.validate("reset an enrolment"); err != nil {
		return err
	}
	refused := func(err error) error {
		return s.recordRefusal(ctx, AuditEntry{Actor: admin.ID, ActorName: admin.Name, Action: ActionCommandRefused, Operation: "enroll", Outcome: "reset", Detail: userID}, err)
	}
	if strings.TrimSpace(userID) == "" {
		return refused(fmt.Errorf("say whose enrolment to reset: /gitlab-migrations enroll --reset <user ID>: %w", ErrInvalid))
	}
	if err := s.policy.CheckAdmin(admin.ID); err != nil {
		return refused(fmt.Errorf("only the bot's admins (policy.admins) may reset an approver's authenticator: %w", ErrNotAllowed))
	}
	if SameID(admin.ID, userID) {
		return refused(fmt.Errorf("you cannot reset your own authenticator; ask another admin: %w", ErrNotAllowed))
	}
	if s.reauth == nil {
		return refused(fmt.Errorf("re-authentication is not set up on this bot, so there is nothing to reset: %w", ErrNotAllowed))
	}
	_, err := s.reauth.UpdateReauth(ctx, userID, func(e *Enrolment) ([]AuditEntry, error) {
		if !e.Enrolled() {
			return nil, fmt.Errorf("%s has no authenticator enrolled, so there is nothing to reset (IDs are qualified, e.g. slack:U0123ABCD): %w", userID, ErrNotEnrolled)
		}
		e.Secret, e.EnrolledAt, e.Failures, e.LockedUntil = nil, time.Time{}, nil, time.Time{}
		return []AuditEntry{{Actor: admin.ID, ActorName: admin.Name, Action: ActionReauthReset, Operation: "enroll", Outcome: "reset",
			Detail: "enrolment of " + userID + " removed; they must enrol again"}}, nil
	})
	switch {
	case err != nil && IsRefusal(err):
		return refused(err)
	case err != nil:
		return fmt.Errorf("reset the enrolment of %s: %w", userID, err)
	}
	return nil
}

// verifyCode checks code against user's enrolled secret in one
// UpdateReauth, recording the outcome with base's fields (base.Outcome is
// what was attempted, for a refusal's entry; forWhat: words for the
// messages), and returns when it was accepted and the record's version as
// written then.
func (s *Service) verifyCode(ctx context.Context, user User, code string, base AuditEntry, forWhat string) (time.Time, uint64, error) {
	code = strings.TrimSpace(code)
	if code == "" {
		return time.Time{}, 0, s.recordRefusal(ctx, withAction(base, ActionRequestRefused, base.Outcome),
			fmt.Errorf("%s needs the current code of your authenticator app: %w", forWhat, ErrCodeRequired))
	}
	if len(code) != totpDigits.Length() || strings.Trim(code, "0123456789") != "" {
		// A typo, not a guess: audited but not counted.
		return time.Time{}, 0, s.recordRefusal(ctx, withAction(base, ActionRequestRefused, base.Outcome),
			fmt.Errorf("the code is the %d digits your authenticator app shows for gitlab-chatops, e.g. --code 123456: %w", totpDigits.Length(), ErrWrongCode))
	}
	var (
		refusal  error
		accepted time.Time
	)
	written, err := s.reauth.UpdateReauth(ctx, user.ID, func(e *Enrolment) ([]AuditEntry, error) {
		refusal, accepted = nil, time.Time{}
		now := s.now()
		if !e.Enrolled() {
			return nil, fmt.Errorf("you have no authenticator enrolled; enrol first with /gitlab-migrations enroll (the bot answers you alone): %w", ErrNotEnrolled)
		}
		if now.Before(e.LockedUntil) {
			return nil, fmt.Errorf("too many wrong codes: you are locked out of approvals that need a code until %s: %w", when(e.LockedUntil, now), ErrLockedOut)
		}
		if !e.LockedUntil.IsZero() {
			e.LockedUntil, e.Failures = time.Time{}, nil // the lockout ended
		}
		secret, err := s.reauthKey.OpenSecret(user.ID, e.Secret)
		if err != nil {
			return nil, err
		}
		step, ok := matchStep(secret, code, now)
		switch {
		case ok && step > e.LastStep:
			e.LastStep, e.Failures, accepted = step, nil, now
			return []AuditEntry{withAction(base, ActionReauthVerified, "accepted", "code accepted for "+forWhat)}, nil
		case ok:
			refusal = fmt.Errorf("that code was already used; wait for the next one your app shows: %w", ErrCodeReused)
		default:
			refusal = fmt.Errorf("that is not the current code of your authenticator app for gitlab-chatops: %w", ErrWrongCode)
		}
		e.Failures = append(recentFailures(e.Failures, now), now)
		if len(e.Failures) >= MaxWrongCodes {
			e.LockedUntil, e.Failures = now.Add(Lockout), nil
			refusal = fmt.Errorf("%d wrong codes within %s: you are locked out of approvals that need a code until %s: %w", MaxWrongCodes, minutes(WrongCodeWindow), when(e.LockedUntil, now), ErrLockedOut)
			return []AuditEntry{withAction(base, ActionReauthLocked, "refused", fmt.Sprintf("%s; locked out until %s", refusal.Error(), e.LockedUntil.Format(time.RFC3339)))}, nil
		}
		return []AuditEntry{withAction(base, ActionReauthFailed, "refused", fmt.Sprintf("%s (%d of %d within %s)", refusal.Error(), len(e.Failures), MaxWrongCodes, minutes(WrongCodeWindow)))}, nil
	})
	switch {
	case err != nil && IsRefusal(err):
		return time.Time{}, 0, s.recordRefusal(ctx, withAction(base, ActionRequestRefused, base.Outcome), err)
	case err != nil:
		return time.Time{}, 0, fmt.Errorf("check the code of %s: %w", user, err)
	case refusal != nil:
		return time.Time{}, 0, refusal // recorded with the count, in the same transaction
	}
	return accepted, written.Version, nil
}

// withAction is base as an entry of action with outcome (and detail).
func withAction(base AuditEntry, action, outcome string, detail ...string) AuditEntry {
	base.Action, base.Outcome = action, outcome
	if len(detail) > 0 {
		base.Detail = detail[0]
	}
	return base
}

// recentFailures keeps the failures within WrongCodeWindow of now.
func recentFailures(fs []time.Time, now time.Time) []time.Time {
	out := fs[:0:0]
	for _, f := range fs {
		if now.Sub(f) < WrongCodeWindow {
			out = append(out, f)
		}
	}
	return out
}

// matchStep finds the time step (of now, the one before or after) whose
// TOTP code is code, comparing in constant time.
func matchStep(secret, code string, now time.Time) (int64, bool) {
	cur := now.Unix() / totpPeriod
	found, step := false, int64(0)
	for d := int64(-totpSkew); d <= totpSkew; d++ {
		want, err := totp.GenerateCodeCustom(secret, time.Unix((cur+d)*totpPeriod, 0), totp.ValidateOpts{Period: totpPeriod, Digits: totpDigits, Algorithm: otp.AlgorithmSHA1})
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !found {
			found, step = true, cur+d
		}
	}
	return step, found
}

// minutes words d, a whole number of minutes, for people: "10 minutes".
func minutes(d time.Duration) string {
	return plural(int(d/time.Minute), "minute")
}
