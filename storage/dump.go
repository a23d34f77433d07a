package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

var _ Importer = (*DB)(nil)

// ScheduleSeq is the schedules bucket's sequence (Dumper).
func (db *DB) ScheduleSeq(ctx context.Context) (uint64, error) {
	var n uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		n = bucket(tx, bucketSchedules).Sequence()
		return nil
	})
	return n, err
}

// EachResult calls fn with every stored schedule result (Dumper).
func (db *DB) EachResult(ctx context.Context, fn func(id string, r ScheduleResults) error) error {
	return db.view(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketScheduleResults)
		if b == nil {
			return nil // a read-only open of a file from before the bucket
		}
		return b.ForEach(func(k, v []byte) error {
			var r ScheduleResults
			if err := json.Unmarshal(v, &r); err != nil {
				return fmt.Errorf("the results of schedule %q are damaged: %w", k, err)
			}
			return fn(string(k), r)
		})
	})
}

// Contents names what the file holds, "" when empty (Importer).
func (db *DB) Contents(ctx context.Context) (string, error) {
	var held []string
	err := db.view(ctx, func(tx *bolt.Tx) error {
		for _, name := range []string{bucketRequests, bucketAudit, bucketSchedules, bucketScheduleResults, bucketReauth} {
			if b := bucket(tx, name); b != nil && b.Stats().KeyN > 0 {
				held = append(held, fmt.Sprintf("%d %s", b.Stats().KeyN, name))
			}
		}
		if n := bucket(tx, bucketSchedules).Sequence(); n > 0 {
			held = append(held, fmt.Sprintf("schedule numbers up to s%d", n))
		}
		return nil
	})
	return strings.Join(held, ", "), err
}

// Discard empties every bucket a copy fills and removes the audit head, in
// one transaction (Importer). The schema version stays: the file is still
// a database of this version, empty.
func (db *DB) Discard(ctx context.Context) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		for _, name := range []string{bucketRequests, bucketAudit, bucketSchedules, bucketScheduleResults, bucketReauth} {
			if err := tx.DeleteBucket([]byte(name)); err != nil && !errors.Is(err, berrors.ErrBucketNotFound) {
				return fmt.Errorf("empty %s: %w", name, err)
			}
			if _, err := tx.CreateBucket([]byte(name)); err != nil {
				return fmt.Errorf("empty %s: %w", name, err)
			}
		}
		if err := bucket(tx, bucketMeta).Delete([]byte(keyAuditHead)); err != nil {
			return fmt.Errorf("remove the audit head: %w", err)
		}
		return nil
	})
}

// ImportAudit stores records as they are after the head, in one
// transaction (Importer).
func (db *DB) ImportAudit(ctx context.Context, records []AuditRecord) error {
	if len(records) == 0 {
		return nil
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		meta, audit := bucket(tx, bucketMeta), bucket(tx, bucketAudit)
		audit.FillPercent = 1.0
		head, err := auditchain.DecodeHead(meta.Get([]byte(keyAuditHead)))
		if err != nil {
			return err
		}
		for _, r := range records {
			if r.Seq != head.Seq+1 {
				return fmt.Errorf("import audit entry %d after entry %d: entries must follow each other", r.Seq, head.Seq)
			}
			if err := audit.Put(u64(r.Seq), r.Stored); err != nil {
				return err
			}
			head = auditchain.Head{Seq: r.Seq, Sum: auditchain.SumOf(db.key, r.Stored)}
		}
		return meta.Put([]byte(keyAuditHead), head.Encode())
	})
}

// ImportRequest stores r as it is (Importer).
func (db *DB) ImportRequest(ctx context.Context, r *approvals.Request) error {
	return db.ImportRequests(ctx, r)
}

// ImportRequests stores rs as they are in one transaction: all or none
// (one commit, so thousands of requests cost one fsync).
func (db *DB) ImportRequests(ctx context.Context, rs ...*approvals.Request) error {
	vs := make([][]byte, len(rs))
	for i, r := range rs {
		v, err := json.Marshal(r)
		if err != nil {
			return fmt.Errorf("encode request %s: %w", r.ID, err)
		}
		vs[i] = v
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketRequests)
		for i, r := range rs {
			if b.Get([]byte(r.ID)) != nil {
				return fmt.Errorf("request %s: %w", r.ID, approvals.ErrExists)
			}
			if err := b.Put([]byte(r.ID), vs[i]); err != nil {
				return fmt.Errorf("store request %s: %w", r.ID, err)
			}
		}
		return nil
	})
}

// ImportSchedules stores ss under their IDs and sets the bucket's
// sequence to seq (Importer).
func (db *DB) ImportSchedules(ctx context.Context, ss []schedule.Schedule, seq uint64) error {
	return db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketSchedules)
		for _, s := range ss {
			v, err := json.Marshal(s)
			if err != nil {
				return fmt.Errorf("encode schedule %s: %w", s.ID, err)
			}
			if err := b.Put([]byte(s.ID), v); err != nil {
				return err
			}
		}
		return b.SetSequence(seq)
	})
}

// ImportResult stores a schedule's results as they are (Importer).
func (db *DB) ImportResult(ctx context.Context, id string, r ScheduleResults) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode results of schedule %s: %w", id, err)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketScheduleResults).Put([]byte(id), v)
	})
}

// EachEnrolment calls fn with every stored re-authentication record
// (Dumper).
func (db *DB) EachEnrolment(ctx context.Context, fn func(*approvals.Enrolment) error) error {
	return db.view(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketReauth)
		if b == nil {
			return nil // a read-only open of a file from before the bucket
		}
		return b.ForEach(func(k, v []byte) error {
			var e approvals.Enrolment
			if err := json.Unmarshal(v, &e); err != nil {
				return fmt.Errorf("the enrolment of %q is damaged: %w", k, err)
			}
			return fn(&e)
		})
	})
}

// ImportEnrolment stores e as it is (Importer).
func (db *DB) ImportEnrolment(ctx context.Context, e *approvals.Enrolment) error {
	if e.UserID == "" {
		return fmt.Errorf("import enrolment: no user ID: %w", approvals.ErrInvalid)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode the enrolment of %s: %w", e.UserID, err)
	}
	return db.update(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketReauth).Put([]byte(e.UserID), v)
	})
}
