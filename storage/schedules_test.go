package storage

import (
	"context"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/schedule/scheduletest"
)

func TestScheduleStoreSuite(t *testing.T) {
	scheduletest.RunStoreSuite(t, func(t *testing.T) schedule.Store {
		db, _ := openTest(t)
		return db
	})
}

// Chat-defined schedules and every schedule's results survive closing and
// reopening the file.
func TestSchedulesSurviveReopen(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	s, err := db.AddSchedule(ctx, schedule.Schedule{Spec: "@hourly", Platform: "console", Channel: "ops",
		What: schedule.WhatBBM, When: schedule.WhenProblems, Source: schedule.SourceChat})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	if err := db.PutResult(ctx, "daily", schedule.Result{At: at, Facts: map[string]string{"main": "all up"}, Posted: true}); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	db2, err := Open(path, Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer db2.Close()
	all, err := db2.Schedules(ctx)
	if err != nil || len(all) != 1 || all[0].ID != s.ID || all[0].What != schedule.WhatBBM || all[0].When != schedule.WhenProblems {
		t.Fatalf("after reopen Schedules = %+v, %v", all, err)
	}
	last, posted, ok, err := db2.LastResult(ctx, "daily")
	if err != nil || !ok || !last.At.Equal(at) || posted.Facts["main"] != "all up" {
		t.Fatalf("after reopen LastResult = %+v, %+v, %v, %v", last, posted, ok, err)
	}
	// The sequence survives too: the next ID is new.
	if s2, err := db2.AddSchedule(ctx, all[0]); err != nil || s2.ID != "s2" {
		t.Fatalf("AddSchedule after reopen = %q, %v; want s2", s2.ID, err)
	}
}

// A version 2 file from before the schedule_results bucket opens: read-only
// it reads as "no results", read-write Open adds the bucket.
func TestScheduleResultsBucketAddedToOldFile(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if _, err := db.AddSchedule(ctx, schedule.Schedule{Spec: "@hourly", What: schedule.WhatStatus}); err != nil {
		t.Fatal(err)
	}
	if err := db.bolt.Update(func(tx *bolt.Tx) error { return tx.DeleteBucket([]byte(bucketScheduleResults)) }); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("read-only Open of a file without %s: %v", bucketScheduleResults, err)
	}
	if _, _, ok, err := ro.LastResult(ctx, "s1"); ok || err != nil {
		t.Fatalf("read-only LastResult = ok %v, %v; want none", ok, err)
	}
	if all, err := ro.Schedules(ctx); err != nil || len(all) != 1 {
		t.Fatalf("read-only Schedules = %v, %v", all, err)
	}
	_ = ro.Close()

	rw, err := Open(path, Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	if err := rw.PutResult(ctx, "s1", schedule.Result{Facts: map[string]string{"main": "all up"}}); err != nil {
		t.Fatalf("PutResult after reopening read-write: %v", err)
	}
}
