package approvalstest

import (
	"context"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// TestApplyRetriesOnConflict forces the in-memory store's optimistic path:
// another change commits between fn and the commit, so fn runs again on the
// new version, and the entries of the attempt that lost are not written.
func TestApplyRetriesOnConflict(t *testing.T) {
	ctx := context.Background()
	s := &Store{}
	if err := s.Create(ctx, &approvals.Request{ID: "aaaaaaaa", Version: 1}); err != nil {
		t.Fatal(err)
	}
	interfere := true
	s.applyHook = func() {
		if !interfere {
			return
		}
		interfere = false
		if _, err := s.Apply(ctx, "aaaaaaaa", func(r *approvals.Request) ([]approvals.AuditEntry, error) {
			r.Reason = "concurrent"
			return []approvals.AuditEntry{{Action: "concurrent"}}, nil
		}); err != nil {
			t.Error(err)
		}
	}
	calls := 0
	got, err := s.Apply(ctx, "aaaaaaaa", func(r *approvals.Request) ([]approvals.AuditEntry, error) {
		calls++
		r.Outcome = "mine, on " + r.Reason
		return []approvals.AuditEntry{{Action: "mine", Detail: "attempt " + string(rune('0'+calls))}}, nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || got.Version != 3 || got.Outcome != "mine, on concurrent" {
		t.Fatalf("fn ran %d times; got %+v", calls, got)
	}
	var details []string
	for _, e := range s.Entries() {
		details = append(details, e.Action+" "+e.Detail)
	}
	if len(details) != 2 || details[0] != "concurrent " || details[1] != "mine attempt 2" {
		t.Fatalf("audit entries %q; the losing attempt's entry must not be written", details)
	}
}
