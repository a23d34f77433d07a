package schedule_test

import (
	"testing"
	"time"

	"github.com/robfig/cron/v3"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// utc is a UTC instant, to state expected runs unambiguously.
func utc(y int, m time.Month, d, h, min int) time.Time {
	return time.Date(y, m, d, h, min, 0, 0, time.UTC)
}

// Next across the 2026 daylight-saving changes: Europe/Berlin springs
// forward on 29 March (02:00 → 03:00) and falls back on 25 October
// (03:00 → 02:00); America/New_York on 8 March and 1 November.
func TestNextAcrossDST(t *testing.T) {
	tests := []struct {
		name, spec, tz string
		from           time.Time
		want           []time.Time // successive runs, in UTC
		wall           string      // every run's wall clock in the zone
		walls          []string    // or each run's
	}{
		{
			name: "09:00 Berlin stays 09:00 when clocks spring forward",
			spec: "0 9 * * *", tz: "Europe/Berlin", from: utc(2026, 3, 27, 12, 0),
			want: []time.Time{utc(2026, 3, 28, 8, 0), utc(2026, 3, 29, 7, 0), utc(2026, 3, 30, 7, 0)},
			wall: "09:00",
		},
		{
			name: "09:00 Berlin stays 09:00 when clocks fall back",
			spec: "0 9 * * *", tz: "Europe/Berlin", from: utc(2026, 10, 24, 12, 0),
			want: []time.Time{utc(2026, 10, 25, 8, 0), utc(2026, 10, 26, 8, 0)},
			wall: "09:00",
		},
		{
			name: "09:00 New York stays 09:00 when clocks spring forward",
			spec: "0 9 * * *", tz: "America/New_York", from: utc(2026, 3, 7, 0, 0),
			want: []time.Time{utc(2026, 3, 7, 14, 0), utc(2026, 3, 8, 13, 0), utc(2026, 3, 9, 13, 0)},
			wall: "09:00",
		},
		{
			name: "09:00 New York stays 09:00 when clocks fall back",
			spec: "0 9 * * *", tz: "America/New_York", from: utc(2026, 10, 31, 0, 0),
			want: []time.Time{utc(2026, 10, 31, 13, 0), utc(2026, 11, 1, 14, 0), utc(2026, 11, 2, 14, 0)},
			wall: "09:00",
		},
		{
			// 02:30 does not exist on 29 March in Berlin (02:00 → 03:00):
			// that day it runs an hour on, at 03:30.
			name: "02:30 Berlin runs at 03:30 on the spring-forward day",
			spec: "30 2 * * *", tz: "Europe/Berlin", from: utc(2026, 3, 27, 12, 0),
			want:  []time.Time{utc(2026, 3, 28, 1, 30), utc(2026, 3, 29, 1, 30), utc(2026, 3, 30, 0, 30)},
			walls: []string{"02:30", "03:30", "02:30"},
		},
		{
			name: "02:30 New York runs at 03:30 on the spring-forward day",
			spec: "30 2 * * *", tz: "America/New_York", from: utc(2026, 3, 7, 0, 0),
			want:  []time.Time{utc(2026, 3, 7, 7, 30), utc(2026, 3, 8, 7, 30), utc(2026, 3, 9, 6, 30)},
			walls: []string{"02:30", "03:30", "02:30"},
		},
		{
			// Several times in the skipped hour run once, as cron(8) does.
			name: "every 20 minutes of 02:00-02:59 Berlin runs once on the spring-forward day",
			spec: "*/20 2 * * *", tz: "Europe/Berlin", from: utc(2026, 3, 29, 0, 0),
			want:  []time.Time{utc(2026, 3, 29, 1, 0), utc(2026, 3, 30, 0, 0), utc(2026, 3, 30, 0, 20)},
			walls: []string{"03:00", "02:00", "02:20"},
		},
		{
			// 02:30 happens twice on 25 October in Berlin: it runs at the
			// first (CEST), not again an hour later.
			name: "02:30 Berlin runs once on the fall-back day",
			spec: "30 2 * * *", tz: "Europe/Berlin", from: utc(2026, 10, 24, 12, 0),
			want: []time.Time{utc(2026, 10, 25, 0, 30), utc(2026, 10, 26, 1, 30)},
			wall: "02:30",
		},
		{
			name: "01:30 New York runs once on the fall-back day",
			spec: "30 1 * * *", tz: "America/New_York", from: utc(2026, 10, 31, 12, 0),
			want: []time.Time{utc(2026, 11, 1, 5, 30), utc(2026, 11, 2, 6, 30)},
			wall: "01:30",
		},
		{
			// Every half hour is every half hour of real time, also in the
			// repeated hour.
			name: "every 30 minutes keeps its pace through the repeated hour",
			spec: "*/30 * * * *", tz: "Europe/Berlin", from: utc(2026, 10, 25, 0, 0),
			want: []time.Time{utc(2026, 10, 25, 0, 30), utc(2026, 10, 25, 1, 0), utc(2026, 10, 25, 1, 30), utc(2026, 10, 25, 2, 0)},
		},
		{
			name: "@every 1h is elapsed time across the change",
			spec: "@every 1h", tz: "Europe/Berlin", from: utc(2026, 3, 29, 0, 30),
			want: []time.Time{utc(2026, 3, 29, 1, 30), utc(2026, 3, 29, 2, 30)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timing, err := schedule.ParseTiming(tt.spec, tt.tz)
			if err != nil {
				t.Fatal(err)
			}
			at := tt.from
			for i, want := range tt.want {
				at = timing.Next(at)
				if !at.Equal(want) {
					t.Fatalf("run %d at %s (%s UTC), want %s UTC", i+1, at, at.UTC().Format(time.DateTime), want.Format(time.DateTime))
				}
				if at.Location().String() != tt.tz {
					t.Errorf("run %d given in %s, want the schedule's zone %s", i+1, at.Location(), tt.tz)
				}
				wall := tt.wall
				if tt.walls != nil {
					wall = tt.walls[i]
				}
				if wall != "" && at.Format("15:04") != wall {
					t.Errorf("run %d at %s wall clock, want %s", i+1, at.Format("15:04 MST"), wall)
				}
			}
		})
	}
}

// What robfig/cron does alone, which Timing.Next corrects for specs that
// name particular hours: on the spring-forward day "30 2 * * *" has no
// run, and on the fall-back day it runs twice.
func TestRobfigAloneAcrossDST(t *testing.T) {
	spec, err := cron.ParseStandard("30 2 * * *")
	if err != nil {
		t.Fatal(err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Fatal(err)
	}
	if got := spec.Next(utc(2026, 3, 28, 12, 0).In(berlin)); !got.Equal(utc(2026, 3, 30, 0, 30)) {
		t.Errorf("robfig after 28 March: %s, expected it to skip 29 March", got)
	}
	first := spec.Next(utc(2026, 10, 24, 12, 0).In(berlin))
	if second := spec.Next(first); !first.Equal(utc(2026, 10, 25, 0, 30)) || !second.Equal(utc(2026, 10, 25, 1, 30)) {
		t.Errorf("robfig on 25 October: %s then %s, expected 02:30 twice", first, second)
	}
}

// A daily spec runs exactly once on every local day of a year, in zones
// whose clocks change by an hour, by half an hour (Lord Howe) or at
// midnight (Santiago), and its runs only move forward.
func TestDailyRunsOnceEveryDayOfTheYear(t *testing.T) {
	for _, tz := range []string{"Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "America/Santiago", "UTC"} {
		for _, spec := range []string{"30 2 * * *", "0 0 * * *", "45 1 * * *", "0 9 * * *"} {
			t.Run(tz+" "+spec, func(t *testing.T) {
				timing, err := schedule.ParseTiming(spec, tz)
				if err != nil {
					t.Fatal(err)
				}
				days := map[string]bool{}
				at := time.Date(2026, 1, 1, 0, 0, 0, 0, timing.Location()).Add(-time.Second)
				end := time.Date(2027, 1, 1, 0, 0, 0, 0, timing.Location())
				for {
					next := timing.Next(at)
					if !next.After(at) {
						t.Fatalf("Next(%s) = %s, not later", at, next)
					}
					if !next.Before(end) {
						break
					}
					day := next.Format(time.DateOnly)
					if days[day] {
						t.Fatalf("runs twice on %s (again at %s)", day, next.Format("15:04 MST"))
					}
					days[day] = true
					at = next
				}
				if len(days) != 365 {
					t.Fatalf("ran on %d days of 2026, want 365", len(days))
				}
			})
		}
	}
}
