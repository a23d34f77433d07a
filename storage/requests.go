package storage

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

var _ approvals.RequestStore = (*DB)(nil)

// CreateRequest implements approvals.RequestStore: it stores r under its ID,
// failing with approvals.ErrExists if the ID is taken.
func (db *DB) CreateRequest(ctx context.Context, r *approvals.Request) error {
	if r == nil || r.ID == "" {
		return fmt.Errorf("store request: the request has no ID: %w", approvals.ErrInvalid)
	}
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode request %s: %w", r.ID, err)
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketRequests)
		if b.Get([]byte(r.ID)) != nil {
			return fmt.Errorf("request %s: %w", r.ID, approvals.ErrExists)
		}
		return b.Put([]byte(r.ID), v)
	})
	if err != nil && !errors.Is(err, approvals.ErrExists) {
		return fmt.Errorf("store request %s: %w", r.ID, err)
	}
	return err
}

// Request implements approvals.RequestStore.
func (db *DB) Request(ctx context.Context, id string) (*approvals.Request, error) {
	var r *approvals.Request
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = getRequest(tx, id)
		return err
	})
	return r, err
}

// UpdateRequest implements approvals.RequestStore: read, fn, write in one
// bbolt write transaction. An error from fn rolls the transaction back and
// is returned unchanged.
func (db *DB) UpdateRequest(ctx context.Context, id string, fn func(*approvals.Request) error) (*approvals.Request, error) {
	var out *approvals.Request
	err := db.update(ctx, func(tx *bolt.Tx) error {
		r, err := getRequest(tx, id)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
		if r.ID != id {
			return fmt.Errorf("update of request %s tried to change its ID to %q: %w", id, r.ID, approvals.ErrInvalid)
		}
		r.Version++
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode request %s: %w", id, err)
		}
		if err := bucket(tx, bucketRequests).Put([]byte(id), v); err != nil {
			return fmt.Errorf("write request %s: %w", id, err)
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Requests implements approvals.RequestStore. It reads every request; the
// requests bucket is small (a few a day).
func (db *DB) Requests(ctx context.Context, f approvals.RequestFilter) ([]*approvals.Request, error) {
	var out []*approvals.Request
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketRequests).ForEach(func(k, v []byte) error {
			var r approvals.Request
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("request %q is damaged (%w); restore a backup or delete it with bbolt tools", k, err)
			}
			if f.Match(&r) {
				out = append(out, &r)
			}
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	slices.SortFunc(out, func(a, b *approvals.Request) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if f.Limit > 0 && len(out) > f.Limit {
		out = out[:f.Limit]
	}
	return out, nil
}

func getRequest(tx *bolt.Tx, id string) (*approvals.Request, error) {
	v := bucket(tx, bucketRequests).Get([]byte(id))
	if v == nil {
		return nil, fmt.Errorf("request %q: %w", id, approvals.ErrNotFound)
	}
	var r approvals.Request
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("request %s is damaged (%w); restore a backup", id, err)
	}
	return &r, nil
}
