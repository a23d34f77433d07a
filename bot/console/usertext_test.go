package console

import (
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// TestUserTextIsShownLiterally: a terminal formats nothing and pings
// nobody, so a reason is printed exactly as typed, markup and all; only
// control characters, which a terminal would obey (colours, cursor
// moves, a cleared screen), are dropped.
func TestUserTextIsShownLiterally(t *testing.T) {
	const reason = "fix *_~`<>&@here* now <!channel> <https://x|y> [z](https://evil)"
	got := Render(bot.Message{
		Title:   bot.Plain("Denied"),
		Text:    bot.Join(bot.Bold("DENIED"), bot.Plain(": "+reason+"\x1b[2J\x1b]0;pwned\x07")),
		Fields:  []bot.Field{{Label: "Reason", Value: bot.Plain(reason)}},
		Context: bot.Plain(reason),
	}, "")
	for _, want := range []string{"*DENIED*: " + reason + "[2J]0;pwned\n", "Reason: " + reason + "\n", "· " + reason + "\n"} {
		if !strings.Contains(got, want) {
			t.Errorf("want %q in\n%s", want, got)
		}
	}
	if strings.ContainsAny(got, "\x1b\x07") {
		t.Errorf("control characters reach the terminal: %q", got)
	}
}
