package slack

import (
	"strings"
	"unicode/utf8"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Block Kit limits (Slack's block reference). Longer content is cut with a
// visible marker instead of being refused by Slack.
const (
	maxBlocks       = 50
	maxHeaderChars  = 150
	maxSectionChars = 3000
	maxFieldChars   = 2000
	maxFieldsPerSec = 10
	maxContextChars = 2000
	maxButtonLabel  = 75
	maxButtonValue  = 2000
	maxFallback     = 3000
	cutMarker       = "…"
)

// toneMarker stands in for colour: Block Kit has none, and coloured
// attachments are legacy and must be cleared explicitly on every edit.
// Info stays unmarked: its messages carry their own ⏳ or 🔁.
func toneMarker(t bot.Tone) string {
	switch t {
	case bot.ToneSuccess:
		return ":white_check_mark: "
	case bot.ToneWarning:
		return ":warning: "
	case bot.ToneDanger:
		return ":x: "
	}
	return ""
}

// Rendered is a message as Slack takes it: the notification and
// screen-reader fallback text, and the blocks.
type Rendered struct {
	Text   string          `json:"text"`
	Blocks []slackgo.Block `json:"blocks"`
}

// Render turns the neutral message into Block Kit, faithfully and in
// order: title (header), text, fields, code, mentions, buttons, context.
// Everything that came from people is escaped, so a reason that says
// <!channel> shows as text and pings nobody; mentions are the only Slack
// syntax the adapter writes itself.
func Render(m bot.Message) Rendered {
	var blocks []slackgo.Block
	marker := toneMarker(m.Tone)
	if !m.Title.IsEmpty() {
		// plain_text is never parsed for mentions or markup, so the title
		// needs no escaping; emoji:true renders the tone marker.
		blocks = append(blocks, slackgo.NewHeaderBlock(plain(cut(marker+m.Title.PlainString(), maxHeaderChars))))
	}
	if !m.Text.IsEmpty() {
		text := Mrkdwn(m.Text)
		if m.Title.IsEmpty() {
			text = marker + text
		}
		for _, chunk := range split(text, maxSectionChars) {
			blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(chunk), nil, nil))
		}
	}
	blocks = append(blocks, fieldBlocks(m.Fields)...)
	if code := strings.Trim(m.Code, "\n"); code != "" {
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn(codeBlock(code)), nil, nil))
	}
	if mentions := mentionText(m.Mentions); mentions != "" {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn("cc "+mentions)))
	}
	if len(m.Buttons) > 0 {
		blocks = append(blocks, buttonBlock(m.Buttons))
	}
	if !m.Context.IsEmpty() {
		blocks = append(blocks, slackgo.NewContextBlock("", mrkdwn(cut(Mrkdwn(m.Context), maxContextChars))))
	}
	if len(blocks) == 0 {
		// Slack refuses a message with neither text nor blocks.
		blocks = append(blocks, slackgo.NewSectionBlock(mrkdwn("(empty message)"), nil, nil))
	}
	if len(blocks) > maxBlocks {
		// Keep the buttons and context (the end), drop from the middle.
		keep := blocks[len(blocks)-2:]
		blocks = append(blocks[:maxBlocks-3:maxBlocks-3], slackgo.NewContextBlock("", mrkdwn("… message shortened: Slack shows at most 50 blocks")))
		blocks = append(blocks, keep...)
	}
	return Rendered{Text: fallback(m, marker), Blocks: blocks}
}

// fallback is the top-level text: what notifications and screen readers
// show. Mentions go here too, so that approvers are notified.
func fallback(m bot.Message, marker string) string {
	var parts []string
	if !m.Title.IsEmpty() {
		parts = append(parts, marker+escapePlain(m.Title.PlainString()))
	}
	if !m.Text.IsEmpty() {
		t := Mrkdwn(m.Text)
		if m.Title.IsEmpty() {
			t = marker + t
		}
		parts = append(parts, t)
	}
	if len(parts) == 0 && m.Code != "" {
		parts = append(parts, escape(firstLine(m.Code)))
	}
	if len(parts) == 0 && !m.Context.IsEmpty() {
		parts = append(parts, Mrkdwn(m.Context))
	}
	text := cut(strings.Join(parts, "\n"), maxFallback)
	if mentions := mentionText(m.Mentions); mentions != "" {
		text += "\ncc " + mentions
	}
	if text == "" {
		text = "(empty message)"
	}
	return text
}

// fieldBlocks puts consecutive short fields side by side (a section's
// fields, ten at most) and every long field in a section of its own.
func fieldBlocks(fields []bot.Field) []slackgo.Block {
	var (
		out   []slackgo.Block
		short []*slackgo.TextBlockObject
	)
	flush := func() {
		if len(short) > 0 {
			out = append(out, slackgo.NewSectionBlock(nil, short, nil))
			short = nil
		}
	}
	for _, f := range fields {
		text := "*" + escapePlain(f.Label) + "*\n" + Mrkdwn(f.Value)
		if !f.Short {
			flush()
			out = append(out, slackgo.NewSectionBlock(mrkdwn(cut(text, maxSectionChars)), nil, nil))
			continue
		}
		short = append(short, mrkdwn(cut(text, maxFieldChars)))
		if len(short) == maxFieldsPerSec {
			flush()
		}
	}
	flush()
	return out
}

// buttonBlock renders buttons: action_id and value (the opaque request
// ID) exactly as given, nothing else.
func buttonBlock(buttons []bot.Button) slackgo.Block {
	els := make([]slackgo.BlockElement, 0, len(buttons))
	for _, b := range buttons {
		btn := slackgo.NewButtonBlockElement(b.ActionID, cut(b.Value, maxButtonValue), plain(cut(b.Label, maxButtonLabel)))
		switch b.Style {
		case bot.StylePrimary:
			btn = btn.WithStyle(slackgo.StylePrimary)
		case bot.StyleDanger:
			btn = btn.WithStyle(slackgo.StyleDanger)
		}
		els = append(els, btn)
	}
	return slackgo.NewActionBlock("", els...)
}

// codeBlock fences code, keeping its end when it is too long: the end of
// an output is where the error is.
func codeBlock(code string) string {
	const fence = "```\n"
	body := escape(code)
	room := maxSectionChars - 2*utf8.RuneCountInString(fence) - utf8.RuneCountInString(cutMarker+"\n")
	if n := utf8.RuneCountInString(body); n > room {
		r := []rune(body)
		tail := string(r[n-room:])
		if i := strings.IndexByte(tail, '\n'); i >= 0 && i < len(tail)-1 {
			tail = tail[i+1:] // start on a whole line
		}
		body = cutMarker + "\n" + tail
	}
	return fence + body + "\n```"
}

// mentionText renders user IDs as <@U…> and user-group IDs as
// <!subteam^S…>. Anything that is not a plain Slack ID is shown escaped,
// so a malformed ID cannot inject syntax.
func mentionText(ids []string) string {
	var out []string
	for _, id := range ids {
		switch {
		case !isSlackID(id):
			out = append(out, escape(id))
		case id[0] == 'S':
			out = append(out, "<!subteam^"+id+">")
		default:
			out = append(out, "<@"+id+">")
		}
	}
	return strings.Join(out, " ")
}

func isSlackID(s string) bool {
	if len(s) < 2 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if (c < 'A' || c > 'Z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

// escape applies Slack's three mrkdwn escapes, which is all preformatted
// text (a code block) needs.
func escape(s string) string {
	return mrkdwnEscaper.Replace(s)
}

// mrkdwnEscaper is read-only after initialisation (a Replacer is safe for
// concurrent use).
var mrkdwnEscaper = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

func mrkdwn(s string) *slackgo.TextBlockObject {
	// verbatim keeps Slack from turning bare words like @here into
	// mentions; our own <@U…> still work.
	return slackgo.NewTextBlockObject(slackgo.MarkdownType, s, false, true)
}

func plain(s string) *slackgo.TextBlockObject {
	return slackgo.NewTextBlockObject(slackgo.PlainTextType, s, true, false)
}

// cut shortens s to at most n characters, marking the cut, without
// splitting a character or an escape entity.
func cut(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n-1]
	return trimEntity(string(r)) + cutMarker
}

// split breaks s into chunks of at most n characters, at line ends where
// it can.
func split(s string, n int) []string {
	var out []string
	for utf8.RuneCountInString(s) > n {
		r := []rune(s)
		head := string(r[:n])
		if i := strings.LastIndexByte(head, '\n'); i > 0 {
			head = head[:i]
		} else {
			head = trimEntity(head)
		}
		out = append(out, head)
		s = strings.TrimPrefix(s[len(head):], "\n")
	}
	if s != "" {
		out = append(out, s)
	}
	return out
}

// trimEntity drops a trailing, incomplete &amp;-style entity left by a cut.
func trimEntity(s string) string {
	if i := strings.LastIndexByte(s, '&'); i >= 0 && len(s)-i < 5 && !strings.Contains(s[i:], ";") {
		return s[:i]
	}
	return s
}

func firstLine(s string) string {
	s = strings.TrimLeft(s, "\n")
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
