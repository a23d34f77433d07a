package approvals_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

// The TOTP workflow on every store (enrolment, accepted code, replay,
// lockout and its end) is approvalstest.RunReauthStoreSuite; these are the
// Service's own rules around it.

var reauthPolicy = approvals.Policy{Reauth: map[string]string{"migrate": approvals.ReauthTOTP, "finalize": approvals.ReauthTOTP, "restart": approvals.ReauthNone}}

func newReauthFixture(t *testing.T) *fixture {
	t.Helper()
	f := &fixture{store: &approvalstest.Store{}, clock: approvalstest.NewClock(t0)}
	f.audit = f.store
	f.store.Now = f.clock.Now
	f.svc = must(approvals.NewService(f.store, reauthPolicy, approvals.WithClock(f.clock.Now), approvals.WithReauth(f.store, approvalstest.ReauthKey, nil)))(t)
	return f
}

func codeAt(t *testing.T, k *otp.Key, at time.Time) string {
	t.Helper()
	return must(totp.GenerateCode(k.Secret(), at))(t)
}

func TestReauthSetupRefused(t *testing.T) {
	s := &approvalstest.Store{}
	for _, tc := range []struct {
		name string
		opts []approvals.Option
		want string
	}{
		{"no key", []approvals.Option{approvals.WithReauth(s, nil, nil)}, "set reauth.key_file in the configuration or GITLAB_CHATOPS_REAUTH_KEY"},
		{"short key", []approvals.Option{approvals.WithReauth(s, approvals.ReauthKey("short"), nil)}, "is 5 bytes; use at least 32"},
		{"no store", nil, "keeps no enrolments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := approvals.NewService(s, reauthPolicy, tc.opts...)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("NewService = %v; want an error saying %q", err, tc.want)
			}
		})
	}
	_, err := approvals.NewService(s, approvals.Policy{Reauth: map[string]string{"migrate": "sms"}}, approvals.WithReauth(s, approvalstest.ReauthKey, nil))
	if !errors.Is(err, approvals.ErrInvalid) || !strings.Contains(err.Error(), `policy.reauth.migrate: is "sms"; use totp or none`) {
		t.Fatalf("unknown method = %v; want policy.reauth.migrate named", err)
	}
	// restart: none alone needs neither store nor key.
	if _, err := approvals.NewService(s, approvals.Policy{Reauth: map[string]string{"restart": approvals.ReauthNone}}); err != nil {
		t.Fatalf("reauth none without a key: %v", err)
	}
}

// TestApproveNeedsProof: no path around the code: an operation that needs
// it is never approved without a proof for that request, that approver,
// and recent; restart (none) is approved as before.
func TestApproveNeedsProof(t *testing.T) {
	ctx := context.Background()
	f := newReauthFixture(t)
	kb := must(f.svc.Enroll(ctx, bob, ""))(t)
	must(f.svc.Enroll(ctx, carol, ""))(t)
	r1, r2 := f.open(t), f.open(t)

	if _, err := f.svc.Approve(ctx, r1.ID, bob, "fp-1"); !errors.Is(err, approvals.ErrCodeRequired) || !strings.Contains(err.Error(), "approve "+r1.ID+" --code NNNNNN") {
		t.Fatalf("Approve without proof = %v; want ErrCodeRequired saying what to type", err)
	}
	proof := must(f.svc.Reauthenticate(ctx, r1.ID, bob, codeAt(t, kb, f.clock.Now())))(t)
	if _, err := f.svc.Approve(ctx, r2.ID, bob, "fp-1", approvals.WithProof(proof)); !errors.Is(err, approvals.ErrCodeRequired) {
		t.Fatalf("a proof for another request = %v; want ErrCodeRequired", err)
	}
	if _, err := f.svc.Approve(ctx, r1.ID, carol, "fp-1", approvals.WithProof(proof)); !errors.Is(err, approvals.ErrCodeRequired) {
		t.Fatalf("bob's proof used by carol = %v; want ErrCodeRequired", err)
	}
	f.clock.Advance(approvals.ProofTTL + time.Second)
	if _, err := f.svc.Approve(ctx, r1.ID, bob, "fp-1", approvals.WithProof(proof)); !errors.Is(err, approvals.ErrCodeRequired) || !strings.Contains(err.Error(), "approve again with a new code") {
		t.Fatalf("a stale proof = %v; want ErrCodeRequired", err)
	}
	if f.state(t, r1.ID) != approvals.StatePending || f.state(t, r2.ID) != approvals.StatePending {
		t.Fatal("a request was approved without a valid proof")
	}
	refused := 0
	for _, e := range f.audit.Entries() {
		if e.Action == approvals.ActionRequestRefused && strings.Contains(e.Detail, "code") {
			refused++
		}
	}
	if refused != 4 {
		t.Fatalf("%d audited refusals for missing or bad proofs; want 4", refused)
	}

	restart := migrate(alice)
	restart.Operation, restart.Fingerprint = "restart", ""
	rr := must(f.svc.Open(ctx, restart))(t)
	if got, err := f.svc.Approve(ctx, rr.ID, dave, ""); err != nil || got.State != approvals.StateApproved {
		t.Fatalf("restart (reauth none) approved without a code = %v, %v", got, err)
	}
	if p, err := f.svc.Reauthenticate(ctx, rr.ID, dave, "junk"); err != nil || p != (approvals.ReauthProof{}) {
		t.Fatalf("Reauthenticate on an operation without reauth = %v, %v; want an empty proof", p, err)
	}
}

func TestReauthRefusals(t *testing.T) {
	ctx := context.Background()
	f := newReauthFixture(t)
	r := f.open(t)
	if _, err := f.svc.Reauthenticate(ctx, r.ID, bob, "123456"); !errors.Is(err, approvals.ErrNotEnrolled) || !strings.Contains(err.Error(), "/gitlab-migrations enroll") {
		t.Fatalf("not enrolled = %v; want ErrNotEnrolled saying how to enrol", err)
	}
	k := must(f.svc.Enroll(ctx, bob, ""))(t)
	for _, bad := range []string{"", "12345", "1234567", "12a456"} {
		if _, err := f.svc.Reauthenticate(ctx, r.ID, bob, bad); !approvals.IsRefusal(err) {
			t.Fatalf("code %q = %v; want a refusal", bad, err)
		}
	}
	// Malformed codes are typos, not guesses: the real one still works.
	// Wrong codes further apart than the window never lock out.
	for range approvals.MaxWrongCodes + 2 {
		if _, err := f.svc.Reauthenticate(ctx, r.ID, bob, approvalstest.WrongCode(k.Secret(), f.clock.Now())); !errors.Is(err, approvals.ErrWrongCode) {
			t.Fatalf("wrong code = %v; want ErrWrongCode", err)
		}
		f.clock.Advance(approvals.WrongCodeWindow/(approvals.MaxWrongCodes-1) + time.Second)
	}
	if _, err := f.svc.Reauthenticate(ctx, r.ID, bob, codeAt(t, k, f.clock.Now())); err != nil {
		t.Fatalf("the right code after spread-out wrong ones: %v", err)
	}
}

// TestReenrol: replacing a secret needs a current code of it; the old
// secret's codes stop working.
func TestReenrol(t *testing.T) {
	ctx := context.Background()
	f := newReauthFixture(t)
	old := must(f.svc.Enroll(ctx, bob, ""))(t)
	if _, err := f.svc.Enroll(ctx, bob, ""); !errors.Is(err, approvals.ErrCodeRequired) || !strings.Contains(err.Error(), "enroll --code") {
		t.Fatalf("re-enrol without a code = %v; want ErrCodeRequired", err)
	}
	f.clock.Advance(time.Minute)
	fresh := must(f.svc.Enroll(ctx, bob, codeAt(t, old, f.clock.Now())))(t)
	if fresh.Secret() == old.Secret() {
		t.Fatal("re-enrolling kept the secret")
	}
	if !strings.HasPrefix(fresh.URL(), "otpauth://totp/gitlab-chatops:bob?") {
		t.Fatalf("URI %s; want otpauth://totp/gitlab-chatops:bob?…", fresh.URL())
	}
	var details []string
	for _, e := range f.audit.Entries() {
		if e.Action == approvals.ActionReauthEnrolled {
			details = append(details, e.Detail)
		}
	}
	if strings.Join(details, "|") != "enrolled|re-enrolled: the previous secret was replaced" {
		t.Fatalf("enrolment audit details %q", details)
	}
	f.clock.Advance(time.Minute)
	r := f.open(t)
	if _, err := f.svc.Reauthenticate(ctx, r.ID, bob, codeAt(t, old, f.clock.Now())); !errors.Is(err, approvals.ErrWrongCode) {
		t.Fatalf("the replaced secret's code = %v; want ErrWrongCode", err)
	}
	must(f.svc.Reauthenticate(ctx, r.ID, bob, codeAt(t, fresh, f.clock.Now())))(t)
}

func TestSealedSecretBoundToUserAndKey(t *testing.T) {
	k := approvalstest.ReauthKey
	sealed := must(k.SealSecret("slack:U1", "JBSWY3DPEHPK3PXP"))(t)
	if got := must(k.OpenSecret("slack:U1", sealed))(t); got != "JBSWY3DPEHPK3PXP" {
		t.Fatalf("OpenSecret = %q", got)
	}
	if _, err := k.OpenSecret("slack:U2", sealed); err == nil {
		t.Fatal("a secret sealed for U1 opened for U2")
	}
	other := approvals.ReauthKey(strings.Repeat("k", 40))
	if _, err := other.OpenSecret("slack:U1", sealed); err == nil || !strings.Contains(err.Error(), "does not open with the configured re-authentication key") {
		t.Fatalf("another key = %v; want a clear error", err)
	}
}

// TestResetEnrolment: an admin removes an approver's lost authenticator
// (audited); the approver enrols again without a code; nobody else may,
// nor an admin for themselves.
func TestResetEnrolment(t *testing.T) {
	ctx := context.Background()
	f := &fixture{store: &approvalstest.Store{}, clock: approvalstest.NewClock(t0)}
	f.audit = f.store
	pol := reauthPolicy
	pol.Admins = []string{dave.ID}
	f.svc = must(approvals.NewService(f.store, pol, approvals.WithClock(f.clock.Now), approvals.WithReauth(f.store, approvalstest.ReauthKey, nil)))(t)
	must(f.svc.Enroll(ctx, bob, ""))(t)
	must(f.svc.Enroll(ctx, dave, ""))(t)
	for _, tc := range []struct {
		name      string
		by        approvals.User
		user, err string
	}{
		{"not an admin", carol, bob.ID, "only the bot's admins"},
		{"an admin for themselves", dave, dave.ID, "cannot reset your own"},
		{"nobody named", dave, " ", "say whose enrolment"},
		{"not enrolled", dave, eve.ID, "has no authenticator enrolled"},
	} {
		if err := f.svc.ResetEnrolment(ctx, tc.by, tc.user); !approvals.IsRefusal(err) || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%s: %v; want a refusal saying %q", tc.name, err, tc.err)
		}
	}
	if err := f.svc.ResetEnrolment(ctx, dave, bob.ID); err != nil {
		t.Fatalf("the admin's reset: %v", err)
	}
	if ok, _ := f.svc.Enrolled(ctx, bob); ok {
		t.Fatal("bob is still enrolled after the reset")
	}
	must(f.svc.Enroll(ctx, bob, ""))(t) // no code needed: there is no secret
	var resets, refusals int
	for _, e := range f.audit.Entries() {
		switch {
		case e.Action == approvals.ActionReauthReset && e.Actor == dave.ID:
			resets++
		case e.Action == approvals.ActionCommandRefused && e.Outcome == "reset":
			refusals++
		}
	}
	if resets != 1 || refusals != 4 {
		t.Fatalf("audited %d resets and %d refused resets; want 1 and 4", resets, refusals)
	}
}

// racingReauth runs before once, just before the next UpdateReauth: a
// write by someone else between a check and the write it guards.
type racingReauth struct {
	approvals.ReauthStore
	before func()
}

func (r *racingReauth) UpdateReauth(ctx context.Context, userID string, fn func(*approvals.Enrolment) ([]approvals.AuditEntry, error)) (*approvals.Enrolment, error) {
	if f := r.before; f != nil {
		r.before = nil
		f()
	}
	return r.ReauthStore.UpdateReauth(ctx, userID, fn)
}

// TestEnrolRaceNeverReplacesWithoutCode: a secret enrolled between
// Enroll's check (not enrolled: no code needed) and its write is not
// replaced; the enrolment is refused, saying to try again.
func TestEnrolRaceNeverReplacesWithoutCode(t *testing.T) {
	ctx := context.Background()
	store := &approvalstest.Store{}
	clock := approvalstest.NewClock(t0)
	other := must(approvals.NewService(store, reauthPolicy, approvals.WithClock(clock.Now), approvals.WithReauth(store, approvalstest.ReauthKey, nil)))(t)
	var first *otp.Key
	racing := &racingReauth{ReauthStore: store, before: func() { first = must(other.Enroll(ctx, bob, ""))(t) }}
	svc := must(approvals.NewService(store, reauthPolicy, approvals.WithClock(clock.Now), approvals.WithReauth(racing, approvalstest.ReauthKey, nil)))(t)
	if _, err := svc.Enroll(ctx, bob, ""); !errors.Is(err, approvals.ErrInvalid) || !strings.Contains(err.Error(), "run enroll again") {
		t.Fatalf("Enroll racing another enrolment = %v; want a refusal saying to try again", err)
	}
	r := must(svc.Open(ctx, migrate(alice)))(t)
	must(svc.Reauthenticate(ctx, r.ID, bob, codeAt(t, first, clock.Now())))(t) // the secret enrolled first still holds
}
