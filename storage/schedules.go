package storage

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

var _ schedule.Store = (*DB)(nil)

// ScheduleResults is the stored value of a schedule's results (the
// schedule_results bucket, and etcd's schedule_results/ keys): the same JSON
// in every backend.
type ScheduleResults struct {
	Last   schedule.Result  `json:"last"`
	Posted *schedule.Result `json:"posted,omitempty"`
}

// Schedules lists the chat-defined schedules (schedule.Store).
func (db *DB) Schedules(ctx context.Context) ([]schedule.Schedule, error) {
	var out []schedule.Schedule
	err := db.view(ctx, func(tx *bolt.Tx) error {
		return bucket(tx, bucketSchedules).ForEach(func(k, v []byte) error {
			var s schedule.Schedule
			if err := json.Unmarshal(v, &s); err != nil {
				return fmt.Errorf("schedule %q is damaged (%w): remove it with `schedules remove %s`", k, err, k)
			}
			out = append(out, s)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("list schedules: %w", err)
	}
	return out, nil
}

// AddSchedule stores s under the next ID of the schedules bucket's
// sequence: s1, s2, … (schedule.Store).
func (db *DB) AddSchedule(ctx context.Context, s schedule.Schedule) (schedule.Schedule, error) {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketSchedules)
		n, err := b.NextSequence()
		if err != nil {
			return err
		}
		s.ID = "s" + strconv.FormatUint(n, 10)
		v, err := json.Marshal(s)
		if err != nil {
			return err
		}
		return b.Put([]byte(s.ID), v)
	})
	if err != nil {
		return schedule.Schedule{}, fmt.Errorf("store schedule: %w", err)
	}
	return s, nil
}

// RemoveSchedule deletes a chat-defined schedule and its results; a
// missing ID wraps schedule.ErrNotFound (schedule.Store).
func (db *DB) RemoveSchedule(ctx context.Context, id string) error {
	err := db.update(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketSchedules)
		if b.Get([]byte(id)) == nil {
			return schedule.ErrNotFound
		}
		if err := b.Delete([]byte(id)); err != nil {
			return err
		}
		return bucket(tx, bucketScheduleResults).Delete([]byte(id))
	})
	if err != nil {
		return fmt.Errorf("remove schedule %q: %w", id, err)
	}
	return nil
}

// LastResult returns a schedule's newest result and newest posted one
// (schedule.Store). It reads the results of configured and chat-defined
// schedules alike.
func (db *DB) LastResult(ctx context.Context, id string) (last, posted schedule.Result, ok bool, err error) {
	err = db.view(ctx, func(tx *bolt.Tx) error {
		b := bucket(tx, bucketScheduleResults)
		if b == nil {
			return nil // a read-only open of a file from before the bucket
		}
		v := b.Get([]byte(id))
		if v == nil {
			return nil
		}
		var r ScheduleResults
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("the stored results are damaged: %w", err)
		}
		last, ok = r.Last, true
		if r.Posted != nil {
			posted = *r.Posted
		}
		return nil
	})
	if err != nil {
		return schedule.Result{}, schedule.Result{}, false, fmt.Errorf("read results of schedule %q: %w", id, err)
	}
	return last, posted, ok, nil
}

// PutResult records r as id's last result, and as its last posted one if
// r.Posted; a chat schedule that is no longer stored wraps
// schedule.ErrNotFound (schedule.Store).
func (db *DB) PutResult(ctx context.Context, id string, r schedule.Result) error {
	if id == "" {
		return fmt.Errorf("store schedule result: empty schedule id")
	}
	err := db.update(ctx, func(tx *bolt.Tx) error {
		// In the same transaction as the write, so that a RemoveSchedule
		// cannot slip in between: a removed chat schedule leaves no record.
		if schedule.IsChatID(id) && bucket(tx, bucketSchedules).Get([]byte(id)) == nil {
			return schedule.ErrNotFound
		}
		b := bucket(tx, bucketScheduleResults)
		var stored ScheduleResults
		if v := b.Get([]byte(id)); v != nil {
			// A damaged record is replaced: the new result is all that
			// matters from now on.
			if json.Unmarshal(v, &stored) != nil {
				stored = ScheduleResults{}
			}
		}
		stored.Last = r
		if r.Posted {
			stored.Posted = &r
		}
		v, err := json.Marshal(stored)
		if err != nil {
			return err
		}
		return b.Put([]byte(id), v)
	})
	if err != nil {
		return fmt.Errorf("store result of schedule %q: %w", id, err)
	}
	return nil
}
