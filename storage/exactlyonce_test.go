package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// TestExactlyOnceStart: 100 goroutines approve and then start ONE request
// through approvals.Service over the real bbolt store and audit log.
// Exactly Required approvals and exactly one Start succeed.
func TestExactlyOnceStart(t *testing.T) {
	for _, required := range []int{1, 2} {
		t.Run(fmt.Sprintf("required=%d", required), func(t *testing.T) {
			ctx := context.Background()
			db, _ := openTest(t)
			svc, err := approvals.NewService(db, approvals.Policy{ApprovalsRequired: required})
			if err != nil {
				t.Fatal(err)
			}
			r, err := svc.Open(ctx, approvals.NewRequest{
				Host: "gitlab-1", Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"},
				Requester: approvals.User{ID: "U-requester"}, Fingerprint: "fp",
			})
			if err != nil {
				t.Fatal(err)
			}
			var (
				wg                sync.WaitGroup
				approved, started atomic.Int64
				winner            atomic.Pointer[approvals.Request]
			)
			for i := range 100 {
				wg.Go(func() {
					u := approvals.User{ID: fmt.Sprintf("U-%03d", i)}
					_, err := svc.Approve(ctx, r.ID, u, "fp")
					switch {
					case err == nil:
						approved.Add(1)
					case errors.Is(err, approvals.ErrAlreadyDecided):
					default:
						t.Errorf("Approve: %v", err)
					}
					got, err := svc.Start(ctx, r.ID)
					switch {
					case err == nil:
						started.Add(1)
						winner.Store(got)
					case errors.Is(err, approvals.ErrAlreadyStarted), errors.Is(err, approvals.ErrNotApproved):
					default:
						t.Errorf("Start: %v", err)
					}
				})
			}
			wg.Wait()
			if approved.Load() != int64(required) || started.Load() != 1 {
				t.Fatalf("%d approvals and %d starts succeeded, want %d and 1", approved.Load(), started.Load(), required)
			}
			if w := winner.Load(); w.State != approvals.StateRunning {
				t.Fatalf("winner got %s", w.State)
			}
			stored, _ := db.Request(ctx, r.ID)
			if stored.State != approvals.StateRunning || len(stored.Approvals()) != required {
				t.Fatalf("stored: %s with %d approvals", stored.State, len(stored.Approvals()))
			}
			rep, err := auditchain.Verify(ctx, db, approvalstest.Key, nil)
			if err != nil {
				t.Fatal(err)
			}
			tail, _ := db.TailAudit(ctx, int(rep.Entries))
			counts := map[string]int{}
			for _, e := range tail {
				counts[e.Action]++
			}
			if counts[approvals.ActionRequestStarted] != 1 || counts[approvals.ActionRequestApproved] != required ||
				counts[approvals.ActionRequestOpened] != 1 {
				t.Fatalf("audit actions %v", counts)
			}
		})
	}
}
