package storage

import (
	"context"
	"fmt"
	"time"

	bolt "go.etcd.io/bbolt"
)

// keyProbe is the meta key Probe writes: the time of the last probe.
const keyProbe = "probe"

// Probe checks that the database is open and writable with a real write:
// one transaction that records the time in the meta bucket and commits
// (fsync included), as readiness checks need. It touches no request and no
// audit entry. A read-only or closed DB fails.
func (db *DB) Probe(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if db.readOnly {
		return fmt.Errorf("database %s is open read-only", db.path)
	}
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		meta := bucket(tx, bucketMeta)
		if meta == nil {
			return fmt.Errorf("no %s bucket", bucketMeta)
		}
		return meta.Put([]byte(keyProbe), u64(uint64(time.Now().UnixNano())))
	})
	if err != nil {
		return fmt.Errorf("database %s: write probe: %w", db.path, err)
	}
	return nil
}
