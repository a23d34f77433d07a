package scheduletest

import (
	"context"
	"errors"
	"maps"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// RunStoreSuite checks the schedule.Store contract on stores that newStore
// makes, each empty and independent.
func RunStoreSuite(t *testing.T, newStore func(t *testing.T) schedule.Store) {
	ctx := context.Background()
	at := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	sample := schedule.Schedule{Spec: "0 9 * * *", TZ: "Europe/Berlin", Platform: "slack", Channel: "C1",
		Host: "gitlab-1", What: schedule.WhatStatus, When: schedule.WhenChanged, CatchUp: true,
		Source: schedule.SourceChat, CreatedBy: "U1", CreatedAt: at}

	t.Run("ids are s1, s2, … and never reused", func(t *testing.T) {
		st := newStore(t)
		var ids []string
		for range 3 {
			s, err := st.AddSchedule(ctx, sample)
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, s.ID)
		}
		if ids[0] != "s1" || ids[1] != "s2" || ids[2] != "s3" {
			t.Fatalf("ids = %v, want [s1 s2 s3]", ids)
		}
		if err := st.RemoveSchedule(ctx, "s3"); err != nil {
			t.Fatal(err)
		}
		s, err := st.AddSchedule(ctx, sample)
		if err != nil || s.ID != "s4" {
			t.Fatalf("after removing s3, AddSchedule = %q, %v; want s4", s.ID, err)
		}
	})

	t.Run("schedules are stored whole", func(t *testing.T) {
		st := newStore(t)
		added, err := st.AddSchedule(ctx, sample)
		if err != nil {
			t.Fatal(err)
		}
		all, err := st.Schedules(ctx)
		if err != nil || len(all) != 1 {
			t.Fatalf("Schedules = %v, %v", all, err)
		}
		got := all[0]
		// Every field, the time compared as an instant (its zone may not
		// survive the round trip).
		want := sample
		want.ID = added.ID
		if !got.CreatedAt.Equal(at) {
			t.Fatalf("stored CreatedAt %s, read back %s", at, got.CreatedAt)
		}
		got.CreatedAt, want.CreatedAt = time.Time{}, time.Time{}
		if got != want {
			t.Fatalf("stored %+v, read back %+v", want, got)
		}
	})

	t.Run("remove deletes the results; a missing id is ErrNotFound", func(t *testing.T) {
		st := newStore(t)
		s, err := st.AddSchedule(ctx, sample)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.PutResult(ctx, s.ID, schedule.Result{At: at, Facts: map[string]string{"main": "all up"}, Posted: true}); err != nil {
			t.Fatal(err)
		}
		if err := st.RemoveSchedule(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, ok, err := st.LastResult(ctx, s.ID); ok || err != nil {
			t.Fatalf("results after remove: ok=%v err=%v", ok, err)
		}
		if err := st.RemoveSchedule(ctx, s.ID); !errors.Is(err, schedule.ErrNotFound) {
			t.Fatalf("removing it again = %v, want ErrNotFound", err)
		}
		if all, err := st.Schedules(ctx); err != nil || len(all) != 0 {
			t.Fatalf("Schedules after remove = %v, %v", all, err)
		}
	})

	t.Run("a removed chat schedule's result is not kept", func(t *testing.T) {
		st := newStore(t)
		s, err := st.AddSchedule(ctx, sample)
		if err != nil {
			t.Fatal(err)
		}
		if err := st.RemoveSchedule(ctx, s.ID); err != nil {
			t.Fatal(err)
		}
		// A run that was going when it was removed finishes later.
		if err := st.PutResult(ctx, s.ID, schedule.Result{At: at, Posted: true}); !errors.Is(err, schedule.ErrNotFound) {
			t.Fatalf("PutResult of removed %s = %v, want ErrNotFound", s.ID, err)
		}
		if _, _, ok, err := st.LastResult(ctx, s.ID); ok || err != nil {
			t.Fatalf("results of removed %s: ok=%v err=%v", s.ID, ok, err)
		}
		// A configured schedule's results need no stored schedule.
		if err := st.PutResult(ctx, "daily", schedule.Result{At: at}); err != nil {
			t.Fatalf("PutResult of a configured schedule: %v", err)
		}
	})

	t.Run("last and last posted results", func(t *testing.T) {
		st := newStore(t)
		if _, _, ok, err := st.LastResult(ctx, "daily"); ok || err != nil {
			t.Fatalf("LastResult of a schedule that never ran: ok=%v err=%v", ok, err)
		}
		r1 := schedule.Result{At: at, Facts: map[string]string{"main": "2 down"}, Problem: true, Posted: true}
		r2 := schedule.Result{At: at.Add(time.Hour), Failed: true, Reason: "agent unreachable"}
		if err := st.PutResult(ctx, "daily", r1); err != nil {
			t.Fatal(err)
		}
		if err := st.PutResult(ctx, "daily", r2); err != nil {
			t.Fatal(err)
		}
		last, posted, ok, err := st.LastResult(ctx, "daily")
		if err != nil || !ok {
			t.Fatalf("LastResult: ok=%v err=%v", ok, err)
		}
		if !last.At.Equal(r2.At) || !last.Failed || last.Reason != r2.Reason || last.Posted {
			t.Errorf("last = %+v, want %+v", last, r2)
		}
		if !posted.At.Equal(r1.At) || !posted.Posted || !posted.Problem || !maps.Equal(posted.Facts, r1.Facts) {
			t.Errorf("posted = %+v, want %+v", posted, r1)
		}
		// Results of one schedule leave another's alone.
		if _, _, ok, _ := st.LastResult(ctx, "other"); ok {
			t.Error("a result of daily shows under other")
		}
	})
}
