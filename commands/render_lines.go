package commands

import (
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// The one-line forms of the read-only summaries, for an answer that gives
// every host one line (`--host all`). Each says what the full summary's
// first lines say, without the host's name and without lists.

// statusLine is e.g. "main: all 1,523 up · ci: 2 down".
func statusLine(s gitlab.MigrateStatus) string {
	if len(s.Databases) == 0 {
		return "no database sections in the output"
	}
	parts := make([]string, len(s.Databases))
	for i, d := range s.Databases {
		if d.Down == 0 {
			parts[i] = fmt.Sprintf("%s: all %s up", d.Config, thousands(d.Up))
		} else {
			parts[i] = fmt.Sprintf("%s: %s down", d.Config, thousands(d.Down))
		}
	}
	return strings.Join(parts, " · ")
}

// bbmLine is e.g. "2 of 40 not finished".
func bbmLine(s gitlab.BBMStatus) string {
	total := 0
	for _, d := range s.Databases {
		total += len(d.Migrations)
	}
	if n := len(s.Pending()); n > 0 {
		return fmt.Sprintf("%d of %s not finished", n, thousands(total))
	}
	return fmt.Sprintf("all %s finished or finalized", thousands(total))
}

// servicesLine is e.g. "1 of 15 services not running: puma".
func servicesLine(s gitlab.CtlStatus) string {
	down := s.Down()
	switch {
	case len(s.Services) == 0:
		return "gitlab-ctl listed no services"
	case len(down) == 0:
		return fmt.Sprintf("all %d services running", len(s.Services))
	}
	names := make([]string, len(down))
	for i, d := range down {
		names[i] = d.Name
	}
	return fmt.Sprintf("%d of %d services not running: %s", len(down), len(s.Services), strings.Join(names, ", "))
}
