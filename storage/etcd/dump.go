package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// The import path of `storage copy` (storage.Importer): what it is given
// is stored as it is, under the same compares as the Store's own writes.

var _ storage.Importer = (*Store)(nil)

// ScheduleSeq is meta/schedule_seq (storage.Dumper).
func (s *Store) ScheduleSeq(ctx context.Context) (uint64, error) {
	resp, err := s.kv.Get(ctx, s.c.Key(keyScheduleSeq))
	if err != nil {
		return 0, fmt.Errorf("read the schedule counter from etcd: %w", err)
	}
	if len(resp.Kvs) == 0 {
		return 0, nil
	}
	n, err := strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("the schedule counter %q in etcd is damaged; set it with etcdctl to the highest s<N> in use", resp.Kvs[0].Value)
	}
	return n, nil
}

// EachResult calls fn with every stored schedule result (storage.Dumper).
func (s *Store) EachResult(ctx context.Context, fn func(id string, r storage.ScheduleResults) error) error {
	from := s.c.Key(dirResults)
	_, err := s.scan(ctx, from, clientv3.GetPrefixRangeEnd(from), 0, func(k, v []byte) error {
		id := string(k[len(from):])
		var r storage.ScheduleResults
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("the results of schedule %q are damaged: %w", id, err)
		}
		return fn(id, r)
	})
	return err
}

// Contents names what the prefix holds, "" when empty (storage.Importer).
func (s *Store) Contents(ctx context.Context) (string, error) {
	var ops []clientv3.Op
	dirs := []string{dirRequests, dirAudit, dirSchedules, dirResults, dirReauth}
	for _, d := range dirs {
		ops = append(ops, clientv3.OpGet(s.c.Key(d), clientv3.WithPrefix(), clientv3.WithCountOnly()))
	}
	ops = append(ops, clientv3.OpGet(s.c.Key(keyScheduleSeq)), clientv3.OpGet(s.c.Key(keyAuditHead), clientv3.WithCountOnly()))
	resp, err := s.kv.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return "", fmt.Errorf("read etcd %s: %w", s.c.Prefix(), err)
	}
	var held []string
	for i, d := range dirs {
		if n := resp.Responses[i].GetResponseRange().Count; n > 0 {
			held = append(held, fmt.Sprintf("%d %s", n, strings.TrimSuffix(d, "/")))
		}
	}
	if kvs := resp.Responses[len(dirs)].GetResponseRange().Kvs; len(kvs) > 0 {
		held = append(held, "schedule numbers up to s"+string(kvs[0].Value))
	}
	if resp.Responses[len(dirs)+1].GetResponseRange().Count > 0 && len(held) == 0 {
		held = append(held, "an audit head")
	}
	if len(held) > 0 {
		return fmt.Sprintf("%s under %s", strings.Join(held, ", "), s.c.Prefix()), nil
	}
	return "", nil
}

// Discard deletes every request, audit entry, schedule, result and
// enrolment under the prefix, with the audit head and the schedule
// counter, in one Txn (Importer). The schema version stays.
func (s *Store) Discard(ctx context.Context) error {
	var ops []clientv3.Op
	for _, d := range []string{dirRequests, dirAudit, dirSchedules, dirResults, dirReauth} {
		ops = append(ops, clientv3.OpDelete(s.c.Key(d), clientv3.WithPrefix()))
	}
	ops = append(ops, clientv3.OpDelete(s.c.Key(keyScheduleSeq)), clientv3.OpDelete(s.c.Key(keyAuditHead)))
	if _, err := s.kv.Txn(ctx).Then(ops...).Commit(); err != nil {
		return fmt.Errorf("empty etcd %s: %w", s.c.Prefix(), err)
	}
	return nil
}

// ImportAudit stores records as they are after the head, in as many Txns
// as etcd's limits need, each guarded by the head's mod revision and
// leaving a whole chain (storage.Importer).
func (s *Store) ImportAudit(ctx context.Context, records []storage.AuditRecord) error {
	h, err := s.readHead(ctx)
	if err != nil {
		return err
	}
	for len(records) > 0 {
		var ops []clientv3.Op
		bytes, next := 0, h.head
		n := 0
		for n < len(records) {
			r := records[n]
			k := s.auditKey(r.Seq)
			if n > 0 && s.fits(len(ops)+2, bytes+len(k)+len(r.Stored)) != nil {
				break
			}
			if r.Seq != next.Seq+1 {
				return fmt.Errorf("import audit entry %d after entry %d: entries must follow each other", r.Seq, next.Seq)
			}
			ops = append(ops, clientv3.OpPut(k, string(r.Stored)))
			bytes += len(k) + len(r.Stored)
			next = auditchain.Head{Seq: r.Seq, Sum: auditchain.SumOf(s.key, r.Stored)}
			n++
		}
		if err := s.fits(len(ops)+1, bytes); err != nil {
			return fmt.Errorf("import audit entry %d: %w", records[0].Seq, err)
		}
		resp, err := s.kv.Txn(ctx).If(s.headCmp(h)).Then(append(ops, s.headPut(next))...).Commit()
		if err != nil {
			return fmt.Errorf("import audit entries %d to %d into etcd: %w", records[0].Seq, next.Seq, err)
		}
		if !resp.Succeeded {
			return fmt.Errorf("import audit entries into etcd %s: another writer moved the audit head; stop every bot replica on this prefix", s.c.Prefix())
		}
		h = chainHead{head: next, rev: resp.Header.Revision}
		records = records[n:]
	}
	return nil
}

// ImportRequest stores r as it is, if its ID was never stored
// (storage.Importer).
func (s *Store) ImportRequest(ctx context.Context, r *approvals.Request) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode request %s: %w", r.ID, err)
	}
	k := s.requestKey(r.ID)
	resp, err := s.kv.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, string(v))).Commit()
	switch {
	case err != nil:
		return fmt.Errorf("import request %s into etcd: %w", r.ID, err)
	case !resp.Succeeded:
		return fmt.Errorf("request %s: %w", r.ID, approvals.ErrExists)
	}
	return nil
}

// ImportSchedules stores ss under their IDs and sets the counter to seq,
// in Txns within etcd's limits, the counter with the last
// (storage.Importer).
func (s *Store) ImportSchedules(ctx context.Context, ss []schedule.Schedule, seq uint64) error {
	var ops []clientv3.Op
	bytes := 0
	commit := func() error {
		if len(ops) == 0 {
			return nil
		}
		if _, err := s.kv.Txn(ctx).Then(ops...).Commit(); err != nil {
			return fmt.Errorf("import schedules into etcd: %w", err)
		}
		ops, bytes = nil, 0
		return nil
	}
	for _, sc := range ss {
		v, err := json.Marshal(sc)
		if err != nil {
			return fmt.Errorf("encode schedule %s: %w", sc.ID, err)
		}
		k := s.scheduleKey(sc.ID)
		if s.fits(len(ops)+2, bytes+len(k)+len(v)) != nil {
			if err := commit(); err != nil {
				return err
			}
		}
		ops = append(ops, clientv3.OpPut(k, string(v)))
		bytes += len(k) + len(v)
	}
	if seq > 0 {
		ops = append(ops, clientv3.OpPut(s.c.Key(keyScheduleSeq), strconv.FormatUint(seq, 10)))
	}
	return commit()
}

// ImportResult stores a schedule's results as they are (storage.Importer).
func (s *Store) ImportResult(ctx context.Context, id string, r storage.ScheduleResults) error {
	v, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("encode results of schedule %s: %w", id, err)
	}
	if _, err := s.kv.Put(ctx, s.resultKey(id), string(v)); err != nil {
		return fmt.Errorf("import results of schedule %s into etcd: %w", id, err)
	}
	return nil
}

// EachEnrolment calls fn with every stored re-authentication record
// (storage.Dumper).
func (s *Store) EachEnrolment(ctx context.Context, fn func(*approvals.Enrolment) error) error {
	from := s.c.Key(dirReauth)
	_, err := s.scan(ctx, from, clientv3.GetPrefixRangeEnd(from), 0, func(k, v []byte) error {
		var e approvals.Enrolment
		if err := json.Unmarshal(v, &e); err != nil {
			return fmt.Errorf("the enrolment under %q is damaged: %w", k, err)
		}
		return fn(&e)
	})
	return err
}

// ImportEnrolment stores e as it is, if the user has no record yet
// (storage.Importer).
func (s *Store) ImportEnrolment(ctx context.Context, e *approvals.Enrolment) error {
	if e.UserID == "" {
		return fmt.Errorf("import enrolment: no user ID: %w", approvals.ErrInvalid)
	}
	v, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("encode the enrolment of %s: %w", e.UserID, err)
	}
	k := s.reauthKey(e.UserID)
	resp, err := s.kv.Txn(ctx).If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).Then(clientv3.OpPut(k, string(v))).Commit()
	switch {
	case err != nil:
		return fmt.Errorf("import the enrolment of %s into etcd: %w", e.UserID, err)
	case !resp.Succeeded:
		return fmt.Errorf("the enrolment of %s is already in etcd: %w", e.UserID, approvals.ErrExists)
	}
	return nil
}
