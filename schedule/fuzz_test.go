package schedule_test

import (
	"errors"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// FuzzValidate: any spec and zone typed in chat is either refused with
// ErrInvalid or gives a Timing whose next runs move forward; nothing
// panics (robfig/cron panics on some inputs, e.g. "TZ=UTC").
func FuzzValidate(f *testing.F) {
	for _, seed := range [][2]string{
		{"0 9 * * 1-5", "Europe/Berlin"}, {"@every 30m", ""}, {"30 2 * * *", "America/New_York"},
		{"TZ=UTC", ""}, {"CRON_TZ=", ""}, {"0 0 30 2 *", ""}, {"*/7 1-3 * * *", "Australia/Lord_Howe"},
		{"@every 1h1m", "Asia/Kolkata"}, {"0 0 29 2 *", "Pacific/Apia"}, {"5-4 * * * *", ""}, {"@every -1m", ""},
	} {
		f.Add(seed[0], seed[1])
	}
	base := time.Date(2026, 3, 29, 0, 30, 0, 0, time.UTC)
	f.Fuzz(func(t *testing.T, spec, tz string) {
		s := schedule.Schedule{Spec: spec, TZ: tz, Platform: "slack", Channel: "C1", What: schedule.WhatStatus}
		timing, err := schedule.Validate(s, nil, whats)
		if err != nil {
			if !errors.Is(err, schedule.ErrInvalid) || err.Error() == "" {
				t.Fatalf("Validate(%q, %q) = %v, want a sentence wrapping ErrInvalid", spec, tz, err)
			}
			return
		}
		at := base
		for i := range 5 {
			n := timing.Next(at)
			if n.IsZero() {
				// Validate found a run within robfig's five years from
				// now; one from base, months earlier, must exist too.
				if i == 0 {
					t.Fatalf("Validate(%q, %q) accepted it, but Next(%s) is never", spec, tz, at)
				}
				return
			}
			if !n.After(at) {
				t.Fatalf("Validate(%q, %q): Next(%s) = %s, not after", spec, tz, at, n)
			}
			at = n
		}
	})
}
