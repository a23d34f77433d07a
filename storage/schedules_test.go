package storage

import (
	"context"
	"errors"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

func TestSchedules(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	if _, err := db.Schedule(ctx, "daily"); !errors.Is(err, approvals.ErrNotFound) {
		t.Fatalf("Schedule(missing) = %v", err)
	}
	v := []byte(`{"cron":"0 9 * * 1-5"}`)
	if err := db.PutSchedule(ctx, "daily", v); err != nil {
		t.Fatal(err)
	}
	v[0] = 'X' // the stored value is a copy
	got, err := db.Schedule(ctx, "daily")
	if err != nil || string(got) != `{"cron":"0 9 * * 1-5"}` {
		t.Fatalf("Schedule = %q, %v", got, err)
	}
	if err := db.PutSchedule(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	if got, err := db.Schedule(ctx, "empty"); err != nil || got == nil || len(got) != 0 {
		t.Fatalf("Schedule(empty) = %q, %v", got, err)
	}
	all, err := db.Schedules(ctx)
	if err != nil || len(all) != 2 || string(all["daily"]) != `{"cron":"0 9 * * 1-5"}` {
		t.Fatalf("Schedules = %q, %v", all, err)
	}
	if err := db.DeleteSchedule(ctx, "daily"); err != nil {
		t.Fatal(err)
	}
	if err := db.DeleteSchedule(ctx, "daily"); err != nil {
		t.Fatalf("deleting a missing schedule: %v", err)
	}
	if _, err := db.Schedule(ctx, "daily"); !errors.Is(err, approvals.ErrNotFound) {
		t.Fatalf("Schedule(deleted) = %v", err)
	}
	if err := db.PutSchedule(ctx, "", v); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("PutSchedule(\"\") = %v", err)
	}
}
