package mattermost

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

func TestMarkdownBold(t *testing.T) {
	for in, want := range map[string]string{
		"*status* on *gitlab-sim*, asked by alice": "**status** on **gitlab-sim**, asked by alice",
		"already **bold** here":                    "already **bold** here",
		"• *sidekiq*: down (want up)":              "• **sidekiq**: down (want up)",
		"2 * 3 * 4":                                "2 * 3 * 4",
		"* a list item":                            "* a list item",
		"keep `*code*` as it is, *but* not this":   "keep `*code*` as it is, **but** not this",
		"snake*case*word":                          "snake*case*word",
		"unclosed *star":                           "unclosed *star",
		"a ` lone backtick *x*":                    "a ` lone backtick *x*",
		"```\n*in a fence*\n```\n*out*":            "```\n*in a fence*\n```\n**out**",
		"_agent job abc_":                          "_agent job abc_",
		"*é*":                                      "**é**",
	} {
		if got := markdown(in); got != want {
			t.Errorf("markdown(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestRenderPlainAndAttachment(t *testing.T) {
	plain := renderMessage(bot.Message{Text: "⏳ *alice* asks", Code: "x"}, []string{"@bob"}, nil)
	if plain.message != "⏳ **alice** asks\n```\nx\n```\n\ncc @bob" || plain.attachments != nil {
		t.Errorf("plain: %q %v", plain.message, plain.attachments)
	}
	r := renderMessage(bot.Message{
		Title: "Done", Text: "ok", Tone: bot.ToneSuccess, Context: "`exit 0`",
		Fields: []bot.Field{{Label: "Host", Value: "*gl-1*", Short: true}},
	}, nil, nil)
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
		at := attachmentOf(bot.Message{Text: "x", Tone: tone}, nil)
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
	r := renderMessage(bot.Message{Text: long, Code: long}, nil, nil)
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
		Title: "Refused", Text: "you are *not* an approver", Code: "x",
		Fields: []bot.Field{{Label: "Request", Value: "r7k2qxa9"}}, Context: "request r7k2qxa9",
	}, []string{"@bob"})
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
