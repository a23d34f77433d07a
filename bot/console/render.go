package console

import (
	"fmt"
	"strings"
	"unicode"

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
	text := Text(m.Text)
	if !m.Title.IsEmpty() {
		line(tonePrefix[m.Tone] + strings.ToUpper(Text(m.Title)))
	} else if p := tonePrefix[m.Tone]; p != "" && text != "" {
		text = p + text
	}
	if text != "" {
		line(text)
	}
	for _, f := range m.Fields {
		line(fmt.Sprintf("%s: %s", f.Label, Text(f.Value)))
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
	if !m.Context.IsEmpty() {
		line("· " + Text(m.Context))
	}
	return b.String()
}

// Text renders structured text for a terminal: plain text as it is, bold
// as *bold* (plain-text emphasis), code in backticks, a link as "label (URL)", a mention as @ID,
// a time in UTC. A terminal formats nothing, but it obeys control
// characters: those (an escape sequence in a name or a reason) are
// dropped, line breaks and tabs kept.
func Text(t bot.Text) string {
	var b strings.Builder
	for _, s := range t {
		switch s.Kind {
		case bot.SpanBold:
			b.WriteString("*" + s.Text + "*")
		case bot.SpanCode:
			b.WriteString("`" + s.Text + "`")
		case bot.SpanPre:
			b.WriteString("```\n" + strings.Trim(s.Text, "\n") + "\n```")
		default:
			b.WriteString(bot.Text{s}.PlainString())
		}
	}
	return strings.Map(noControl, b.String())
}

func noControl(r rune) rune {
	if r == '\n' || r == '\t' || !unicode.IsControl(r) {
		return r
	}
	return -1
}
