package commands

import (
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// maxListed caps how many items a summary lists before "and N more"; the
// full output goes in the attachment.
const maxListed = 15

// statusMessage summarises db:migrate:status, e.g.
// "main: 1,523 up, 2 down" with the down ones listed, "ci: all 908 up".
func statusMessage(host string, s gitlab.MigrateStatus) bot.Message {
	m := bot.Message{Title: "Migration status on " + host, Tone: bot.ToneSuccess}
	var lines []string
	for _, d := range s.Databases {
		name := d.Config
		if d.Database != "" && d.Database != d.Config {
			name += " (" + d.Database + ")"
		}
		if d.Down == 0 {
			lines = append(lines, fmt.Sprintf("*%s*: all %s up", name, thousands(d.Up)))
			continue
		}
		m.Tone = bot.ToneWarning
		lines = append(lines, fmt.Sprintf("*%s*: %s up, %s down", name, thousands(d.Up), thousands(d.Down)))
		down := d.DownRows()
		for i, row := range down {
			if i == maxListed {
				lines = append(lines, fmt.Sprintf("  … and %d more", len(down)-maxListed))
				break
			}
			lines = append(lines, fmt.Sprintf("  • `%s` %s", row.Version, row.Name))
		}
	}
	if len(s.Databases) == 0 {
		lines = append(lines, "No database sections in the output.")
		m.Tone = bot.ToneWarning
	}
	m.Text = strings.Join(lines, "\n")
	return m
}

// bbmMessage summarises gitlab:background_migrations:status: only what is
// not finished matters for an upgrade.
func bbmMessage(host string, s gitlab.BBMStatus) bot.Message {
	m := bot.Message{Title: "Batched background migrations on " + host, Tone: bot.ToneSuccess}
	total := 0
	for _, d := range s.Databases {
		total += len(d.Migrations)
	}
	pending := s.Pending()
	if len(pending) == 0 {
		m.Text = fmt.Sprintf("All %s finished or finalized: nothing blocks an upgrade.", thousands(total))
		return m
	}
	m.Tone = bot.ToneWarning
	lines := []string{fmt.Sprintf("%d of %s not finished (they block the next upgrade):", len(pending), thousands(total))}
	for i, p := range pending {
		if i == maxListed {
			lines = append(lines, fmt.Sprintf("… and %d more", len(pending)-maxListed))
			break
		}
		db := ""
		if p.Database != "" {
			db = p.Database + ": "
		}
		lines = append(lines, fmt.Sprintf("• %s*%s* `%s` %s.%s %s", db, p.Status, p.JobClass, p.Table, p.Column, p.JobArguments))
	}
	m.Text = strings.Join(lines, "\n")
	return m
}

// servicesMessage summarises gitlab-ctl status.
func servicesMessage(host string, s gitlab.CtlStatus) bot.Message {
	m := bot.Message{Title: "Services on " + host, Tone: bot.ToneSuccess}
	down := s.Down()
	if len(s.Services) == 0 {
		m.Text = "gitlab-ctl listed no services (an unknown service name prints nothing)."
		m.Tone = bot.ToneWarning
		return m
	}
	switch {
	case len(down) == 0 && len(s.Services) == 1:
		m.Text = s.Services[0].Name + " is running."
		return m
	case len(down) == 0:
		m.Text = fmt.Sprintf("All %d services are running.", len(s.Services))
		return m
	}
	m.Tone = bot.ToneDanger
	lines := []string{fmt.Sprintf("%d of %d services are not running:", len(down), len(s.Services))}
	for _, svc := range down {
		lines = append(lines, "• "+describeService(svc))
	}
	m.Text = strings.Join(lines, "\n")
	return m
}

func describeService(s gitlab.Service) string {
	switch s.State {
	case "fail", "warning":
		return fmt.Sprintf("*%s*: %s (%s)", s.Name, s.State, s.Message)
	case "down":
		d := fmt.Sprintf("*%s*: down for %ds", s.Name, s.Seconds)
		if s.WantUp {
			d += ", runit keeps restarting it (crash loop?)"
		} else if s.NormallyUp {
			d += ", normally up (stopped by someone?)"
		}
		return d
	}
	return fmt.Sprintf("*%s*: %s", s.Name, s.State)
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
