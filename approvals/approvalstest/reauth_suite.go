package approvalstest

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// ReauthHarness is one backend under test by RunReauthStoreSuite: a fresh,
// empty store that keeps requests, enrolments and the audit chain.
type ReauthHarness struct {
	Store interface {
		approvals.Store
		approvals.ReauthStore
	}
	Reader auditchain.Reader
	Key    auditchain.Key
}

// RunReauthStoreSuite is the conformance suite of approvals.ReauthStore
// (the in-memory Store, bbolt, etcd): UpdateReauth writes the record with
// its audit entries or nothing, is atomic under concurrent writers (as
// replicas sharing the store are), and the whole TOTP workflow (enrol,
// accepted code, replay refused, lockout after MaxWrongCodes and its end)
// holds through a Service on the store, with an injected clock.
func RunReauthStoreSuite(t *testing.T, newStore func(t *testing.T) ReauthHarness) {
	t.Run("record and entries together or not at all", func(t *testing.T) { suiteReauthAtomic(t, newStore(t)) })
	t.Run("concurrent updates lose nothing", func(t *testing.T) { suiteReauthConcurrent(t, newStore(t)) })
	t.Run("totp workflow", func(t *testing.T) { suiteReauthWorkflow(t, newStore(t)) })
}

func suiteReauthAtomic(t *testing.T, h ReauthHarness) {
	ctx := context.Background()
	fresh, err := h.Store.Enrolment(ctx, "U-new")
	if err != nil || fresh.UserID != "U-new" || fresh.Version != 0 || fresh.Enrolled() {
		t.Fatalf("Enrolment of a user never written = %+v, %v; want a fresh record", fresh, err)
	}
	refused := errors.New("refused by fn")
	_, err = h.Store.UpdateReauth(ctx, "U-new", func(e *approvals.Enrolment) ([]approvals.AuditEntry, error) {
		e.Secret = []byte("sealed")
		return []approvals.AuditEntry{{Action: approvals.ActionReauthEnrolled, Actor: "U-new"}}, refused
	})
	if err != refused {
		t.Fatalf("UpdateReauth with fn failing = %v; want fn's error unchanged", err)
	}
	if n := countEntries(t, h.Reader); n != 0 {
		t.Fatalf("a refused update wrote %d audit entries", n)
	}
	if e, _ := h.Store.Enrolment(ctx, "U-new"); e.Enrolled() {
		t.Fatal("a refused update wrote the record")
	}
	at := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	got, err := h.Store.UpdateReauth(ctx, "U-new", func(e *approvals.Enrolment) ([]approvals.AuditEntry, error) {
		e.Secret, e.EnrolledAt, e.LastStep, e.Failures = []byte("sealed"), at, 42, []time.Time{at}
		return []approvals.AuditEntry{{Action: approvals.ActionReauthEnrolled, Actor: "U-new"}}, nil
	})
	if err != nil || got.Version != 1 {
		t.Fatalf("UpdateReauth = %+v, %v; want version 1", got, err)
	}
	got.Secret[0] = 'X' // the caller's copy, not the store's
	e, err := h.Store.Enrolment(ctx, "U-new")
	if err != nil || string(e.Secret) != "sealed" || !e.EnrolledAt.Equal(at) || e.LastStep != 42 || len(e.Failures) != 1 || e.Version != 1 {
		t.Fatalf("stored record = %+v, %v; want what was written", e, err)
	}
	if n := countEntries(t, h.Reader); n != 1 {
		t.Fatalf("%d audit entries after one update; want 1", n)
	}
	if other, _ := h.Store.Enrolment(ctx, "U-other"); other.Enrolled() {
		t.Fatal("another user's record was changed")
	}
}

func suiteReauthConcurrent(t *testing.T, h ReauthHarness) {
	ctx := context.Background()
	const n = 32
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := h.Store.UpdateReauth(ctx, "U-busy", func(e *approvals.Enrolment) ([]approvals.AuditEntry, error) {
				e.LastStep++
				return []approvals.AuditEntry{{Action: approvals.ActionReauthFailed, Actor: "U-busy", Detail: strings.Repeat("x", i%3)}}, nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("concurrent UpdateReauth: %v", err)
		}
	}
	e, _ := h.Store.Enrolment(ctx, "U-busy")
	if e.LastStep != n || e.Version != n {
		t.Fatalf("after %d concurrent increments: LastStep %d, Version %d; an update was lost", n, e.LastStep, e.Version)
	}
	if c := countEntries(t, h.Reader); c != n {
		t.Fatalf("%d audit entries; want %d (one per committed update, none of a retried attempt)", c, n)
	}
	if _, err := auditchain.Verify(ctx, h.Reader, h.Key, nil); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}

func suiteReauthWorkflow(t *testing.T, h ReauthHarness) {
	ctx := context.Background()
	clock := NewClock(suiteT0)
	svc, err := approvals.NewService(h.Store, approvals.Policy{Reauth: map[string]string{"migrate": approvals.ReauthTOTP}},
		approvals.WithClock(clock.Now), approvals.WithReauth(h.Store, ReauthKey, nil))
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	key, err := svc.Enroll(ctx, suiteBob, "")
	if err != nil {
		t.Fatalf("Enroll: %v", err)
	}
	stored, _ := h.Store.Enrolment(ctx, suiteBob.ID)
	if !stored.Enrolled() || strings.Contains(string(stored.Secret), key.Secret()) {
		t.Fatal("the enrolment is not stored, or its secret is stored in the clear")
	}
	code := func() string {
		c, err := totp.GenerateCode(key.Secret(), clock.Now())
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	open := func() *approvals.Request {
		r, err := svc.Open(ctx, suiteRequest())
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		return r
	}
	r := open()
	if _, err := svc.Approve(ctx, r.ID, suiteBob, "fp-1"); !errors.Is(err, approvals.ErrCodeRequired) {
		t.Fatalf("Approve without a code = %v; want ErrCodeRequired", err)
	}
	good := code()
	proof, err := svc.Reauthenticate(ctx, r.ID, suiteBob, good)
	if err != nil {
		t.Fatalf("Reauthenticate with the current code: %v", err)
	}
	if got, err := svc.Approve(ctx, r.ID, suiteBob, "fp-1", approvals.WithProof(proof)); err != nil || got.State != approvals.StateApproved {
		t.Fatalf("Approve with the proof = %v, %v; want approved", got, err)
	}
	r2 := open()
	if _, err := svc.Reauthenticate(ctx, r2.ID, suiteBob, good); !errors.Is(err, approvals.ErrCodeReused) {
		t.Fatalf("the same code again = %v; want ErrCodeReused (accepted once)", err)
	}
	clock.Advance(30 * time.Second) // the next step: a new code is accepted
	if _, err := svc.Reauthenticate(ctx, r2.ID, suiteBob, code()); err != nil {
		t.Fatalf("the next code: %v", err)
	}
	// Wrong codes (an accepted code starts the count afresh): the fifth
	// within 10 minutes locks out for 15.
	for i := 1; i <= approvals.MaxWrongCodes; i++ {
		clock.Advance(time.Minute)
		_, err := svc.Reauthenticate(ctx, r2.ID, suiteBob, WrongCode(key.Secret(), clock.Now()))
		want := approvals.ErrWrongCode
		if i == approvals.MaxWrongCodes {
			want = approvals.ErrLockedOut
		}
		if !errors.Is(err, want) {
			t.Fatalf("wrong code %d = %v; want %v", i, err, want)
		}
	}
	if _, err := svc.Reauthenticate(ctx, r2.ID, suiteBob, code()); !errors.Is(err, approvals.ErrLockedOut) || !strings.Contains(err.Error(), "until 10:50 UTC") {
		t.Fatalf("the right code while locked out = %v; want ErrLockedOut saying until 10:50 UTC", err)
	}
	clock.Advance(approvals.Lockout)
	if _, err := svc.Reauthenticate(ctx, r2.ID, suiteBob, code()); err != nil {
		t.Fatalf("the right code after the lockout ended: %v", err)
	}
	var actions []string
	if _, err := h.Reader.ReadAudit(ctx, func(seq uint64, stored []byte) error {
		for _, a := range []string{approvals.ActionReauthEnrolled, approvals.ActionReauthVerified, approvals.ActionReauthFailed, approvals.ActionReauthLocked} {
			if strings.Contains(string(stored), `"action":"`+a+`"`) {
				actions = append(actions, a)
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	want := "reauth.enrolled reauth.verified reauth.failed reauth.verified reauth.failed reauth.failed reauth.failed reauth.failed reauth.locked reauth.verified"
	if got := strings.Join(actions, " "); got != want {
		t.Fatalf("reauth audit entries:\n got %s\nwant %s", got, want)
	}
	if _, err := auditchain.Verify(ctx, h.Reader, h.Key, nil); err != nil {
		t.Fatalf("audit chain: %v", err)
	}
}

func countEntries(t *testing.T, r auditchain.Reader) int {
	t.Helper()
	n := 0
	if _, err := r.ReadAudit(context.Background(), func(uint64, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}
