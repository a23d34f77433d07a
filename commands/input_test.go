package commands

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// TestParseRefusesInvisible: bidi and invisible format characters are
// refused in every field an approver reads, and the refusal names the
// field and the character.
func TestParseRefusesInvisible(t *testing.T) {
	bad := []rune{'\u200b', '\u200c', '\u200d', '\u200e', '\u200f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069', '\ufeff', '\x07',
		// the rest of Unicode's format category: deprecated format
		// characters, tag characters, interlinear annotation, …
		'\u206a', '\u206b', '\u206c', '\u206d', '\u206e', '\u206f', '\U000E0001', '\U000E0041', '\U000E007F', '\ufff9', '\u2064', '\u0600', '\U0001D173',
		// Hangul fillers: letters that show as blank space
		'\u3164', '\u115f', '\u1160', '\uffa0'}
	fields := []struct{ tmpl, field string }{
		{"migrate -- upgrade%s to 17.5", "reason"},
		{"deny r7k2qxa9 not%s now", "reason"},
		{"restart side%skiq", "service name"},
		{"status --host gitlab%s-1", "value of --host"},
		{"status --db c%si", "value of --db"},
		{"finalize Job t c '[\"id%s\"]'", "finalize arguments"},
		{"sudo gitlab-rake gitlab:background_migrations:finalize[Job,t%s,c,[]]", "finalize arguments"},
		{"approve r7k2%sqxa9", `argument "r7k2qxa9"`},
		{"sta%stus", "subcommand"},
	}
	for _, f := range fields {
		for _, r := range bad {
			in := strings.Replace(f.tmpl, "%s", string(r), 1)
			_, err := Parse(in)
			var ue *UsageError
			if !errors.As(err, &ue) {
				t.Errorf("Parse(%q): want a refusal, got %v", in, err)
				continue
			}
			if !strings.Contains(ue.Msg, "the "+f.field+" contain") || !strings.Contains(ue.Msg, fmt.Sprintf("U+%04X ", r)) || !strings.Contains(ue.Msg, "show something other than what runs") {
				t.Errorf("Parse(%q): %q does not name the %s and the danger", in, ue.Msg, f.field)
			}
		}
	}
	// Visible non-ASCII is fine.
	if inv, err := Parse("migrate -- Überprüfung nach dem Upgrade, 検証"); err != nil || inv.Reason != "Überprüfung nach dem Upgrade, 検証" {
		t.Errorf("a reason in another script: %+v %v", inv, err)
	}
}

// TestParseBounds: a reason is at most 500 characters, the whole command at
// most 8 KiB, a host name at most 64 characters; refusals echo user text
// shortened.
func TestParseBounds(t *testing.T) {
	ok := "migrate -- " + strings.Repeat("é", maxReasonRunes)
	if _, err := Parse(ok); err != nil {
		t.Errorf("a reason of exactly %d characters: %v", maxReasonRunes, err)
	}
	cases := []struct{ in, says string }{
		{"migrate -- " + strings.Repeat("x", maxReasonRunes+1), "the reason is 501 characters long; at most 500 are allowed"},
		{"deny r7k2qxa9 " + strings.Repeat("no ", 200), "the reason is 599 characters long"},
		{"migrate -- " + strings.Repeat("x", 100*1024), "the command is 102411 bytes long; at most 8192"},
		{"status --host " + strings.Repeat("h", 65), "the host name is 65 characters long; at most 64"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		if err == nil || !strings.Contains(err.Error(), c.says) {
			t.Errorf("Parse(%.40q…): %v, want %q", c.in, err, c.says)
		}
	}
	long := strings.Repeat("ü", 1000)
	for _, in := range []string{long, "approve b " + long, "status --" + long} {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("Parse(%.20q…) accepted", in)
		}
		if n := utf8.RuneCountInString(err.Error()); n > 600 || !utf8.ValidString(err.Error()) || !strings.Contains(err.Error(), "…") {
			t.Errorf("Parse(%.20q…): the refusal echoes %d characters (valid UTF-8: %v): %.200s", in, n, utf8.ValidString(err.Error()), err)
		}
	}
}

// TestParseCountsExtraArguments: a usage error counts what was given and
// what is extra.
func TestParseCountsExtraArguments(t *testing.T) {
	_, err := Parse("approve a b c d e f g h i j")
	want := `approve takes at most 1 argument, got 10; remove the 9 extra ("b" "c" "d" "e" "f" "g" "h" "i" "j")`
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Errorf("got %v, want %q", err, want)
	}
	_, err = Parse("migrate now please")
	if err == nil || !strings.Contains(err.Error(), `migrate takes no arguments, got 2 ("now" "please")`) {
		t.Errorf("got %v", err)
	}
}

func TestOneLine(t *testing.T) {
	cases := map[string]string{
		"upgrade to 17.5":            "upgrade to 17.5",
		"```\nrm -rf /\n```":         "``` rm -rf / ```",
		"# Heading\n- item\n> quote": "# Heading - item > quote",
		"  spaced\t\tout  ":          "spaced out",
	}
	for in, want := range cases {
		if got := oneLine(in); got != want {
			t.Errorf("oneLine(%q) = %q, want %q", in, got, want)
		}
	}
}

// TestUserTextIsPlain: a reason full of markup is shown on the card and
// in the deny line as plain text (which every adapter escapes), on one
// line, never as code, bold or a link.
func TestUserTextIsPlain(t *testing.T) {
	reason := "```\n# @channel look\n`rm` ![i](http://x) *b* <!here>"
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	req := &approvals.Request{ID: "r7k2qxa9", Host: "gitlab-1", Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"},
		Requester: approvals.User{ID: "U1", Name: "alice"}, Reason: reason, Required: 1, ExpiresAt: now.Add(time.Minute), State: approvals.StatePending}
	var shown []bot.Text
	for _, f := range requestMessage(req, now).Fields {
		if f.Label == "Reason" {
			shown = append(shown, f.Value)
		}
	}
	req.State = approvals.StateDenied
	req.Decisions = []approvals.Decision{{User: approvals.User{ID: "U2", Name: "bob"}, Verdict: approvals.VerdictDeny, At: now, Reason: reason}}
	shown = append(shown, requestMessage(req, now).Text)
	for _, text := range shown {
		found := false
		for _, s := range text {
			if strings.Contains(s.Text, "![i](http://x)") {
				found = true
				if s.Kind != bot.SpanPlain || strings.Contains(s.Text, "\n") {
					t.Errorf("user text in a %v span or on several lines: %q", s.Kind, s.Text)
				}
			}
		}
		if !found {
			t.Errorf("reason not shown whole: %s", text)
		}
	}
	if len(shown) != 2 {
		t.Fatalf("reason shown %d times, want on the card and in the deny line", len(shown))
	}
}

func TestTruncateKeepsCharacters(t *testing.T) {
	s := strings.Repeat("é", 150) // 300 bytes
	got := truncate(s, 201)
	if !utf8.ValidString(got) || len(got) > 201+len("…") || !strings.HasSuffix(got, "…") {
		t.Errorf("truncate cut a character: %q", got)
	}
	if truncate("short", 200) != "short" {
		t.Error("truncate changed a short string")
	}
}

func TestDisplayName(t *testing.T) {
	cases := map[bot.User]string{
		{ID: "U1", Name: "alice"}:                  "alice",
		{ID: "U1", Name: "ali\u202ece\u200b"}:      "alice",
		{ID: "U1", Name: "\u2066\u2069"}:           "U1",
		{ID: "U1", Name: "`bob`\n@here"}:           "`bob` @here", // plain text: adapters escape it
		{ID: "U1", Name: strings.Repeat("n", 200)}: strings.Repeat("n", 79) + "…",
	}
	for u, want := range cases {
		if got := displayName(u); got != want {
			t.Errorf("displayName(%q) = %q, want %q", u.Name, got, want)
		}
	}
}

// TestRefusalGrammar: a plural field takes a plural verb.
func TestRefusalGrammar(t *testing.T) {
	_, err := Parse("finalize Job t c '[\"id\u202e\"]'")
	if err == nil || !strings.Contains(err.Error(), "the finalize arguments contain U+202E RIGHT-TO-LEFT OVERRIDE") {
		t.Errorf("got %v", err)
	}
	_, err = Parse("restart side\u202ekiq")
	if err == nil || !strings.Contains(err.Error(), "the service name contains U+202E") {
		t.Errorf("got %v", err)
	}
}
