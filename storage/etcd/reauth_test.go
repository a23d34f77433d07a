package etcd_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// testReauthReplicas: two replicas (two Clusters on one prefix) updating
// one approver's record at once lose no update: wrong codes typed at
// either count together, and the chain does not fork.
func testReauthReplicas(t *testing.T, srv *etcdtest.Server, prefix string) {
	ctx := context.Background()
	a := openStore(t, dial(t, srv, prefix), etcd.StoreOptions{})
	b := openStore(t, dial(t, srv, prefix), etcd.StoreOptions{})
	const each = 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*each)
	for _, s := range []*etcd.Store{a, b} {
		for range each {
			wg.Go(func() {
				_, err := s.UpdateReauth(ctx, "slack:U1", func(e *approvals.Enrolment) ([]approvals.AuditEntry, error) {
					e.LastStep++
					return []approvals.AuditEntry{{Action: approvals.ActionReauthFailed, Actor: "slack:U1"}}, nil
				})
				errs <- err
			})
		}
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range []*etcd.Store{a, b} {
		e, err := s.Enrolment(ctx, "slack:U1")
		if err != nil || e.LastStep != 2*each || e.Version != 2*each {
			t.Fatalf("record seen by a replica: %+v, %v; want %d updates", e, err, 2*each)
		}
	}
	rep, err := auditchain.Verify(ctx, a, approvalstest.Key, nil)
	if err != nil || rep.Break != nil || rep.Entries != 2*each {
		t.Fatalf("audit chain: %+v, %v; want %d intact entries", rep, err, 2*each)
	}
}

// testReauthReplicaReplay: a code accepted through one replica is refused
// as reused through the other, and wrong codes typed at both lock the
// approver out at both.
func testReauthReplicaReplay(t *testing.T, srv *etcdtest.Server, prefix string) {
	ctx := context.Background()
	clock := approvalstest.NewClock(time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC))
	pol := approvals.Policy{Reauth: map[string]string{"migrate": approvals.ReauthTOTP}, TTL: time.Hour}
	var svcs []*approvals.Service
	for range 2 {
		s := openStore(t, dial(t, srv, prefix), etcd.StoreOptions{})
		svc, err := approvals.NewService(s, pol, approvals.WithClock(clock.Now), approvals.WithReauth(s, approvalstest.ReauthKey, nil))
		if err != nil {
			t.Fatal(err)
		}
		svcs = append(svcs, svc)
	}
	a, b := svcs[0], svcs[1]
	bob := approvals.User{ID: "slack:U0BOB0001", Name: "bob"}
	key, err := a.Enroll(ctx, bob, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := a.Open(ctx, approvals.NewRequest{Platform: "slack", Channel: "C0OPS0001", Host: "gitlab-1", Operation: "migrate",
		Argv: []string{"gitlab-rake", "db:migrate"}, Requester: approvals.User{ID: "slack:U0ALICE01"}})
	if err != nil {
		t.Fatal(err)
	}
	code, _ := totp.GenerateCode(key.Secret(), clock.Now())
	if _, err := a.Reauthenticate(ctx, r.ID, bob, code); err != nil {
		t.Fatalf("the code at replica A: %v", err)
	}
	if _, err := b.Reauthenticate(ctx, r.ID, bob, code); !errors.Is(err, approvals.ErrCodeReused) {
		t.Fatalf("the same code at replica B: %v; want ErrCodeReused", err)
	}
	for i := 2; i <= approvals.MaxWrongCodes; i++ { // the replay counted as the first
		clock.Advance(time.Minute)
		wrong := approvalstest.WrongCode(key.Secret(), clock.Now())
		if _, err := svcs[i%2].Reauthenticate(ctx, r.ID, bob, wrong); err == nil {
			t.Fatal("a wrong code was accepted")
		}
	}
	good, _ := totp.GenerateCode(key.Secret(), clock.Now())
	for _, svc := range svcs {
		if _, err := svc.Reauthenticate(ctx, r.ID, bob, good); !errors.Is(err, approvals.ErrLockedOut) {
			t.Fatalf("after 5 wrong codes across the replicas: %v; want ErrLockedOut at both", err)
		}
	}
}
