package schedule_test

import (
	"context"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// MemoryClaims, the one-process default: one run of a schedule at a time,
// and each due time fired once, never one behind it.
func TestMemoryClaims(t *testing.T) {
	ctx := context.Background()
	m := schedule.NewMemoryClaims()
	release, ok, err := m.Claim(ctx, "s1")
	if !ok || err != nil {
		t.Fatalf("first claim: %v, %v", ok, err)
	}
	if _, ok, _ := m.Claim(ctx, "s1"); ok {
		t.Error("a second claim while the first holds")
	}
	if running, _ := m.Running(ctx, "s1"); !running {
		t.Error("not running while claimed")
	}
	if err := release(ctx); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := m.Claim(ctx, "s1"); !ok {
		t.Error("no claim after the release")
	}

	due := time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		name string
		id   string
		due  time.Time
		want bool
	}{
		{"first", "s1", due, true},
		{"again", "s1", due, false},
		{"behind it", "s1", due.Add(-time.Minute), false},
		{"another schedule", "s2", due, true},
		{"the next", "s1", due.Add(time.Minute), true},
	} {
		if got, err := m.ClaimTick(ctx, c.id, c.due); got != c.want || err != nil {
			t.Errorf("%s: ClaimTick = %v, %v; want %v", c.name, got, err, c.want)
		}
	}
}
