package storage

import (
	"context"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

// TestReauthSurvivesReopenAndOldFiles: an enrolment is in the file after
// a restart; a file from before the reauth bucket reads as "nobody
// enrolled" read-only and gets the bucket on a read-write open.
func TestReauthSurvivesReopenAndOldFiles(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if _, err := db.UpdateReauth(ctx, "slack:U1", func(e *approvals.Enrolment) ([]approvals.AuditEntry, error) {
		e.Secret, e.LastStep = []byte("sealed"), 7
		return []approvals.AuditEntry{{Action: approvals.ActionReauthEnrolled, Actor: "slack:U1"}}, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err := Open(path, Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	if e, err := db.Enrolment(ctx, "slack:U1"); err != nil || !e.Enrolled() || e.LastStep != 7 {
		t.Fatalf("after reopening: %+v, %v; want the enrolment", e, err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(bucketReauth)) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open of a file without %s: %v", bucketReauth, err)
	}
	if e, err := ro.Enrolment(ctx, "slack:U1"); err != nil || e.Enrolled() {
		t.Fatalf("read-only, no bucket: %+v, %v; want not enrolled", e, err)
	}
	_ = ro.Close()
	db, err = Open(path, Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.UpdateReauth(ctx, "slack:U1", func(e *approvals.Enrolment) ([]approvals.AuditEntry, error) { return nil, nil }); err != nil {
		t.Fatalf("UpdateReauth after the bucket was re-added: %v", err)
	}
}
