package etcd

import (
	"context"
	"fmt"
	"io"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// auditRange is the whole audit directory.
func (s *Store) auditRange() (from, end string) {
	from = s.c.Key(dirAudit)
	return from, clientv3.GetPrefixRangeEnd(from)
}

// ReadAudit implements auditchain.Reader: the head and every entry, read
// at ONE revision (the entries page by page with WithRev), so the walk is
// consistent while replicas keep appending.
func (s *Store) ReadAudit(ctx context.Context, fn func(seq uint64, stored []byte) error) (auditchain.Head, error) {
	resp, err := s.kv.Get(ctx, s.c.Key(keyAuditHead))
	if err != nil {
		return auditchain.Head{}, fmt.Errorf("read the audit head from etcd: %w", err)
	}
	h, err := auditchain.DecodeHead(nil)
	if len(resp.Kvs) > 0 {
		h, err = auditchain.DecodeHead(resp.Kvs[0].Value)
	}
	if err != nil {
		return h, &auditchain.Break{Seq: 1, Kind: auditchain.BreakHead, Detail: err.Error()}
	}
	from, end := s.auditRange()
	_, err = s.scan(ctx, from, end, resp.Header.Revision, func(k, v []byte) error {
		seq, ok := s.parseAuditKey(k)
		if !ok {
			return &auditchain.Break{Kind: auditchain.BreakBadKey, Detail: fmt.Sprintf("key %q is not a 20-digit sequence number", k)}
		}
		return fn(seq, v)
	})
	return h, err
}

// TailAudit returns the last n entries, oldest first.
func (s *Store) TailAudit(ctx context.Context, n int) ([]approvals.AuditEntry, error) {
	return s.AuditBefore(ctx, 0, n)
}

// AuditBefore returns up to n entries numbered below before (the newest
// ones when before is 0), oldest first.
func (s *Store) AuditBefore(ctx context.Context, before uint64, n int) ([]approvals.AuditEntry, error) {
	return storage.DecodedPage(ctx, s, before, n)
}

// AuditPage calls fn with the stored bytes of up to n entries numbered
// below before (the last n when before is 0), oldest first, all read at
// one revision: first the keys alone, newest first, to find the range,
// then the range page by page.
func (s *Store) AuditPage(ctx context.Context, before uint64, n int, fn func(seq uint64, stored []byte) error) error {
	if n <= 0 {
		return fmt.Errorf("asked for %d entries; ask for at least 1", n)
	}
	from, end := s.auditRange()
	if before > 0 {
		end = s.auditKey(before)
	}
	resp, err := s.kv.Get(ctx, from, clientv3.WithRange(end), clientv3.WithKeysOnly(), clientv3.WithLimit(int64(n)),
		clientv3.WithSort(clientv3.SortByKey, clientv3.SortDescend))
	if err != nil {
		return fmt.Errorf("read the audit log from etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return nil
	}
	first, last := resp.Kvs[len(resp.Kvs)-1].Key, resp.Kvs[0].Key
	_, err = s.scan(ctx, string(first), string(last)+"\x00", resp.Header.Revision, func(k, v []byte) error {
		seq, ok := s.parseAuditKey(k)
		if !ok {
			return fmt.Errorf("audit key %q is not a sequence number; run `gitlab-chatops audit verify`", k)
		}
		return fn(seq, v)
	})
	return err
}

// ExportAudit writes every entry with Time at or after since (all when
// since is zero) to w as JSON lines of the stored bytes, oldest first, read
// at one revision.
func (s *Store) ExportAudit(ctx context.Context, w io.Writer, since time.Time) error {
	from, end := s.auditRange()
	_, err := s.scan(ctx, from, end, 0, func(k, v []byte) error {
		seq, ok := s.parseAuditKey(k)
		if !ok {
			return fmt.Errorf("audit key %q is not a sequence number; run `gitlab-chatops audit verify`", k)
		}
		if !since.IsZero() {
			e, err := auditchain.Decode(v)
			if err != nil {
				return fmt.Errorf("entry %d: %w", seq, err)
			}
			if e.Time.Before(since) {
				return nil
			}
		}
		line := make([]byte, 0, len(v)+1)
		if _, err := w.Write(append(append(line, v...), '\n')); err != nil {
			return fmt.Errorf("write: %w", err)
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("export audit log: %w", err)
	}
	return nil
}

// AuditHead returns the seq and hash of the last entry (the zero Head for
// an empty log).
func (s *Store) AuditHead(ctx context.Context) (auditchain.Head, error) {
	h, err := s.readHead(ctx)
	if err != nil {
		return auditchain.Head{}, fmt.Errorf("read the audit head: %w", err)
	}
	return h.head, nil
}
