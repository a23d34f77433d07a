package webhookchat

import (
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

var toneMarker = map[bot.Tone]string{bot.ToneSuccess: "✅ ", bot.ToneWarning: "⚠️ ", bot.ToneDanger: "❌ "}

// Render turns a message into the chat's markdown: a bold title, the
// text, fields one a line, code fenced, mentions as @ID, and each button
// as the command that does what it would.
func Render(m bot.Message) string {
	var parts []string
	if m.Title != "" {
		parts = append(parts, "*"+toneMarker[m.Tone]+m.Title+"*")
	} else if p := toneMarker[m.Tone]; p != "" && m.Text != "" {
		m.Text = p + m.Text
	}
	if m.Text != "" {
		parts = append(parts, m.Text)
	}
	for _, f := range m.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s", f.Label, f.Value))
	}
	if m.Code != "" {
		parts = append(parts, "```\n"+strings.TrimRight(strings.ReplaceAll(m.Code, "```", "'''"), "\n")+"\n```")
	}
	if len(m.Mentions) > 0 {
		parts = append(parts, "cc @"+strings.Join(m.Mentions, " @"))
	}
	for _, b := range m.Buttons {
		parts = append(parts, fmt.Sprintf("To %s, type `/gitlab-migrations %s %s`", strings.ToLower(b.Label), b.ActionID, b.Value))
	}
	if m.Context != "" {
		parts = append(parts, "_"+m.Context+"_")
	}
	return strings.Join(parts, "\n")
}
