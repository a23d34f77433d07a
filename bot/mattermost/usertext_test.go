package mattermost

import (
	"regexp"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// hostileReason is what a requester might type to format, link or ping
// through the bot: markdown's characters, Slack's link syntax (which the
// server rewrites into a markdown link), a markdown link and broadcast
// mentions.
const hostileReason = "fix *_~`<>&@here* now _it_ ~s~ `x` <!channel> @channel @all <https://x|y> [z](https://evil) a_b"

// unescapeMarkdown undoes what escapeMarkdown and noSlackLinks did, to
// compare with what was typed.
var unescapeMarkdown = strings.NewReplacer(`\\`, `\`, `\*`, "*", `\_`, "_", `\~`, "~", "\\`", "`", `\[`, "[", `\]`, "]", "＠", "@", lookalikePipe, "|")

// liveMention is a mention the server would notify (it finds them in the
// raw text, whatever markdown says).
var liveMention = regexp.MustCompile(`(^|[^\pL\pN_])@(here|channel|all|[a-z0-9])`)

// TestUserTextIsShownLiterallyAndPingsNobody: a reason in a post's
// message, an attachment's text, field and footer, and a button
// response's ephemeral text comes out inert: every markdown character
// escaped, no @mention the server would notify, nothing the server turns
// into a link (ParseSlackLinksToMarkdown leaves it alone), and unescaping
// gives back exactly what was typed.
func TestUserTextIsShownLiterallyAndPingsNobody(t *testing.T) {
	card := bot.Message{
		Title:   bot.Plain("Denied"),
		Text:    bot.Join(bot.Bold("DENIED"), bot.Plain(": "+hostileReason)),
		Fields:  []bot.Field{{Label: "Reason", Value: bot.Plain(hostileReason)}},
		Context: bot.Plain(hostileReason),
		Tone:    bot.ToneDanger,
	}
	att := renderMessage(card, people{}, nil).attachments[0]
	plainPost := renderMessage(bot.Message{Text: bot.Plain(hostileReason)}, people{}, nil).message
	markdowns := map[string]string{
		"attachment text": strings.TrimPrefix(att.Text, "**DENIED**: "),
		"field":           att.Fields[0].Value.(string),
		"post message":    plainPost,
		"ephemeral text":  strings.TrimPrefix(strings.Split(markdownText(card, people{}), "\n")[2], "**Reason:** "),
	}
	for where, md := range markdowns {
		if got := unescapeMarkdown.Replace(md); got != hostileReason {
			t.Errorf("%s does not show the reason literally:\n got %q\nfrom %q", where, got, md)
		}
		if m := liveMention.FindString(md); m != "" {
			t.Errorf("%s would notify %q: %q", where, m, md)
		}
		if model.ParseSlackLinksToMarkdown(md) != md {
			t.Errorf("%s: the server would turn a Slack link into a markdown link: %q", where, md)
		}
		for i, r := range md {
			if strings.ContainsRune("*_~`[]", r) && (i == 0 || md[i-1] != '\\') {
				t.Errorf("%s: %q at %d is not escaped: %q", where, r, i, md)
			}
		}
	}
	// Footers and titles are plain text to the server: as typed, only
	// the Slack-link separator broken so that no link can be smuggled.
	if att.Footer != hostileReason || att.Title != "Denied" {
		t.Errorf("footer %q, title %q", att.Footer, att.Title)
	}
}
