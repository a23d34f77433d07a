package etcd

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

func (s *Store) scheduleKey(id string) string { return s.c.Key(dirSchedules + id) }
func (s *Store) resultKey(id string) string   { return s.c.Key(dirResults + id) }

// Schedules lists the chat-defined schedules (schedule.Store).
func (s *Store) Schedules(ctx context.Context) ([]schedule.Schedule, error) {
	var out []schedule.Schedule
	from := s.c.Key(dirSchedules)
	_, err := s.scan(ctx, from, clientv3.GetPrefixRangeEnd(from), 0, func(k, v []byte) error {
		var sc schedule.Schedule
		if err := json.Unmarshal(v, &sc); err != nil {
			id := string(k[len(from):])
			return fmt.Errorf("schedule %q is damaged (%w): remove it with `schedules remove %s`", id, err, id)
		}
		out = append(out, sc)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

// AddSchedule stores sc as s<n>, n the next value of meta/schedule_seq,
// taken under a compare on the counter's mod revision, so two replicas
// never hand out one ID and a removed ID is never reused (schedule.Store).
func (s *Store) AddSchedule(ctx context.Context, sc schedule.Schedule) (schedule.Schedule, error) {
	if err := s.begin(); err != nil {
		return schedule.Schedule{}, fmt.Errorf("store schedule: %w", err)
	}
	defer s.writes.Done()
	seqKey := s.c.Key(keyScheduleSeq)
	resp, err := s.kv.Get(ctx, seqKey)
	for {
		if err != nil {
			return schedule.Schedule{}, fmt.Errorf("store schedule in etcd: %w", err)
		}
		var n uint64
		var rev int64
		if len(resp.Kvs) > 0 {
			if n, err = strconv.ParseUint(string(resp.Kvs[0].Value), 10, 64); err != nil {
				return schedule.Schedule{}, fmt.Errorf("store schedule: the schedule counter %q in etcd is damaged; set it with etcdctl to the highest s<N> in use", resp.Kvs[0].Value)
			}
			rev = resp.Kvs[0].ModRevision
		}
		n++
		sc.ID = "s" + strconv.FormatUint(n, 10)
		v, err := json.Marshal(sc)
		if err != nil {
			return schedule.Schedule{}, fmt.Errorf("encode schedule: %w", err)
		}
		t, err := s.kv.Txn(ctx).
			If(clientv3.Compare(clientv3.ModRevision(seqKey), "=", rev)).
			Then(clientv3.OpPut(seqKey, strconv.FormatUint(n, 10)), clientv3.OpPut(s.scheduleKey(sc.ID), string(v))).
			Else(clientv3.OpGet(seqKey)).
			Commit()
		if err != nil {
			return schedule.Schedule{}, fmt.Errorf("store schedule in etcd: %w", err)
		}
		if t.Succeeded {
			return sc, nil
		}
		resp = (*clientv3.GetResponse)(t.Responses[0].GetResponseRange())
	}
}

// RemoveSchedule deletes a chat-defined schedule and its results in one
// Txn; a missing ID wraps schedule.ErrNotFound (schedule.Store).
func (s *Store) RemoveSchedule(ctx context.Context, id string) error {
	if err := s.begin(); err != nil {
		return fmt.Errorf("remove schedule %q: %w", id, err)
	}
	defer s.writes.Done()
	k := s.scheduleKey(id)
	t, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), ">", 0)).
		Then(clientv3.OpDelete(k), clientv3.OpDelete(s.resultKey(id)), clientv3.OpDelete(s.c.Key(dirScheduleTicks+id))).
		Commit()
	switch {
	case err != nil:
		return fmt.Errorf("remove schedule %q from etcd: %w", id, err)
	case !t.Succeeded:
		return fmt.Errorf("remove schedule %q: %w", id, schedule.ErrNotFound)
	}
	return nil
}

// LastResult returns a schedule's newest result and newest posted one
// (schedule.Store).
func (s *Store) LastResult(ctx context.Context, id string) (last, posted schedule.Result, ok bool, err error) {
	resp, err := s.kv.Get(ctx, s.resultKey(id))
	if err != nil {
		return last, posted, false, fmt.Errorf("read results of schedule %q from etcd: %w", id, err)
	}
	if len(resp.Kvs) == 0 {
		return last, posted, false, nil
	}
	var r storage.ScheduleResults
	if err := json.Unmarshal(resp.Kvs[0].Value, &r); err != nil {
		return last, posted, false, fmt.Errorf("read results of schedule %q: the stored results are damaged: %w", id, err)
	}
	if r.Posted != nil {
		posted = *r.Posted
	}
	return r.Last, posted, true, nil
}

// PutResult records r as id's last result (and last posted one if
// r.Posted) under a compare on the record's mod revision and, for a
// chat-defined schedule, on the schedule still existing, so a concurrent
// RemoveSchedule leaves no record (schedule.Store).
func (s *Store) PutResult(ctx context.Context, id string, r schedule.Result) error {
	if err := s.begin(); err != nil {
		return fmt.Errorf("store result of schedule %q: %w", id, err)
	}
	defer s.writes.Done()
	if id == "" {
		return fmt.Errorf("store schedule result: empty schedule id")
	}
	rk, sk := s.resultKey(id), s.scheduleKey(id)
	chat := schedule.IsChatID(id)
	read := func() (*clientv3.TxnResponse, error) {
		return s.kv.Txn(ctx).Then(clientv3.OpGet(rk), clientv3.OpGet(sk, clientv3.WithCountOnly())).Commit()
	}
	t, err := read()
	for {
		if err != nil {
			return fmt.Errorf("store result of schedule %q in etcd: %w", id, err)
		}
		if chat && t.Responses[1].GetResponseRange().Count == 0 {
			return fmt.Errorf("store result of schedule %q: %w", id, schedule.ErrNotFound)
		}
		var stored storage.ScheduleResults
		var rev int64
		if kvs := t.Responses[0].GetResponseRange().Kvs; len(kvs) > 0 {
			rev = kvs[0].ModRevision
			// A damaged record is replaced: the new result is all that
			// matters from now on (as in bbolt).
			if json.Unmarshal(kvs[0].Value, &stored) != nil {
				stored = storage.ScheduleResults{}
			}
		}
		stored.Last = r
		if r.Posted {
			stored.Posted = &r
		}
		v, err := json.Marshal(stored)
		if err != nil {
			return fmt.Errorf("encode result of schedule %q: %w", id, err)
		}
		cmps := []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(rk), "=", rev)}
		if chat {
			cmps = append(cmps, clientv3.Compare(clientv3.CreateRevision(sk), ">", 0))
		}
		w, err := s.kv.Txn(ctx).If(cmps...).Then(clientv3.OpPut(rk, string(v))).Commit()
		if err != nil {
			return fmt.Errorf("store result of schedule %q in etcd: %w", id, err)
		}
		if w.Succeeded {
			return nil
		}
		t, err = read()
	}
}
