package schedule_test

import (
	"testing"
	"time"

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
			// robfig/cron's behaviour, kept and documented on Timing.Next:
			// 02:30 does not exist on 29 March in Berlin, so that day has
			// no run.
			name: "02:30 Berlin is skipped on the spring-forward day",
			spec: "30 2 * * *", tz: "Europe/Berlin", from: utc(2026, 3, 27, 12, 0),
			want: []time.Time{utc(2026, 3, 28, 1, 30), utc(2026, 3, 30, 0, 30)},
			wall: "02:30",
		},
		{
			name: "02:30 New York is skipped on the spring-forward day",
			spec: "30 2 * * *", tz: "America/New_York", from: utc(2026, 3, 7, 0, 0),
			want: []time.Time{utc(2026, 3, 7, 7, 30), utc(2026, 3, 9, 6, 30)},
			wall: "02:30",
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
				if tt.wall != "" && at.Format("15:04") != tt.wall {
					t.Errorf("run %d at %s wall clock, want %s", i+1, at.Format("15:04 MST"), tt.wall)
				}
			}
		})
	}
}
