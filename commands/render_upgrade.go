package commands

import (
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// upgradeMessage renders an upgrade-check verdict as the thread reply: the
// verdict, every reason with the line that fixes it (in the order to fix
// them), then what each part found.
func upgradeMessage(v UpgradeVerdict) bot.Message {
	m := bot.Message{Title: fmt.Sprintf("Upgrade check on %s: %s", v.Host, v.Verdict)}
	var lines []string
	switch v.Verdict {
	case UpgradeReady:
		m.Tone = bot.ToneSuccess
		lines = append(lines, "*READY*: no schema migration is down, every batched background migration is finished and every service runs.")
	case UpgradeNotReady:
		m.Tone = bot.ToneDanger
		fix := "fix them top to bottom"
		if len(v.Reasons) == 1 {
			fix = "fix it"
		}
		lines = append(lines, fmt.Sprintf("*NOT READY*: %s; %s, then check again.", plural(len(v.Reasons), "reason"), fix))
	default:
		m.Tone = bot.ToneWarning
		lines = append(lines, "*NOT READY (cannot tell)*: nothing found blocks an upgrade, but not everything could be checked, so this is no READY.")
	}
	for _, r := range v.Reasons {
		lines = append(lines, "• "+r.Text)
		switch {
		case r.Fix != "":
			lines = append(lines, "   → `"+r.Fix+"`")
		case r.OnHost != "":
			lines = append(lines, fmt.Sprintf("   → on %s: `%s`", v.Host, r.OnHost))
		}
	}
	m.Text = strings.Join(lines, "\n")
	for _, p := range v.Parts {
		m.Fields = append(m.Fields, bot.Field{Label: titleCase(p.Name), Value: p.Found, Short: true})
	}
	if !v.Taken.IsZero() {
		m.Context = takenAt(v.Taken, false)
	}
	return m
}
