package slack

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Mrkdwn renders structured text as Slack mrkdwn. Plain text is what
// people typed as much as what the router wrote, so it is escaped: the
// three entities, and the formatting characters *, _, ~ and ` replaced by
// look-alikes (mrkdwn has no escape for them). With verbatim text objects
// and <, > escaped, nothing in plain text can link or ping (@here,
// <!channel>); mentions and dates are syntax only the adapter writes.
func Mrkdwn(t bot.Text) string {
	var b strings.Builder
	for _, s := range t {
		switch s.Kind {
		case bot.SpanPlain:
			b.WriteString(escapePlain(s.Text))
		case bot.SpanBold:
			b.WriteString(bot.Enclose("*", escapePlain(s.Text)))
		case bot.SpanCode:
			// Inside a code span nothing formats; only a backtick would
			// end it early.
			b.WriteString(bot.Enclose("`", strings.ReplaceAll(escape(s.Text), "`", "ˋ")))
		case bot.SpanLink:
			b.WriteString(link(s.URL, s.Text))
		case bot.SpanMention:
			b.WriteString(mentionText([]string{s.ID}))
		case bot.SpanTime:
			b.WriteString(date(s))
		case bot.SpanPre:
			b.WriteString("```\n" + escape(strings.Trim(s.Text, "\n")) + "\n```")
		}
	}
	return b.String()
}

// escapePlain makes text inert in mrkdwn: the three entities, and *, ~
// and ` replaced by look-alikes. An underscore is replaced only where it
// could open or close italics (next to a space, punctuation or an end):
// inside a word (slack.bot_token, gitlabhq_production) Slack never
// formats it, and it stays as typed there, so it can be copied.
func escapePlain(s string) string {
	if !strings.ContainsAny(s, "&<>*_~`") {
		return s
	}
	var b strings.Builder
	rs := []rune(s)
	for i, r := range rs {
		switch r {
		case '&':
			b.WriteString("&amp;")
		case '<':
			b.WriteString("&lt;")
		case '>':
			b.WriteString("&gt;")
		case '*':
			b.WriteRune('∗') // U+2217 ASTERISK OPERATOR
		case '~':
			b.WriteRune('∼') // U+223C TILDE OPERATOR
		case '`':
			b.WriteRune('ˋ') // U+02CB MODIFIER LETTER GRAVE ACCENT
		case '_':
			if i > 0 && i < len(rs)-1 && wordRune(rs[i-1]) && wordRune(rs[i+1]) {
				b.WriteRune('_')
			} else {
				b.WriteRune('ˍ') // U+02CD MODIFIER LETTER LOW MACRON
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func wordRune(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }

// link is <URL|label>. The URL is the router's (a permalink, a
// configured address); | and > are percent-encoded so that it cannot end
// early, and the label is plain text.
func link(url, label string) string {
	u := strings.NewReplacer("&", "&amp;", "<", "%3C", ">", "%3E", "|", "%7C", " ", "%20").Replace(url)
	if label == "" || label == url {
		return "<" + u + ">"
	}
	return "<" + u + "|" + strings.ReplaceAll(escapePlain(label), "|", "¦") + ">"
}

// date shows a moment in the reader's own time zone (Slack's date
// formatting); the fallback, for clients that cannot, is UTC named.
func date(s bot.Span) string {
	token := "{time_secs}"
	switch s.Style {
	case bot.ClockMinutes:
		token = "{time}"
	case bot.DateClock:
		token = "{date_num} {time_secs}"
	}
	return fmt.Sprintf("<!date^%d^%s|%s>", s.At.Unix(), token, s.UTC())
}
