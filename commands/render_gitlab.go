package commands

import (
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// maxListed caps how many items a summary lists before "and N more"; the
// full output goes in the attachment.
const maxListed = 15

// statusMessage summarises db:migrate:status, e.g.
// "main: 1,523 up, 2 down" with the down ones listed, "ci: all 908 up".
func statusMessage(host string, s gitlab.MigrateStatus) bot.Message {
	m := bot.Message{Title: bot.Plain("Migration status on " + host), Tone: bot.ToneSuccess}
	var lines []bot.Text
	for _, d := range s.Databases {
		name := d.Config
		if d.Database != "" && d.Database != d.Config {
			name += " (" + d.Database + ")"
		}
		if d.Down == 0 {
			lines = append(lines, bot.Textf("%s: all %s up", bot.Bold(name), thousands(d.Up)))
			continue
		}
		m.Tone = bot.ToneWarning
		lines = append(lines, bot.Textf("%s: %s up, %s down", bot.Bold(name), thousands(d.Up), thousands(d.Down)))
		down := d.DownRows()
		for i, row := range down {
			if i == maxListed {
				lines = append(lines, bot.Textf("  … and %d more", len(down)-maxListed))
				break
			}
			lines = append(lines, bot.Textf("  • %s %s", bot.Code(row.Version), row.Name))
		}
	}
	if len(s.Databases) == 0 {
		lines = append(lines, bot.Plain("No database sections in the output."))
		m.Tone = bot.ToneWarning
	}
	m.Text = bot.JoinWith("\n", lines...)
	return m
}

// bbmMessage summarises gitlab:background_migrations:status: only what is
// not finished matters for an upgrade.
func bbmMessage(host string, s gitlab.BBMStatus) bot.Message {
	m := bot.Message{Title: bot.Plain("Batched background migrations on " + host), Tone: bot.ToneSuccess}
	total := 0
	for _, d := range s.Databases {
		total += len(d.Migrations)
	}
	pending := s.Pending()
	if len(pending) == 0 {
		m.Text = bot.Textf("All %s finished or finalized: nothing blocks an upgrade.", thousands(total))
		return m
	}
	m.Tone = bot.ToneWarning
	lines := []bot.Text{bot.Textf("%d of %s not finished (they block the next upgrade):", len(pending), thousands(total))}
	for i, p := range pending {
		if i == maxListed {
			lines = append(lines, bot.Textf("… and %d more", len(pending)-maxListed))
			break
		}
		db := ""
		if p.Database != "" {
			db = p.Database + ": "
		}
		lines = append(lines, bot.Textf("• %s%s %s %s.%s %s", db, bot.Bold(p.Status), bot.Code(p.JobClass), p.Table, p.Column, p.JobArguments))
	}
	m.Text = bot.JoinWith("\n", lines...)
	return m
}

// servicesMessage summarises gitlab-ctl status.
func servicesMessage(host string, s gitlab.CtlStatus) bot.Message {
	m := bot.Message{Title: bot.Plain("Services on " + host), Tone: bot.ToneSuccess}
	down := s.Down()
	if len(s.Services) == 0 {
		m.Text = bot.Plain("gitlab-ctl listed no services (an unknown service name prints nothing).")
		m.Tone = bot.ToneWarning
		return m
	}
	switch {
	case len(down) == 0 && len(s.Services) == 1:
		m.Text = bot.Plain(s.Services[0].Name + " is running.")
		return m
	case len(down) == 0:
		m.Text = bot.Textf("All %d services are running.", len(s.Services))
		return m
	}
	m.Tone = bot.ToneDanger
	lines := []bot.Text{bot.Textf("%d of %d services are not running:", len(down), len(s.Services))}
	for _, svc := range down {
		lines = append(lines, bot.Join(bot.Plain("• "), describeService(svc)))
	}
	m.Text = bot.JoinWith("\n", lines...)
	return m
}

func describeService(s gitlab.Service) bot.Text {
	switch s.State {
	case "fail", "warning":
		return bot.Textf("%s: %s (%s)", bot.Bold(s.Name), s.State, s.Message)
	case "down":
		d := fmt.Sprintf(": down for %ds", s.Seconds)
		if s.WantUp {
			d += ", runit keeps restarting it (crash loop?)"
		} else if s.NormallyUp {
			d += ", normally up (stopped by someone?)"
		}
		return bot.Join(bot.Bold(s.Name), bot.Plain(d))
	}
	return bot.Textf("%s: %s", bot.Bold(s.Name), s.State)
}

// thousands formats n with comma separators: 1523 -> "1,523".
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
