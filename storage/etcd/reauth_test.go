package etcd_test

import (
	"context"
	"sync"
	"testing"

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
