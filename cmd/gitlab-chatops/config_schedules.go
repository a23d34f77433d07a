package main

import (
	"slices"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot/console"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// scheduleConfig is one entry of the configuration's schedules: a
// scheduled post, read-only from chat.
type scheduleConfig struct {
	// ID names it in chat (`schedules run <id>`), e.g. daily-status.
	ID string `yaml:"id"`
	// Spec is a 5-field cron spec or a descriptor (@hourly, @every 30m).
	Spec string `yaml:"spec"`
	// TZ is an IANA zone (Europe/Berlin); empty is UTC.
	TZ string `yaml:"tz"`
	// Platform (slack or mattermost) may be left out when serve connects
	// to one platform only; Channel is the channel ID to post into.
	Platform string `yaml:"platform"`
	Channel  string `yaml:"channel"`
	// Host is a configured host, all, or empty for the default host.
	Host string `yaml:"host"`
	// What is status, bbm, services or upgrade-check.
	What string `yaml:"what"`
	// When is always (default), changed or problems.
	When    string `yaml:"when"`
	CatchUp bool   `yaml:"catch_up"`
}

// checkSchedules records every problem of the schedules: section, each at
// its key path (schedules[0].spec, …), and returns the schedules. Each
// field is checked on its own (schedule.Validate with the other fields
// valid), so a schedule with several mistakes reports each where it is.
//
// platforms are the chat platforms serve connects to; the console (none)
// posts every schedule into its own channel, so there a platform and
// channel are optional and any platform name of ours is accepted.
func checkSchedules(p *configcheck.Problems, list []scheduleConfig, hosts []string, platforms []string) []schedule.Schedule {
	out := make([]schedule.Schedule, 0, len(list))
	ids := map[string]int{}
	for i, sc := range list {
		path := configcheck.Index("schedules", i)
		key := func(k string) string { return configcheck.Join(path, k) }
		switch j, dup := ids[sc.ID]; {
		case schedule.CheckConfigID(sc.ID) != nil:
			p.Addf(key("id"), "%s", schedule.CheckConfigID(sc.ID))
		case dup:
			p.Addf(key("id"), "%q is the id of schedules[%d] too: give each schedule an id of its own", sc.ID, j)
		default:
			ids[sc.ID] = i
		}
		if _, err := schedule.ParseTiming(sc.Spec, ""); err != nil {
			p.Addf(key("spec"), "%s", err)
		}
		if _, err := schedule.ParseTiming("@daily", sc.TZ); err != nil {
			p.Addf(key("tz"), "%s", err)
		}
		// The other fields, each alone in an otherwise valid schedule.
		valid := schedule.Schedule{Spec: "@daily", What: schedule.WhatStatus, Platform: "p", Channel: "c"}
		for _, f := range []struct {
			key string
			set func(*schedule.Schedule)
		}{
			{"what", func(s *schedule.Schedule) { s.What = sc.What }},
			{"when", func(s *schedule.Schedule) { s.When = sc.When }},
			{"host", func(s *schedule.Schedule) { s.Host = sc.Host }},
		} {
			s := valid
			f.set(&s)
			if _, err := schedule.Validate(s, hosts, commands.ScheduleWhats()); err != nil {
				p.Addf(key(f.key), "%s", err)
			}
		}
		platform := checkSchedulePlatform(p, key, sc, platforms)
		out = append(out, schedule.Schedule{ID: sc.ID, Spec: sc.Spec, TZ: sc.TZ, Platform: platform, Channel: sc.Channel,
			Host: sc.Host, What: sc.What, When: sc.When, CatchUp: sc.CatchUp, Source: schedule.SourceConfig})
	}
	return out
}

// checkSchedulePlatform checks a schedule's platform and channel and
// returns the platform it posts to ("" when the console decides).
func checkSchedulePlatform(p *configcheck.Problems, key func(string) string, sc scheduleConfig, platforms []string) string {
	if len(platforms) == 0 {
		// The console stands in for every platform.
		if sc.Platform != "" && !slices.Contains(append(platformNames(), console.Platform), sc.Platform) {
			p.Addf(key("platform"), "%q is not a chat platform: use %s", sc.Platform, strings.Join(platformNames(), " or "))
		}
		return sc.Platform
	}
	platform := sc.Platform
	switch {
	case platform == "" && len(platforms) == 1:
		platform = platforms[0]
	case platform == "":
		p.Addf(key("platform"), "missing: serve connects to %s, so say which one this schedule posts to", strings.Join(platforms, " and "))
	case !slices.Contains(platforms, platform):
		p.Addf(key("platform"), "%q is not a platform serve connects to: use %s (or configure %s:)", platform, strings.Join(platforms, " or "), platform)
		platform = ""
	}
	switch {
	case strings.TrimSpace(sc.Channel) == "":
		p.Addf(key("channel"), "missing: the ID of the channel to post into (invite the bot there)")
	default:
		if ids, ok := idRulesOf(platform); ok {
			checkID(p, key("channel"), sc.Channel, []idRules{ids}, channelID)
		}
	}
	return platform
}

// scheduleHosts are the host names a schedule may name: the configured
// hosts, and the console's simulated one.
func scheduleHosts(hosts []hostConfig, simulate bool) []string {
	var names []string
	for _, h := range hosts {
		if h.Name != "" && !slices.Contains(names, h.Name) { // hosts: reports those
			names = append(names, h.Name)
		}
	}
	if simulate {
		names = append(names, simHostName)
	}
	return names
}
