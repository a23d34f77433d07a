package mattermost

import (
	"context"
	"regexp"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// people is how a message's mentions read on Mattermost: the cc line's
// names (Message.Mentions) and the name of every mention span, resolved
// before rendering so that the renderers stay pure.
type people struct {
	cc    []string
	names map[string]string // ID -> @username or ~channel
}

// people resolves m's mentions.
func (a *Adapter) people(ctx context.Context, m bot.Message) people {
	p := people{cc: a.mentions(ctx, m.Mentions)}
	texts := []bot.Text{m.Title, m.Text, m.Context}
	for _, f := range m.Fields {
		texts = append(texts, f.Value)
	}
	for _, t := range texts {
		for _, s := range t {
			if s.Kind != bot.SpanMention || p.names[s.ID] != "" {
				continue
			}
			if p.names == nil {
				p.names = map[string]string{}
			}
			if n := a.mentions(ctx, []string{s.ID}); len(n) == 1 {
				p.names[s.ID] = n[0]
			}
		}
	}
	return p
}

// markdownOf renders structured text as Mattermost markdown. Plain text
// is escaped: markdown's inline characters get a backslash, a line cannot
// start a heading, list or quote, and an @ before a word is shown as a
// full-width ＠, because the server finds mentions (@channel, @here) in
// the raw text whatever markdown says. Slack-style <url|text> links are
// broken by the callers (noSlackLinks) on the whole result.
func (p people) markdownOf(t bot.Text) string {
	var b strings.Builder
	for _, s := range t {
		lineStart := b.Len() == 0 || strings.HasSuffix(b.String(), "\n")
		switch s.Kind {
		case bot.SpanPlain:
			b.WriteString(escapeMarkdown(s.Text, lineStart))
		case bot.SpanBold:
			b.WriteString(bot.Enclose("**", escapeMarkdown(s.Text, false)))
		case bot.SpanCode:
			b.WriteString(codeSpan(s.Text))
		case bot.SpanLink:
			label := s.Text
			if label == "" {
				label = s.URL
			}
			url := strings.NewReplacer(" ", "%20", "(", "%28", ")", "%29", "<", "%3C", ">", "%3E").Replace(s.URL)
			b.WriteString("[" + escapeMarkdown(label, false) + "](" + url + ")")
		case bot.SpanMention:
			if n := p.names[s.ID]; n != "" {
				b.WriteString(n)
			} else {
				b.WriteString(codeSpan(s.ID))
			}
		case bot.SpanTime:
			b.WriteString(s.UTC())
		case bot.SpanPre:
			if !lineStart {
				b.WriteString("\n")
			}
			b.WriteString(codeBlock(s.Text))
		}
	}
	return b.String()
}

// plainOf is structured text where Mattermost shows no markdown
// (attachment titles, footers, field titles, notifications).
func (p people) plainOf(t bot.Text) string {
	var b strings.Builder
	for _, s := range t {
		if s.Kind == bot.SpanMention && p.names[s.ID] != "" {
			b.WriteString(p.names[s.ID])
			continue
		}
		b.WriteString(bot.Text{s}.PlainString())
	}
	return b.String()
}

// codeSpan fences s with more backticks than it holds in a row.
func codeSpan(s string) string {
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if strings.HasPrefix(s, "`") || strings.HasSuffix(s, "`") {
		return fence + " " + s + " " + fence
	}
	return fence + s + fence
}

// mdEscaper backslash-escapes the characters that format inline.
var mdEscaper = strings.NewReplacer(
	`\`, `\\`, "*", `\*`, "_", `\_`, "~", `\~`, "`", "\\`",
	"[", `\[`, "]", `\]`,
)

// blockStart matches what makes a line a heading, list item, quote or
// table rule in markdown.
var blockStart = regexp.MustCompile(`(?m)^([ \t]*)([#>+=-]|\d+)([.)]?)`)

// atWord matches an @ that the server would take for a mention.
var atWord = regexp.MustCompile(`@([\pL\pN_])`)

func escapeMarkdown(s string, lineStart bool) string {
	s = atWord.ReplaceAllString(mdEscaper.Replace(s), "＠$1")
	if !lineStart {
		// Only lines after a line break begin here.
		head, rest, ok := strings.Cut(s, "\n")
		if !ok {
			return s
		}
		return head + "\n" + blockStart.ReplaceAllStringFunc(rest, escapeBlockStart)
	}
	return blockStart.ReplaceAllStringFunc(s, escapeBlockStart)
}

// escapeBlockStart escapes a line's block marker: "# x" -> "\# x",
// "1. x" -> "1\. x"; a number without "." or ")" is left alone.
func escapeBlockStart(m string) string {
	sub := blockStart.FindStringSubmatch(m)
	indent, marker, after := sub[1], sub[2], sub[3]
	if marker[0] >= '0' && marker[0] <= '9' {
		if after == "" {
			return m
		}
		return indent + marker + `\` + after
	}
	return indent + `\` + marker + after
}
