package etcd

import (
	"context"
	"encoding/json"

	"fmt"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

func (s *Store) requestKey(id string) string { return s.c.Key(dirRequests + id) }

// Create implements approvals.Store: one Txn that stores r (if its key was
// never created: CreateRevision == 0) with its audit entries and the new
// head (if the head is still the one sealed after). Losing on the head
// seals again; losing on the request is approvals.ErrExists, with nothing
// written.
func (s *Store) Create(ctx context.Context, r *approvals.Request, entries ...approvals.AuditEntry) error {
	if err := s.begin(); err != nil {
		return fmt.Errorf("store request: %w", err)
	}
	defer s.writes.Done()
	v, prepared, err := storage.EncodeNew(r, entries)
	if err != nil {
		return err
	}
	k := s.requestKey(r.ID)
	h, err := s.readHead(ctx)
	if err != nil {
		return fmt.Errorf("store request %s: %w", r.ID, err)
	}
	for {
		se := s.seal(h.head, prepared, time.Now())
		if err := s.fits(len(se.ops)+2, se.bytes+len(k)+len(v)); err != nil {
			return fmt.Errorf("store request %s: %w", r.ID, err)
		}
		ops := append([]clientv3.Op{clientv3.OpPut(k, string(v))}, se.ops...)
		resp, err := s.kv.Txn(ctx).
			If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0), s.headCmp(h)).
			Then(append(ops, s.headPut(se.next))...).
			Else(clientv3.OpGet(k, clientv3.WithCountOnly()), s.headGet()).
			Commit()
		if err != nil {
			return fmt.Errorf("store request %s in etcd: %w", r.ID, err)
		}
		if resp.Succeeded {
			return nil
		}
		if resp.Responses[0].GetResponseRange().Count > 0 {
			return fmt.Errorf("request %s: %w", r.ID, approvals.ErrExists)
		}
		if h, err = parseHead(resp.Responses[1].GetResponseRange()); err != nil {
			return fmt.Errorf("store request %s: %w", r.ID, err)
		}
	}
}

// Request implements approvals.Store.
func (s *Store) Request(ctx context.Context, id string) (*approvals.Request, error) {
	resp, err := s.kv.Get(ctx, s.requestKey(id))
	if err != nil {
		return nil, fmt.Errorf("read request %s from etcd: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return nil, fmt.Errorf("request %q: %w", id, approvals.ErrNotFound)
	}
	return decodeRequest(id, resp.Kvs[0].Value)
}

// Apply implements approvals.Store with optimistic concurrency: read the
// request and the head at one revision, run fn, then commit the request,
// the entries and the head under compares on the request's and the head's
// mod revisions. When either moved, the Txn's Else returns both afresh and
// fn runs again on the new request (approvals.Store allows it); an attempt
// that lost writes nothing. A failed round trip is returned, not retried:
// its outcome is unknown, and retrying could apply fn twice.
func (s *Store) Apply(ctx context.Context, id string, fn func(*approvals.Request) ([]approvals.AuditEntry, error)) (*approvals.Request, error) {
	if err := s.begin(); err != nil {
		return nil, fmt.Errorf("update request %s: %w", id, err)
	}
	defer s.writes.Done()
	k := s.requestKey(id)
	resp, err := s.kv.Txn(ctx).Then(clientv3.OpGet(k), s.headGet()).Commit()
	if err != nil {
		return nil, fmt.Errorf("read request %s from etcd: %w", id, err)
	}
	for attempt := 1; ; attempt++ {
		kvs := resp.Responses[0].GetResponseRange().Kvs
		if len(kvs) == 0 {
			return nil, fmt.Errorf("request %q: %w", id, approvals.ErrNotFound)
		}
		h, err := parseHead(resp.Responses[1].GetResponseRange())
		if err != nil {
			return nil, fmt.Errorf("request %s: %w", id, err)
		}
		r, err := decodeRequest(id, kvs[0].Value)
		if err != nil {
			return nil, err
		}
		entries, err := fn(r)
		if err != nil {
			return nil, err
		}
		if r.ID != id {
			return nil, fmt.Errorf("update of request %s tried to change its ID to %q: %w", id, r.ID, approvals.ErrInvalid)
		}
		r.Version++
		v, err := json.Marshal(r)
		if err != nil {
			return nil, fmt.Errorf("encode request %s: %w", id, err)
		}
		prepared, err := auditchain.PrepareAll(entries)
		if err != nil {
			return nil, fmt.Errorf("request %s: %w", id, err)
		}
		se := s.seal(h.head, prepared, time.Now())
		if err := s.fits(len(se.ops)+2, se.bytes+len(k)+len(v)); err != nil {
			return nil, fmt.Errorf("request %s: %w", id, err)
		}
		ops := append([]clientv3.Op{clientv3.OpPut(k, string(v))}, se.ops...)
		resp, err = s.kv.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(k), "=", kvs[0].ModRevision), s.headCmp(h)).
			Then(append(ops, s.headPut(se.next))...).
			Else(clientv3.OpGet(k), s.headGet()).
			Commit()
		if err != nil {
			return nil, fmt.Errorf("write request %s to etcd (attempt %d; it may or may not have been written: read it back): %w", id, attempt, err)
		}
		if resp.Succeeded {
			return r, nil
		}
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("request %s: gave up after %d attempts lost to concurrent writes: %w", id, attempt, err)
		}
	}
}

// Requests implements approvals.Store: every request, read page by page
// at one revision; only those whose stored bytes may pass f
// (storage.MayMatch) are decoded, so `pending` and the expiry sweep do not
// decode every finished request.
func (s *Store) Requests(ctx context.Context, f approvals.RequestFilter) ([]*approvals.Request, error) {
	var out []*approvals.Request
	may := storage.MayMatch(f)
	_, err := s.scan(ctx, s.c.Key(dirRequests), clientv3.GetPrefixRangeEnd(s.c.Key(dirRequests)), 0, func(k, v []byte) error {
		if !may(v) {
			return nil // cannot pass f: not worth decoding
		}
		r, err := decodeRequest(string(k[len(s.c.Key(dirRequests)):]), v)
		if err != nil {
			return err
		}
		if f.Match(r) {
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list requests: %w", err)
	}
	return storage.NewestFirst(out, f.Limit), nil
}

func decodeRequest(id string, v []byte) (*approvals.Request, error) {
	var r approvals.Request
	if err := json.Unmarshal(v, &r); err != nil {
		return nil, fmt.Errorf("request %s in etcd is damaged (%w); restore it from a backup or delete its key with etcdctl", id, err)
	}
	return &r, nil
}

// readHead reads the audit head.
func (s *Store) readHead(ctx context.Context) (chainHead, error) {
	resp, err := s.kv.Get(ctx, s.c.Key(keyAuditHead))
	if err != nil {
		return chainHead{}, fmt.Errorf("read the audit head from etcd: %w", err)
	}
	h, err := parseHead((*pb.RangeResponse)(resp))
	if err != nil {
		return chainHead{}, err
	}
	return h, nil
}
