package console

import (
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// tonePrefix marks a message's tone for terminals without colour.
var tonePrefix = map[bot.Tone]string{
	bot.ToneSuccess: "✔ ",
	bot.ToneWarning: "⚠ ",
	bot.ToneDanger:  "✖ ",
}

// Render turns a message into plain text lines, each prefixed with indent.
// Buttons are shown with the console command that clicks them.
func Render(m bot.Message, indent string) string {
	var b strings.Builder
	line := func(s string) {
		for _, l := range strings.Split(s, "\n") {
			b.WriteString(strings.TrimRight(indent+l, " "))
			b.WriteByte('\n')
		}
	}
	if m.Title != "" {
		line(tonePrefix[m.Tone] + strings.ToUpper(m.Title))
	} else if p := tonePrefix[m.Tone]; p != "" && m.Text != "" {
		m.Text = p + m.Text
	}
	if m.Text != "" {
		line(m.Text)
	}
	for _, f := range m.Fields {
		line(fmt.Sprintf("%s: %s", f.Label, f.Value))
	}
	if m.Code != "" {
		line("```")
		line(strings.TrimRight(m.Code, "\n"))
		line("```")
	}
	if len(m.Mentions) > 0 {
		line("cc " + "@" + strings.Join(m.Mentions, " @"))
	}
	if len(m.Buttons) > 0 {
		var btns, how []string
		for _, bt := range m.Buttons {
			btns = append(btns, "[ "+bt.Label+" ]")
			how = append(how, fmt.Sprintf("click %s %s", bt.ActionID, bt.Value))
		}
		line(strings.Join(btns, " ") + "   (type: NAME: " + strings.Join(how, " | ") + ")")
	}
	if m.Context != "" {
		line("· " + m.Context)
	}
	return b.String()
}
