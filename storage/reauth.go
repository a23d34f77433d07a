package storage

import (
	"context"
	"encoding/json"
	"fmt"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

var _ approvals.ReauthStore = (*DB)(nil)

// Enrolment implements approvals.ReauthStore.
func (db *DB) Enrolment(ctx context.Context, userID string) (*approvals.Enrolment, error) {
	var e *approvals.Enrolment
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		e, err = getEnrolment(tx, userID)
		return err
	})
	return e, err
}

// UpdateReauth implements approvals.ReauthStore: read, fn, write the
// record and append the entries fn returned, in one bbolt write
// transaction (fn runs once: bbolt has one writer at a time).
func (db *DB) UpdateReauth(ctx context.Context, userID string, fn func(*approvals.Enrolment) ([]approvals.AuditEntry, error)) (*approvals.Enrolment, error) {
	var out *approvals.Enrolment
	err := db.update(ctx, func(tx *bolt.Tx) error {
		e, err := getEnrolment(tx, userID)
		if err != nil {
			return err
		}
		entries, err := fn(e)
		if err != nil {
			return err
		}
		if e.UserID != userID {
			return fmt.Errorf("update of the enrolment of %s tried to change its user to %q: %w", userID, e.UserID, approvals.ErrInvalid)
		}
		e.Version++
		v, err := json.Marshal(e)
		if err != nil {
			return fmt.Errorf("encode the enrolment of %s: %w", userID, err)
		}
		prepared, err := auditchain.PrepareAll(entries)
		if err != nil {
			return err
		}
		if err := bucket(tx, bucketReauth).Put([]byte(userID), v); err != nil {
			return err
		}
		if _, err := db.appendTx(tx, prepared); err != nil {
			return err
		}
		out = e.Clone()
		return nil
	})
	return out, err
}

// getEnrolment reads userID's record inside tx; a fresh one if none (or,
// on a read-only open of a file from before the bucket, no bucket).
func getEnrolment(tx *bolt.Tx, userID string) (*approvals.Enrolment, error) {
	if userID == "" {
		return nil, fmt.Errorf("enrolment: no user ID: %w", approvals.ErrInvalid)
	}
	e := &approvals.Enrolment{UserID: userID}
	b := bucket(tx, bucketReauth)
	if b == nil {
		return e, nil
	}
	v := b.Get([]byte(userID))
	if v == nil {
		return e, nil
	}
	if err := json.Unmarshal(v, e); err != nil {
		return nil, fmt.Errorf("decode the enrolment of %s: %w", userID, err)
	}
	return e, nil
}
