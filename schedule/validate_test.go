package schedule_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// whats is what the router's operation table lets a schedule run (the
// router's own test checks that commands.ScheduleWhats is this).
var whats = schedule.Whats{
	ReadOnly:    []string{schedule.WhatStatus, schedule.WhatBBM, schedule.WhatServices, schedule.WhatUpgradeCheck},
	Destructive: []string{"finalize", "migrate", "restart"},
}

func TestValidate(t *testing.T) {
	hosts := []string{"gitlab-1", "gitlab-2"}
	good := schedule.Schedule{Spec: "0 9 * * 1-5", TZ: "Europe/Berlin", Platform: "slack", Channel: "C1",
		Host: "gitlab-1", What: schedule.WhatStatus, When: schedule.WhenChanged}
	tests := []struct {
		name   string
		change func(*schedule.Schedule)
		want   string // "" accepted; else a part of the refusal
	}{
		{"five fields", func(*schedule.Schedule) {}, ""},
		{"hourly", func(s *schedule.Schedule) { s.Spec = "@hourly" }, ""},
		{"daily", func(s *schedule.Schedule) { s.Spec = "@daily" }, ""},
		{"every 30m", func(s *schedule.Schedule) { s.Spec = "@every 30m" }, ""},
		{"every exactly a minute", func(s *schedule.Schedule) { s.Spec = "@every 1m" }, ""},
		{"utc by default", func(s *schedule.Schedule) { s.TZ = "" }, ""},
		{"all hosts", func(s *schedule.Schedule) { s.Host = "all" }, ""},
		{"default host", func(s *schedule.Schedule) { s.Host = "" }, ""},
		{"when defaults", func(s *schedule.Schedule) { s.When = "" }, ""},
		{"every what", func(s *schedule.Schedule) { s.What = schedule.WhatUpgradeCheck }, ""},

		{"four fields", func(s *schedule.Schedule) { s.Spec = "0 9 * *" }, `cron spec "0 9 * *" is not valid`},
		{"six fields (seconds)", func(s *schedule.Schedule) { s.Spec = "0 0 9 * * *" }, "give five fields"},
		{"bad minute", func(s *schedule.Schedule) { s.Spec = "61 9 * * *" }, "is not valid"},
		{"empty spec", func(s *schedule.Schedule) { s.Spec = " " }, "empty cron spec"},
		{"unknown descriptor", func(s *schedule.Schedule) { s.Spec = "@reboot" }, "is not valid"},
		{"never due", func(s *schedule.Schedule) { s.Spec = "0 0 30 2 *" }, "never comes due"},
		{"CRON_TZ in the spec", func(s *schedule.Schedule) { s.Spec = "CRON_TZ=Europe/Berlin 0 9 * * *" }, "with --tz in chat or tz: in the configuration"},
		{"TZ in the spec", func(s *schedule.Schedule) { s.Spec = "TZ=UTC 0 9 * * *" }, "with --tz in chat or tz: in the configuration"},
		{"TZ without a spec (robfig panics on it)", func(s *schedule.Schedule) { s.Spec = "TZ=UTC" }, "names a time zone"},
		{"every 30s", func(s *schedule.Schedule) { s.Spec = "@every 30s" }, "more often than once a minute: use @every 1m0s or longer"},
		{"every 59s", func(s *schedule.Schedule) { s.Spec = "@every 59s" }, "more often than once a minute"},
		{"control character", func(s *schedule.Schedule) { s.Spec = "0 9 * * *\x1b" }, "not printable"},
		{"too long", func(s *schedule.Schedule) { s.Spec = strings.Repeat("1,", 60) + "2 * * * *" }, "at most 100"},
		{"unknown zone", func(s *schedule.Schedule) { s.TZ = "Europe/Atlantis" }, `unknown time zone "Europe/Atlantis": name an IANA zone`},
		{"Local zone", func(s *schedule.Schedule) { s.TZ = "Local" }, "unknown time zone"},
		{"unknown host", func(s *schedule.Schedule) { s.Host = "gitlab-9" }, `unknown host "gitlab-9": use one of the configured hosts (gitlab-1, gitlab-2) or all`},
		{"unknown when", func(s *schedule.Schedule) { s.When = "sometimes" }, `unknown when "sometimes": use always, changed, problems`},
		{"migrate", func(s *schedule.Schedule) { s.What = "migrate" }, "a schedule can never run migrate: it needs a second person's approval"},
		{"finalize", func(s *schedule.Schedule) { s.What = "finalize" }, "a schedule can never run finalize: it needs a second person's approval"},
		{"restart", func(s *schedule.Schedule) { s.What = "restart" }, "a schedule can never run restart: it needs a second person's approval"},
		{"unknown what", func(s *schedule.Schedule) { s.What = "pending" }, `a schedule cannot run "pending": schedule one of status, bbm, services, upgrade-check`},
		{"no what", func(s *schedule.Schedule) { s.What = "" }, "say what the schedule runs"},
		{"no channel", func(s *schedule.Schedule) { s.Channel = "" }, "needs a platform and a channel"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := good
			tt.change(&s)
			timing, err := schedule.Validate(s, hosts, whats)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				want := s.TZ
				if want == "" {
					want = "UTC"
				}
				if timing.Location().String() != want {
					t.Errorf("zone %s, want %s", timing.Location(), want)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted, want a refusal containing %q", tt.want)
			}
			if !errors.Is(err, schedule.ErrInvalid) {
				t.Errorf("error %v does not wrap ErrInvalid", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("refusal %q does not contain %q", err, tt.want)
			}
		})
	}
}

func TestCheckConfigID(t *testing.T) {
	for id, want := range map[string]string{
		"daily-status": "",
		"nightly_bbm":  "",
		"":             "needs an id",
		"s1":           "has the form of the ids given to schedules added from chat",
		"s42":          "has the form",
		"Daily":        "lower-case letters",
		"daily status": "lower-case letters",
		"1daily":       "starting with a letter",
	} {
		err := schedule.CheckConfigID(id)
		switch {
		case want == "" && err != nil:
			t.Errorf("CheckConfigID(%q) = %v", id, err)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("CheckConfigID(%q) = %v, want %q", id, err, want)
		}
	}
}
