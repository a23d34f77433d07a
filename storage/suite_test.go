package storage

import (
	"fmt"
	"testing"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

// TestBboltStoreConforms: the bbolt store passes the store conformance
// suite, on a real file.
func TestBboltStoreConforms(t *testing.T) {
	approvalstest.RunStoreSuite(t, func(t *testing.T) approvalstest.Harness {
		db, _ := openTest(t)
		return approvalstest.Harness{Store: db, Reader: db, Key: approvalstest.Key,
			Tamper: func(seq uint64, edit func([]byte) []byte) error {
				return db.bolt.Update(func(tx *bolt.Tx) error {
					b := bucket(tx, bucketAudit)
					v := b.Get(u64(seq))
					if v == nil {
						return fmt.Errorf("no audit entry %d", seq)
					}
					return b.Put(u64(seq), edit(clone(v)))
				})
			}}
	})
}

// TestBboltReauthStoreConforms: the bbolt store passes the
// re-authentication store suite, on a real file.
func TestBboltReauthStoreConforms(t *testing.T) {
	approvalstest.RunReauthStoreSuite(t, func(t *testing.T) approvalstest.ReauthHarness {
		db, _ := openTest(t)
		return approvalstest.ReauthHarness{Store: db, Reader: db, Key: approvalstest.Key}
	})
}
