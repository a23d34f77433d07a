package etcd_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// TestFailedCopyLeavesTheTargetEmpty: a copy that fails half-way (here:
// the source's audit head moved after it was checked, so the chain copied
// is not the one verified) removes what it wrote from the target, on
// etcd and on an existing bbolt file alike: the target is empty again, the
// error says so, and the copy then succeeds into the same target.
func TestFailedCopyLeavesTheTargetEmpty(t *testing.T) {
	ctx := context.Background()
	srv := etcdtest.Start(t)
	var p prefixes
	dir := t.TempDir()

	src, err := storage.Open(filepath.Join(dir, "source.db"), storage.Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = src.Close() })
	entries := make([]approvals.AuditEntry, 600) // more than one of the copy's batches
	for i := range entries {
		entries[i] = approvalstest.TypicalEntry()
	}
	if _, err := src.Append(ctx, entries...); err != nil {
		t.Fatal(err)
	}
	r := &approvals.Request{ID: "a1234567", Platform: "console", Channel: "C-ops", Host: "gitlab-1", Operation: "migrate",
		Argv: []string{"gitlab-rake", "db:migrate"}, Requester: approvals.User{ID: "U1"}, Required: 1, State: approvals.StatePending, Version: 1}
	if err := src.Create(ctx, r); err != nil {
		t.Fatal(err)
	}

	bolt, err := storage.Open(filepath.Join(dir, "target.db"), storage.Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = bolt.Close() })
	for _, tc := range []struct {
		name   string
		target storage.Importer
	}{
		{"etcd", openStore(t, dial(t, srv, p.next(t)), etcd.StoreOptions{})},
		{"bbolt", bolt},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checked, err := storage.CheckSource(ctx, src, approvalstest.Key)
			if err != nil {
				t.Fatal(err)
			}
			// The bot was not stopped: an entry lands after the check.
			if _, err := src.Append(ctx, approvalstest.TypicalEntry()); err != nil {
				t.Fatal(err)
			}
			_, err = checked.CopyTo(ctx, tc.target)
			if err == nil || !strings.Contains(err.Error(), "head moved") || !strings.Contains(err.Error(), "the target is empty, as before") {
				t.Fatalf("copy while the source changed: %v, want the head's move and an emptied target", err)
			}
			if what, err := tc.target.Contents(ctx); err != nil || what != "" {
				t.Fatalf("after the failed copy the target holds %q (%v), want nothing", what, err)
			}
			if head, err := tc.target.AuditHead(ctx); err != nil || head.Seq != 0 {
				t.Fatalf("after the failed copy the target's audit head is %v (%v), want none", head, err)
			}
			rep, err := storage.Copy(ctx, src, tc.target, approvalstest.Key)
			if err != nil {
				t.Fatalf("the copy again, into the emptied target: %v", err)
			}
			head, err := src.AuditHead(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if rep.Entries != head.Seq || rep.Head != head || rep.Requests != 1 {
				t.Fatalf("copied %d entries (head %s) and %d requests, want the source's %d (head %s) and 1", rep.Entries, rep.Head, rep.Requests, head.Seq, head)
			}
		})
	}
}
