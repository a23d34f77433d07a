package slack

import (
	"encoding/json"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// hostileReason is what a requester might type to format, link or ping
// through the bot: every mrkdwn character, Slack's own syntax, a link
// that hides its target, and broadcast mentions.
const hostileReason = "fix *_~`<>&@here* now _it_ ~s~ `x` <!channel> <!here|here> <@U0BOSS> <https://x|y> a_b"

// TestUserTextIsShownLiterallyAndPingsNobody: a reason goes through every
// place a Slack message shows text (section, field, context, fallback)
// and comes out inert: no formatting character survives, nothing is
// Slack syntax (<!…>, <@…>, <url|label>), verbatim is set so that Slack
// links no bare @here, and decoding the look-alikes and entities gives
// back exactly what was typed.
func TestUserTextIsShownLiterallyAndPingsNobody(t *testing.T) {
	m := bot.Message{
		Title:   bot.Plain("Denied: " + hostileReason),
		Text:    bot.Join(bot.Bold("DENIED"), bot.Plain(": "+hostileReason)),
		Fields:  []bot.Field{{Label: "Reason", Value: bot.Plain(hostileReason)}, {Label: "Short", Value: bot.Plain(hostileReason), Short: true}},
		Context: bot.Plain(hostileReason),
	}
	r := Render(m)
	raw, err := json.Marshal(r.Blocks)
	if err != nil {
		t.Fatal(err)
	}
	var blocks []struct {
		Type string `json:"type"`
		Text *struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			Verbatim bool   `json:"verbatim"`
		} `json:"text"`
		Fields []struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			Verbatim bool   `json:"verbatim"`
		} `json:"fields"`
		Elements []struct {
			Type     string `json:"type"`
			Text     string `json:"text"`
			Verbatim bool   `json:"verbatim"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatal(err)
	}
	// Every mrkdwn text the message shows, with what precedes the reason.
	type shown struct{ where, text string }
	var texts []shown
	add := func(where, typ, text string, verbatim bool) {
		if typ != "mrkdwn" {
			return
		}
		if !verbatim {
			t.Errorf("%s: mrkdwn without verbatim lets Slack link a bare @here", where)
		}
		texts = append(texts, shown{where, text})
	}
	for _, b := range blocks {
		if b.Text != nil {
			add(b.Type, b.Text.Type, b.Text.Text, b.Text.Verbatim)
		}
		for _, f := range b.Fields {
			add(b.Type+" field", f.Type, f.Text, f.Verbatim)
		}
		for _, e := range b.Elements {
			add(b.Type+" element", e.Type, e.Text, e.Verbatim)
		}
	}
	texts = append(texts, shown{"fallback", r.Text})
	esc := escapePlain(hostileReason)
	if literal(esc) != hostileReason {
		t.Errorf("escaping loses text: %q decodes to %q", esc, literal(esc))
	}
	if strings.ContainsAny(esc, "*~`<>") {
		t.Errorf("escaped reason keeps live mrkdwn: %q", esc)
	}
	rs := []rune(esc)
	for j, r := range rs {
		if r == '_' && (j == 0 || j == len(rs)-1 || !unicode.IsLetter(rs[j-1]) || !unicode.IsLetter(rs[j+1])) {
			t.Errorf("an underscore that can open or close italics at %d: %q", j, esc)
		}
	}
	for _, s := range texts {
		if !strings.Contains(s.text, esc) {
			t.Errorf("%s does not show the reason escaped: %q", s.where, s.text)
		}
		for _, syntax := range []string{"<!", "<@", "<http"} {
			if strings.Contains(s.text, syntax) {
				t.Errorf("%s holds Slack syntax %q, which would ping or link: %q", s.where, syntax, s.text)
			}
		}
	}
	if len(texts) < 5 {
		t.Fatalf("found %d texts, want the section, both fields, the context and the fallback", len(texts))
	}
	// The header is plain_text, which Slack never parses: as typed.
	if !strings.Contains(string(raw), `"type":"plain_text","text":"Denied: fix *_~`) {
		t.Errorf("header not plain text as typed: %s", raw)
	}
}

// literal decodes what escapePlain did, to compare with what was typed.
func literal(s string) string {
	return strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "∗", "*", "ˍ", "_", "∼", "~", "ˋ", "`").Replace(s)
}

func TestLinksMentionsAndTimes(t *testing.T) {
	got := Mrkdwn(bot.Textf("see %s by %s and %s, %s", bot.Link("https://chat/x?a=1&b=2|3", "the *thread*"), bot.Mention("U0ALICE"), bot.Mention("S0OPS"),
		bot.Time(timeAt(t), bot.Clock)))
	want := "see <https://chat/x?a=1&amp;b=2%7C3|the ∗thread∗> by <@U0ALICE> and <!subteam^S0OPS>, <!date^1795860060^{time_secs}|10:01:00 UTC>"
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func timeAt(t *testing.T) time.Time {
	t.Helper()
	return time.Date(2026, 11, 28, 10, 1, 0, 0, time.UTC)
}
