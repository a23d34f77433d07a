package mattermost

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Size limits. A post's message may hold model.PostMessageMaxRunesV2
// (16383) characters; attachment text has no limit of its own but long
// text helps nobody in a thread, and the router attaches long output as a
// file anyway. Cut text is always marked as cut, never dropped silently.
const (
	maxMessageRunes = model.PostMessageMaxRunesV2 - 383
	maxTextRunes    = 8000
	maxCodeRunes    = 6000
	maxFieldRunes   = 2000
	maxFallback     = 300
)

// toneColor maps a tone to an attachment colour: Mattermost accepts good,
// warning, danger or a hex colour.
func toneColor(t bot.Tone) string {
	switch t {
	case bot.ToneInfo:
		return "#2389d7"
	case bot.ToneSuccess:
		return "good"
	case bot.ToneWarning:
		return "warning"
	case bot.ToneDanger:
		return "danger"
	}
	return ""
}

// binding names the post and channel a message's buttons will sit on: the
// buttons' HMAC covers them.
type binding struct{ postID, channelID string }

// rendered is a bot.Message in Mattermost's terms: the post's message and
// its attachments (none for a plain message).
type rendered struct {
	message     string
	attachments []*model.MessageAttachment
}

// render resolves m's mentions to usernames and renders it; buttons need b.
func (a *Adapter) render(ctx context.Context, m bot.Message, b *binding) (rendered, error) {
	var actions []*model.PostAction
	if len(m.Buttons) > 0 {
		if b == nil {
			return rendered{}, fmt.Errorf("mattermost: buttons need the post they sit on")
		}
		actions = a.actions(m.Buttons, *b)
	}
	return renderMessage(m, a.people(ctx, m), actions), nil
}

// renderMessage is the pure renderer. A message that is only text (and
// code) becomes a plain post; anything with a title, fields, tone, small
// print or buttons becomes one attachment, which is what shows a colour
// bar, side-by-side fields and buttons. Mentions go in the post's message,
// above the card: the server looks for mentions there on every version
// (in attachments only in pretext and text), and a later edit without
// them leaves a clean card.
func renderMessage(m bot.Message, p people, actions []*model.PostAction) rendered {
	body := p.bodyMarkdown(m)
	mention := ""
	if len(p.cc) > 0 {
		mention = "cc " + strings.Join(p.cc, " ")
	}
	if !needsAttachment(m) {
		msg := joinNonEmpty("\n\n", body, mention)
		if msg == "" {
			msg = "(empty message)"
		}
		return rendered{message: noSlackLinks(truncateRunes(msg, maxMessageRunes))}
	}
	return rendered{message: mention, attachments: []*model.MessageAttachment{p.attachmentOf(m, actions)}}
}

// attachmentOf renders m as one attachment, whatever it holds.
func (p people) attachmentOf(m bot.Message, actions []*model.PostAction) *model.MessageAttachment {
	att := &model.MessageAttachment{
		Fallback: p.fallback(m),
		Color:    toneColor(m.Tone),
		Title:    p.plainOf(m.Title),
		Text:     noSlackLinks(p.bodyMarkdown(m)),
		Footer:   smallPrint(p.plainOf(m.Context)),
		Actions:  actions,
	}
	for _, f := range m.Fields {
		att.Fields = append(att.Fields, &model.MessageAttachmentField{
			Title: f.Label,
			Value: noSlackLinks(truncateRunes(p.markdownOf(f.Value), maxFieldRunes)),
			Short: model.SlackCompatibleBool(f.Short),
		})
	}
	return att
}

func needsAttachment(m bot.Message) bool {
	return !m.Title.IsEmpty() || len(m.Fields) > 0 || m.Tone != bot.ToneNone || !m.Context.IsEmpty() || len(m.Buttons) > 0
}

// bodyMarkdown is the text followed by the code block.
func (p people) bodyMarkdown(m bot.Message) string {
	text := truncateRunes(strings.TrimRight(p.markdownOf(m.Text), "\n"), maxTextRunes)
	return joinNonEmpty("\n", text, codeBlock(m.Code))
}

// codeBlock fences code with more backticks than it contains, keeping the
// end of long code (the end of output is what explains a failure).
func codeBlock(code string) string {
	code = strings.TrimRight(code, "\n")
	if strings.TrimSpace(code) == "" {
		return ""
	}
	if n := utf8.RuneCountInString(code); n > maxCodeRunes {
		r := []rune(code)
		code = fmt.Sprintf("… (%d characters cut)\n%s", n-maxCodeRunes, string(r[n-maxCodeRunes:]))
	}
	fence := strings.Repeat("`", max(3, longestRun(code, '`')+1))
	return fence + "\n" + code + "\n" + fence
}

// markdownText renders the whole message as one markdown text, for the
// places that take only text (ephemeral_text of a button response).
func markdownText(m bot.Message, p people) string {
	var parts []string
	if !m.Title.IsEmpty() {
		parts = append(parts, bot.Enclose("**", escapeMarkdown(p.plainOf(m.Title), false)))
	}
	parts = append(parts, p.bodyMarkdown(m))
	for _, f := range m.Fields {
		parts = append(parts, fmt.Sprintf("**%s:** %s", escapeMarkdown(f.Label, false), truncateRunes(p.markdownOf(f.Value), maxFieldRunes)))
	}
	if !m.Context.IsEmpty() {
		parts = append(parts, bot.Enclose("_", p.markdownOf(m.Context)))
	}
	if len(p.cc) > 0 {
		parts = append(parts, "cc "+strings.Join(p.cc, " "))
	}
	return noSlackLinks(truncateRunes(joinNonEmpty("\n", parts...), maxMessageRunes))
}

// fallback is the plain text shown where attachments are not (push
// notifications, some clients).
func (p people) fallback(m bot.Message) string {
	s := p.plainOf(m.Title)
	if s == "" {
		s, _, _ = strings.Cut(strings.TrimSpace(p.plainOf(m.Text)), "\n")
	}
	return truncateRunes(s, maxFallback)
}

// smallPrint is the context line for an attachment footer, which clients
// show as plain text.
func smallPrint(s string) string {
	return truncateRunes(strings.TrimSpace(s), maxFallback)
}

func longestRun(s string, c byte) int {
	best, cur := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			cur++
			best = max(best, cur)
		} else {
			cur = 0
		}
	}
	return best
}

// truncateRunes cuts s to at most n characters, saying how many were cut.
func truncateRunes(s string, n int) string {
	count := utf8.RuneCountInString(s)
	if count <= n {
		return s
	}
	note := fmt.Sprintf(" … (%d characters cut)", count)
	keep := max(n-utf8.RuneCountInString(note), 0)
	r := []rune(s)
	return string(r[:keep]) + fmt.Sprintf(" … (%d characters cut)", count-keep)
}

func joinNonEmpty(sep string, parts ...string) string {
	var keep []string
	for _, p := range parts {
		if strings.TrimSpace(p) != "" {
			keep = append(keep, p)
		}
	}
	return strings.Join(keep, sep)
}
