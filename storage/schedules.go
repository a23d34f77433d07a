package storage

import (
	"context"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// PutSchedule stores value under name, replacing what was there. The value
// is opaque to storage (the scheduler decides its format).
func (db *DB) PutSchedule(ctx context.Context, name string, value []byte) error {
	if name == "" {
		return fmt.Errorf("store schedule: empty name: %w", approvals.ErrInvalid)
	}
	v := clone(value)
	if v == nil {
		v = []byte{}
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketSchedules).Put([]byte(name), v)
	})
	if err != nil {
		return fmt.Errorf("store schedule %q: %w", name, err)
	}
	return nil
}

// Schedule returns the value stored under name, or an error wrapping
// approvals.ErrNotFound.
func (db *DB) Schedule(ctx context.Context, name string) ([]byte, error) {
	var out []byte
	err := db.view(ctx, func(tx *bolt.Tx) error {
		out = clone(bucket(tx, bucketSchedules).Get([]byte(name)))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read schedule %q: %w", name, err)
	}
	if out == nil {
		return nil, fmt.Errorf("schedule %q: %w", name, approvals.ErrNotFound)
	}
	return out, nil
}

// Schedules returns every stored schedule by name.
func (db *DB) Schedules(ctx context.Context) (map[string][]byte, error) {
	out := make(map[string][]byte)
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketSchedules).ForEach(func(k, v []byte) error {
			out[string(k)] = clone(v)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

// DeleteSchedule removes name. Removing a missing schedule is not an error.
func (db *DB) DeleteSchedule(ctx context.Context, name string) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketSchedules).Delete([]byte(name))
	})
	if err != nil {
		return fmt.Errorf("delete schedule %q: %w", name, err)
	}
	return nil
}
