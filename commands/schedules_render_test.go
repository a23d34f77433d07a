package commands

import (
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// TestScheduledMessageGolden: the root post of a scheduled run names the
// schedule and says catch-up, by hand, recovered and what changed before
// the summary; several hosts get a line each.
func TestScheduledMessageGolden(t *testing.T) {
	daily := schedule.Schedule{ID: "daily-status", Spec: "0 8 * * 1-5", TZ: "Europe/Berlin", What: "status", When: schedule.WhenChanged, Platform: "slack", Channel: "C0OPS"}
	one := []hostAnswer{{Host: "gitlab-1", Line: bot.Plain("main: all 1,523 up · ci: all 908 up"), Tone: bot.ToneSuccess}}
	checkMessage(t, "scheduled-recovered", scheduledMessage(daily, bot.Plain("`gitlab-rake db:migrate:status`"), one,
		schedule.Post{Changes: []string{"main: 2 down → all up"}, Recovered: true}))
	every := schedule.Schedule{ID: "s4", Spec: "@every 30m", Host: schedule.AllHosts, What: "services", When: schedule.WhenProblems, Platform: "slack", Channel: "C0OPS", CatchUp: true}
	several := []hostAnswer{
		{Host: "gitlab-1", Line: bot.Plain("all 15 services running"), Tone: bot.ToneSuccess},
		{Host: "gitlab-2", Line: bot.Plain("1 of 15 services not running: puma"), Tone: bot.ToneDanger},
		{Host: "gitlab-3", Line: bot.Plain("could not run: gitlab-3's agent is not answering; check `systemctl status gitlab-chatops-agent` on it."), Tone: bot.ToneDanger},
	}
	checkMessage(t, "scheduled-catchup-all", scheduledMessage(every, bot.Plain("`gitlab-ctl status`"), several,
		schedule.Post{CatchUp: true, Changes: []string{"gitlab-2 services: all running → not running: puma"}}))
	checkMessage(t, "scheduled-manual", scheduledMessage(daily, bot.Plain("`gitlab-rake db:migrate:status`"), one, schedule.Post{Manual: true}))
}

// TestSchedulesListGolden: `schedules` gives each schedule's next run in
// its own zone and its last result; configuration ones are read-only.
func TestSchedulesListGolden(t *testing.T) {
	now := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	entries := []schedule.Entry{
		{Schedule: schedule.Schedule{ID: "daily-status", Spec: "0 8 * * 1-5", TZ: "Europe/Berlin", What: "status", When: schedule.WhenChanged, Platform: "slack", Channel: "C0OPS", Source: schedule.SourceConfig, CatchUp: true},
			Next: time.Date(2026, 3, 3, 7, 0, 0, 0, time.UTC), HasLast: true,
			Last: schedule.Result{At: now.Add(-90 * time.Minute), Facts: map[string]string{"main": "2 down", "ci": "all up"}, Problem: true, Posted: true}},
		{Schedule: schedule.Schedule{ID: "s1", Spec: "@every 30m", Host: schedule.AllHosts, What: "services", When: schedule.WhenProblems, Platform: "slack", Channel: "C0OPS", Source: schedule.SourceChat},
			Next: now.Add(20 * time.Minute), Running: true, HasLast: true,
			Last: schedule.Result{At: now.Add(-10 * time.Minute), Failed: true, Reason: "gitlab-1's agent is not answering; check `systemctl status gitlab-chatops-agent` on it."}},
		{Schedule: schedule.Schedule{ID: "s2", Spec: "@hourly", Host: "gitlab-9", What: "bbm", Platform: "slack", Channel: "C0OPS", Source: schedule.SourceChat},
			Problem: `schedule s2 cannot run: unknown host "gitlab-9": use one of the configured hosts (gitlab-1) or all; remove it with ` + "`schedules remove s2`" + ` and add it again`},
	}
	checkMessage(t, "schedules-list", schedulesMessage(entries, now))
	checkMessage(t, "schedules-none", schedulesMessage(nil, now))
}
