package mattermost

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

func TestMarkdownOfSpans(t *testing.T) {
	at := time.Date(2026, 11, 28, 10, 1, 0, 0, time.UTC)
	p := people{names: map[string]string{"U1": "@alice", "G1": "~ops"}}
	for _, tc := range []struct {
		in   bot.Text
		want string
	}{
		{bot.Textf("%s on %s, asked by alice", bot.Bold("status"), bot.Bold("gitlab-sim")), "**status** on **gitlab-sim**, asked by alice"},
		{bot.Join(bot.Plain("• "), bot.Bold("sidekiq"), bot.Plain(": down (want up)")), "• **sidekiq**: down (want up)"},
		{bot.Plain("2 * 3 _x_ ~y~ `z` [a](b) a|b"), `2 \* 3 \_x\_ \~y\~ \` + "`z\\`" + ` \[a\](b) a|b`},
		{bot.Plain("# head\n- item\n> quote\n1. one"), `\# head` + "\n" + `\- item` + "\n" + `\> quote` + "\n" + `1\. one`},
		{bot.Join(bot.Bold("x"), bot.Plain("# not a heading here")), "**x**# not a heading here"},
		{bot.Plain("ping @channel and @here, mail a@b.c"), "ping ＠channel and ＠here, mail a＠b.c"},
		{bot.Code("a `b` c"), "``a `b` c``"},
		{bot.Code("`x"), "`` `x ``"},
		{bot.Link("https://x/y (z)", "the [thread]"), `[the \[thread\]](https://x/y%20%28z%29)`},
		{bot.Textf("by %s and %s, not %s", bot.Mention("U1"), bot.Mention("G1"), bot.Mention("U9")), "by @alice and ~ops, not `U9`"},
		{bot.Textf("at %s", bot.Time(at, bot.Clock)), "at 10:01:00 UTC"},
		{bot.Join(bot.Plain("args:"), bot.Pre("[1]")), "args:\n```\n[1]\n```"},
	} {
		if got := p.markdownOf(tc.in); got != tc.want {
			t.Errorf("markdownOf(%s) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestRenderPlainAndAttachment(t *testing.T) {
	plain := renderMessage(bot.Message{Text: bot.Join(bot.Plain("⏳ "), bot.Bold("alice"), bot.Plain(" asks")), Code: "x"}, people{cc: []string{"@bob"}}, nil)
	if plain.message != "⏳ **alice** asks\n```\nx\n```\n\ncc @bob" || plain.attachments != nil {
		t.Errorf("plain: %q %v", plain.message, plain.attachments)
	}
	r := renderMessage(bot.Message{
		Title: bot.Plain("Done"), Text: bot.Plain("ok"), Tone: bot.ToneSuccess, Context: bot.Code("exit 0"),
		Fields: []bot.Field{{Label: "Host", Value: bot.Bold("gl-1"), Short: true}},
	}, people{}, nil)
	if r.message != "" || len(r.attachments) != 1 {
		t.Fatalf("attachment: %+v", r)
	}
	a := r.attachments[0]
	if a.Color != "good" || a.Title != "Done" || a.Footer != "exit 0" || a.Fallback != "Done" ||
		len(a.Fields) != 1 || a.Fields[0].Value != "**gl-1**" || !bool(a.Fields[0].Short) {
		t.Errorf("attachment rendered as %+v", a)
	}
	if err := a.IsValid(); err != nil {
		t.Errorf("Mattermost would refuse the attachment: %v", err)
	}
	for _, tone := range []bot.Tone{bot.ToneNone, bot.ToneInfo, bot.ToneSuccess, bot.ToneWarning, bot.ToneDanger} {
		at := people{}.attachmentOf(bot.Message{Text: bot.Plain("x"), Tone: tone}, nil)
		if err := at.IsValid(); err != nil {
			t.Errorf("tone %s: %v", tone, err)
		}
	}
}

func TestCodeFenceOutlastsBackticksInTheCode(t *testing.T) {
	got := codeBlock("a ``` b\n````")
	if !strings.HasPrefix(got, "`````\n") || !strings.HasSuffix(got, "\n`````") {
		t.Errorf("fence %q", got)
	}
}

func TestLongTextIsCutVisibly(t *testing.T) {
	long := strings.Repeat("x", 3*model.PostMessageMaxRunesV2)
	r := renderMessage(bot.Message{Text: bot.Plain(long), Code: long}, people{}, nil)
	if n := utf8.RuneCountInString(r.message); n > model.PostMessageMaxRunesV2 {
		t.Errorf("message has %d characters, over Mattermost's %d", n, model.PostMessageMaxRunesV2)
	}
	if !strings.Contains(r.message, "characters cut)") {
		t.Error("cut text must say it was cut")
	}
	if got := truncateRunes("héllo wörld", 100); got != "héllo wörld" {
		t.Errorf("short text changed: %q", got)
	}
	if got := truncateRunes(strings.Repeat("é", 100), 40); utf8.RuneCountInString(got) > 40 || !utf8.ValidString(got) {
		t.Errorf("cut %q", got)
	}
}

func TestEphemeralTextCarriesTheWholeMessage(t *testing.T) {
	got := markdownText(bot.Message{
		Title: bot.Plain("Refused"), Text: bot.Join(bot.Plain("you are "), bot.Bold("not"), bot.Plain(" an approver")), Code: "x",
		Fields: []bot.Field{{Label: "Request", Value: bot.Plain("r7k2qxa9")}}, Context: bot.Plain("request r7k2qxa9"),
	}, people{cc: []string{"@bob"}})
	want := "**Refused**\nyou are **not** an approver\n```\nx\n```\n**Request:** r7k2qxa9\n_request r7k2qxa9_\ncc @bob"
	if got != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestFileNames(t *testing.T) {
	for in, want := range map[string]string{
		"migrate-r7k2qxa9.txt": "migrate-r7k2qxa9.txt",
		"../../etc/passwd":     "passwd",
		`C:\temp\out.txt`:      "out.txt",
		"a:b*c?.txt":           "a_b_c_.txt",
		"":                     "output.txt",
		"..":                   "output.txt",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}
