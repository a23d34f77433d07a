package commands

import (
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// upgradeMessage renders an upgrade-check verdict as the thread reply: the
// verdict, every reason with the line that fixes it (in the order to fix
// them), then what each part found.
func upgradeMessage(v UpgradeVerdict) bot.Message {
	m := bot.Message{Title: bot.Textf("Upgrade check on %s: %s", v.Host, v.Verdict)}
	var lines []bot.Text
	switch v.Verdict {
	case UpgradeReady:
		m.Tone = bot.ToneSuccess
		lines = append(lines, bot.Join(bot.Bold("READY"), bot.Plain(": no schema migration is down, every batched background migration is finished and every service runs.")))
	case UpgradeNotReady:
		m.Tone = bot.ToneDanger
		fix := "fix them top to bottom"
		if len(v.Reasons) == 1 {
			fix = "fix it"
		}
		lines = append(lines, bot.Textf("%s: %s; %s, then check again.", bot.Bold("NOT READY"), plural(len(v.Reasons), "reason"), fix))
	default:
		m.Tone = bot.ToneWarning
		lines = append(lines, bot.Join(bot.Bold("NOT READY (cannot tell)"), bot.Plain(": nothing found blocks an upgrade, but not everything could be checked, so this is no READY.")))
	}
	for _, r := range v.Reasons {
		lines = append(lines, bot.Join(bot.Plain("• "), r.Text))
		switch {
		case r.Fix != "":
			lines = append(lines, bot.Join(bot.Plain("   → "), bot.Code(r.Fix)))
		case r.OnHost != "":
			lines = append(lines, bot.Textf("   → on %s: %s", v.Host, bot.Code(r.OnHost)))
		}
	}
	m.Text = bot.JoinWith("\n", lines...)
	for _, p := range v.Parts {
		m.Fields = append(m.Fields, bot.Field{Label: titleCase(p.Name), Value: bot.Sentence(p.Found), Short: true})
	}
	if !v.Taken.IsZero() {
		m.Context = takenAt(v.Taken, false)
	}
	return m
}
