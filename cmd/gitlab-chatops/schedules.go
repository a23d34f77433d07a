package main

import (
	"fmt"
	"log/slog"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot/console"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/leader"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// newScheduler builds the scheduler of the configured schedules, over the
// store (chat-defined schedules, every schedule's results), running and
// posting through the router, and gives it to the router for `schedules`.
// Its loop (Run) joins serve's or the console's lifetime and fires
// schedules only while lead says this process is leader; nil lead is
// leader.Always, nil claims this process's own (replicas share theirs),
// nil clock the system clock; observe (may be nil) is told each run's
// outcome (metrics).
func newScheduler(configured []schedule.Schedule, store schedule.Store, router *commands.Router, lead leader.Leadership, claims schedule.Claims, clock schedule.Clock, log *slog.Logger, observe func(schedule.Schedule, string)) (*schedule.Scheduler, error) {
	sched, err := schedule.New(schedule.Config{
		Schedules: configured, Hosts: router.HostNames(), Whats: commands.ScheduleWhats(), Store: store, Runner: router, Leadership: lead, Claims: claims, Clock: clock, Logger: log,
		Observe: observe,
	})
	if err != nil {
		return nil, exitError{2, fmt.Errorf("schedules: %w", err)}
	}
	router.UseSchedules(sched)
	return sched, nil
}

// scheduleFlag collects the console's repeatable --schedule "<spec> <what>
// [--when W] [--tz Z] [--host H]".
type scheduleFlag []string

func (f *scheduleFlag) String() string { return strings.Join(*f, "; ") }

func (f *scheduleFlag) Set(v string) error {
	*f = append(*f, v)
	return nil
}

// consoleSchedule reads the n-th (from 1) --schedule value as a schedule
// with the id cN posting into the console's channel. The spec is five
// fields, or a descriptor (@hourly; @every takes its duration too).
func consoleSchedule(n int, v, channel string) (schedule.Schedule, error) {
	s := schedule.Schedule{ID: fmt.Sprintf("c%d", n), Platform: console.Platform, Channel: channel}
	words := strings.Fields(v)
	fields := 5
	switch {
	case len(words) > 0 && words[0] == "@every":
		fields = 2
	case len(words) > 0 && strings.HasPrefix(words[0], "@"):
		fields = 1
	}
	usage := fmt.Sprintf(`--schedule %q: write "<cron spec> <what> [--when always|changed|problems] [--tz ZONE] [--host NAME|all]", e.g. --schedule "@every 1m status --when changed" or --schedule "0 8 * * 1-5 services"`, v)
	if len(words) < fields+1 {
		return s, exitError{2, fmt.Errorf("%s", usage)}
	}
	s.Spec, s.What = strings.Join(words[:fields], " "), words[fields]
	rest := words[fields+1:]
	for i := 0; i < len(rest); i++ {
		name, value, ok := strings.Cut(strings.TrimPrefix(rest[i], "--"), "=")
		if !strings.HasPrefix(rest[i], "--") {
			return s, exitError{2, fmt.Errorf("%s (%q is not one of its options)", usage, rest[i])}
		}
		if !ok {
			if i+1 >= len(rest) {
				return s, exitError{2, fmt.Errorf("%s (--%s needs a value)", usage, name)}
			}
			i++
			value = rest[i]
		}
		switch name {
		case "when":
			s.When = value
		case "tz":
			s.TZ = value
		case "host":
			s.Host = value
		default:
			return s, exitError{2, fmt.Errorf("%s (--%s is not one of its options)", usage, name)}
		}
	}
	return s, nil
}

// consoleSchedules are the schedules the console runs: the configuration
// file's, posting into the console (it stands in for every platform; a
// schedule without a channel posts into the console's), then those of
// --schedule.
func consoleSchedules(configured []schedule.Schedule, flags []string, channel string) ([]schedule.Schedule, error) {
	out := make([]schedule.Schedule, 0, len(configured)+len(flags))
	for _, s := range configured {
		s.Platform = console.Platform
		if s.Channel == "" {
			s.Channel = channel
		}
		out = append(out, s)
	}
	for i, v := range flags {
		s, err := consoleSchedule(i+1, v, channel)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}
