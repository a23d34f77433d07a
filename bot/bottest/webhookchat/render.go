package webhookchat

import (
	"fmt"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

var toneMarker = map[bot.Tone]string{bot.ToneSuccess: "✅ ", bot.ToneWarning: "⚠️ ", bot.ToneDanger: "❌ "}

// Render turns a message into the chat's markdown: a bold title, the
// text, fields one a line, code fenced, mentions as @ID, and each button
// as the command that does what it would. Plain text is escaped.
func Render(m bot.Message) string {
	var parts []string
	text := markdown(m.Text)
	if !m.Title.IsEmpty() {
		parts = append(parts, "*"+toneMarker[m.Tone]+escape(m.Title.PlainString())+"*")
	} else if p := toneMarker[m.Tone]; p != "" && text != "" {
		text = p + text
	}
	if text != "" {
		parts = append(parts, text)
	}
	for _, f := range m.Fields {
		parts = append(parts, fmt.Sprintf("%s: %s", escape(f.Label), markdown(f.Value)))
	}
	if m.Code != "" {
		parts = append(parts, fence(m.Code))
	}
	if len(m.Mentions) > 0 {
		parts = append(parts, "cc @"+strings.Join(m.Mentions, " @"))
	}
	for _, b := range m.Buttons {
		parts = append(parts, fmt.Sprintf("To %s, type `/gitlab-migrations %s %s`", strings.ToLower(b.Label), b.ActionID, b.Value))
	}
	if !m.Context.IsEmpty() {
		parts = append(parts, "_"+markdown(m.Context)+"_")
	}
	return strings.Join(parts, "\n")
}

// markdown renders structured text in the chat's markdown.
func markdown(t bot.Text) string {
	var b strings.Builder
	for _, s := range t {
		switch s.Kind {
		case bot.SpanPlain:
			b.WriteString(escape(s.Text))
		case bot.SpanBold:
			b.WriteString("*" + escape(s.Text) + "*")
		case bot.SpanCode:
			b.WriteString("`" + strings.ReplaceAll(s.Text, "`", "'") + "`")
		case bot.SpanPre:
			b.WriteString(fence(s.Text))
		case bot.SpanLink:
			b.WriteString("[" + escape(s.Text) + "](" + s.URL + ")")
		case bot.SpanMention:
			b.WriteString("@" + s.ID)
		case bot.SpanTime:
			b.WriteString(s.UTC())
		}
	}
	return b.String()
}

func fence(code string) string {
	return "```\n" + strings.TrimRight(strings.ReplaceAll(code, "```", "'''"), "\n") + "\n```"
}

// escape makes plain text inert: markdown characters get a backslash, and
// an @ is shown full-width so that nothing pings.
func escape(s string) string { return escaper.Replace(s) }

var escaper = strings.NewReplacer(`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`", "[", `\[`, "]", `\]`, "@", "＠")
