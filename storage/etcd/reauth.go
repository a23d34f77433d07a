package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// dirReauth holds the approvers' re-authentication records, one key per
// user (its qualified ID, path-escaped: IDs hold ':' and may hold '/').
const dirReauth = "reauth/"

var _ approvals.ReauthStore = (*Store)(nil)

func (s *Store) reauthKey(userID string) string {
	return s.c.Key(dirReauth + url.PathEscape(userID))
}

// Enrolment implements approvals.ReauthStore.
func (s *Store) Enrolment(ctx context.Context, userID string) (*approvals.Enrolment, error) {
	if userID == "" {
		return nil, fmt.Errorf("enrolment: no user ID: %w", approvals.ErrInvalid)
	}
	resp, err := s.kv.Get(ctx, s.reauthKey(userID))
	if err != nil {
		return nil, fmt.Errorf("read the enrolment of %s from etcd: %w", userID, err)
	}
	return decodeEnrolment(userID, resp.Kvs)
}

// UpdateReauth implements approvals.ReauthStore as Apply does a request:
// read the record and the audit head at one revision, run fn, commit the
// record, the entries and the head under compares on the record's mod
// revision (0: not there yet, so two replicas enrolling one user do not
// both win) and the head's. A lost compare runs fn again on what won; a
// failed round trip is returned, not retried (its outcome is unknown).
// Every replica shares the record, so wrong codes typed at two replicas
// count together and a code accepted by one is refused by the other.
func (s *Store) UpdateReauth(ctx context.Context, userID string, fn func(*approvals.Enrolment) ([]approvals.AuditEntry, error)) (*approvals.Enrolment, error) {
	if userID == "" {
		return nil, fmt.Errorf("enrolment: no user ID: %w", approvals.ErrInvalid)
	}
	if err := s.begin(); err != nil {
		return nil, fmt.Errorf("update the enrolment of %s: %w", userID, err)
	}
	defer s.writes.Done()
	k := s.reauthKey(userID)
	resp, err := s.kv.Txn(ctx).Then(clientv3.OpGet(k), s.headGet()).Commit()
	if err != nil {
		return nil, fmt.Errorf("read the enrolment of %s from etcd: %w", userID, err)
	}
	for attempt := 1; ; attempt++ {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		var rev int64
		if len(kvs) > 0 {
			rev = kvs[0].ModRevision
		}
		h, err := parseHead(resp.Responses[1].GetResponseRange())
		if err != nil {
			return nil, fmt.Errorf("enrolment of %s: %w", userID, err)
		}
		e, err := decodeEnrolment(userID, kvs)
		if err != nil {
			return nil, err
		}
		entries, err := fn(e)
		if err != nil {
			return nil, err
		}
		if e.UserID != userID {
			return nil, fmt.Errorf("update of the enrolment of %s tried to change its user to %q: %w", userID, e.UserID, approvals.ErrInvalid)
		}
		e.Version++
		v, err := json.Marshal(e)
		if err != nil {
			return nil, fmt.Errorf("encode the enrolment of %s: %w", userID, err)
		}
		prepared, err := auditchain.PrepareAll(entries)
		if err != nil {
			return nil, fmt.Errorf("enrolment of %s: %w", userID, err)
		}
		se := s.seal(h.head, prepared, time.Now())
		if err := s.fits(len(se.ops)+2, se.bytes+len(k)+len(v)); err != nil {
			return nil, fmt.Errorf("enrolment of %s: %w", userID, err)
		}
		ops := append([]clientv3.Op{clientv3.OpPut(k, string(v))}, se.ops...)
		resp, err = s.kv.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", rev), s.headCmp(h)).
			Then(append(ops, s.headPut(se.next))...).
			Else(clientv3.OpGet(k), s.headGet()).
			Commit()
		if err != nil {
			return nil, fmt.Errorf("write the enrolment of %s to etcd (attempt %d; it may or may not have been written: read it back): %w", userID, attempt, err)
		}
		if resp.Succeeded {
			return e, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("enrolment of %s: gave up after %d attempts lost to concurrent writes: %w", userID, attempt, err)
		}
	}
}

// decodeEnrolment is userID's record from kvs (a Get of its key): a fresh
// one when there is none.
func decodeEnrolment(userID string, kvs []*mvccpb.KeyValue) (*approvals.Enrolment, error) {
	e := &approvals.Enrolment{UserID: userID}
	if len(kvs) == 0 {
		return e, nil
	}
	if err := json.Unmarshal(kvs[0].Value, e); err != nil {
		return nil, fmt.Errorf("decode the enrolment of %s from etcd: %w", userID, err)
	}
	return e, nil
}
