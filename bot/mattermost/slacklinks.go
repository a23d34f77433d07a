package mattermost

import (
	"regexp"
	"strings"
)

// Mattermost still understands Slack's link syntax <url|text> and
// rewrites it to a markdown link [text](url) in what integrations send:
// the text, pretext and field values of every attachment of a command
// response (app.CreateCommandPost calls model.ParseMessageAttachment,
// whatever skip_slack_parsing says, which covers only the top-level text),
// webhooks, and top-level text without skip_slack_parsing. The rule knows
// nothing of code spans, so `/gitlab-migrations <approve|audit|status>`
// arrived as [audit|status](approve). The bot never emits that pattern.
//
// slackLink is the server's own pattern, copied from
// server/public/model/message_attachment.go (linkWithTextRegex, used by
// ParseSlackLinksToMarkdown), the same in v0.4.3 and in Mattermost 9.x;
// slacklinks_test.go checks it against the model package's function.
var slackLink = regexp.MustCompile(`<([^<\|]+)\|([^>]+)>`)

// lookalikePipe (U+2223 DIVIDES) stands in for "|" inside what the server
// would take for a link: it reads the same and is not Slack syntax.
const lookalikePipe = "∣"

// noSlackLinks returns s with every "|" that the server would read as a
// Slack link's separator replaced by lookalikePipe; everything else is
// unchanged, so the result has the same length in runes. Replacing can
// expose a new match (the ">" of one match may open the next), so it runs
// until none is left; each round removes at least one "|".
func noSlackLinks(s string) string {
	if !strings.Contains(s, "|") || !strings.Contains(s, "<") {
		return s
	}
	for slackLink.MatchString(s) {
		s = slackLink.ReplaceAllStringFunc(s, func(m string) string {
			return strings.ReplaceAll(m, "|", lookalikePipe)
		})
	}
	return s
}
