package storage

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

var _ approvals.Store = (*DB)(nil)

// Create implements approvals.Store: it stores r under its ID and appends
// entries to the audit chain, in one transaction, failing with
// approvals.ErrExists (and writing nothing) if the ID is taken.
func (db *DB) Create(ctx context.Context, r *approvals.Request, entries ...approvals.AuditEntry) error {
	v, prepared, err := EncodeNew(r, entries)
	if err != nil {
		return err
	}
	err = db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketRequests)
		if b.Get([]byte(r.ID)) != nil {
			return fmt.Errorf("request %s: %w", r.ID, approvals.ErrExists)
		}
		if err := b.Put([]byte(r.ID), v); err != nil {
			return err
		}
		_, err := db.appendTx(tx, prepared)
		return err
	})
	if err != nil && !errors.Is(err, approvals.ErrExists) {
		return fmt.Errorf("store request %s: %w", r.ID, err)
	}
	return err
}

// Request implements approvals.Store.
func (db *DB) Request(ctx context.Context, id string) (*approvals.Request, error) {
	var r *approvals.Request
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		r, err = getRequest(tx, id)
		return err
	})
	return r, err
}

// Apply implements approvals.Store: read, fn, write the request and append
// the entries fn returned, in one bbolt write transaction. bbolt has one
// writer at a time, so fn runs once; an error from fn rolls the transaction
// back and is returned unchanged.
func (db *DB) Apply(ctx context.Context, id string, fn func(*approvals.Request) ([]approvals.AuditEntry, error)) (*approvals.Request, error) {
	var out *approvals.Request
	err := db.update(ctx, func(tx *bolt.Tx) error {
		r, err := getRequest(tx, id)
		if err != nil {
			return err
		}
		entries, err := fn(r)
		if err != nil {
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
		prepared, err := auditchain.PrepareAll(entries)
		if err != nil {
			return fmt.Errorf("request %s: %w", id, err)
		}
		if _, err := db.appendTx(tx, prepared); err != nil {
			return fmt.Errorf("request %s: audit: %w", id, err)
		}
		out = r
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Requests implements approvals.Store. It reads every request but
// decodes only those whose stored bytes may pass f (MayMatch): `pending`
// and the expiry sweep list the few open requests among thousands of
// finished ones, and decoding those was most of their time (figure P7).
func (db *DB) Requests(ctx context.Context, f approvals.RequestFilter) ([]*approvals.Request, error) {
	var out []*approvals.Request
	may := MayMatch(f)
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketRequests).ForEach(func(k, v []byte) error {
			if !may(v) {
				return nil
			}
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
	return NewestFirst(out, f.Limit), nil
}

// MayMatch returns a check on a stored request's JSON, as json.Marshal
// wrote it (Create, Apply, ImportRequests, on either backend), that is false only when the
// request cannot pass f: its "state" is none of f's, or f wants an open
// review and no review is due ("review_due" is omitted when zero). Text
// inside a string cannot fake a key: its quotes are escaped. When the
// check is true, f.Match decides on the decoded request.
func MayMatch(f approvals.RequestFilter) func(v []byte) bool {
	stateKey, reviewDue := []byte(`"state":"`), []byte(`"review_due":`)
	return func(v []byte) bool {
		if f.ReviewOpen && !bytes.Contains(v, reviewDue) {
			return false
		}
		if len(f.States) == 0 {
			return true
		}
		// One pass: every "state" key (a nested object may have one too).
		for rest := v; ; {
			i := bytes.Index(rest, stateKey)
			if i < 0 {
				return false
			}
			rest = rest[i+len(stateKey):]
			if end := bytes.IndexByte(rest, '"'); end >= 0 && slices.Contains(f.States, approvals.State(rest[:end])) {
				return true
			}
		}
	}
}

// NewestFirst orders requests as approvals.Store's Requests returns them
// (newest CreatedAt first, then by ID) and keeps the first limit (all
// when limit is 0): the order of every backend.
func NewestFirst(out []*approvals.Request, limit int) []*approvals.Request {
	slices.SortFunc(out, func(a, b *approvals.Request) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(a.ID, b.ID))
	})
	if limit > 0 && len(out) > limit {
		out = out[:limit]
	}
	return out
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

// EncodeNew is what every backend's Create does before its transaction:
// it refuses a request without an ID, encodes the request as stored (its
// JSON) and prepares its audit entries for the chain.
func EncodeNew(r *approvals.Request, entries []approvals.AuditEntry) ([]byte, []auditchain.Prepared, error) {
	if r == nil || r.ID == "" {
		return nil, nil, fmt.Errorf("store request: the request has no ID: %w", approvals.ErrInvalid)
	}
	v, err := json.Marshal(r)
	if err != nil {
		return nil, nil, fmt.Errorf("encode request %s: %w", r.ID, err)
	}
	prepared, err := auditchain.PrepareAll(entries)
	if err != nil {
		return nil, nil, fmt.Errorf("store request %s: %w", r.ID, err)
	}
	return v, prepared, nil
}
