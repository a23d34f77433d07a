package slack

import (
	"bytes"
	"encoding/json"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Each message kind as the router builds it (commands/render_request.go,
// render_gitlab.go), with fixed IDs and times so the output is stable.
var goldenMessages = map[string]bot.Message{
	"approval_pending": {
		Title: bot.Plain("Approval needed: migrate on gitlab-prod"),
		Tone:  bot.ToneWarning,
		Text:  bot.Plain("Someone other than Alice must approve before anything runs."),
		Fields: []bot.Field{
			{Label: "Command", Value: bot.Code("gitlab-rake db:migrate")},
			{Label: "Host", Value: bot.Plain("gitlab-prod"), Short: true},
			{Label: "Requested by", Value: bot.Plain("Alice"), Short: true},
			{Label: "Reason", Value: bot.Plain("upgrade to 17.5 <finish it> & check")},
			{Label: "Based on", Value: bot.Plain("main: 6 down (20240101000000 … 20240601000000)")},
			{Label: "Approvals", Value: bot.Plain("0 of 1"), Short: true},
			{Label: "Expires", Value: bot.Plain("12:15 UTC (in 15m0s)"), Short: true},
		},
		Mentions: []string{"U0BOB", "U0CAROL"},
		Buttons: []bot.Button{
			{ActionID: bot.ActionApprove, Label: "Approve", Value: "r7k2qxa9", Style: bot.StylePrimary},
			{ActionID: bot.ActionDeny, Label: "Deny", Value: "r7k2qxa9", Style: bot.StyleDanger},
		},
		Context: bot.Plain("request r7k2qxa9 · or type /gitlab-migrations approve r7k2qxa9"),
	},
	"approved_running": {
		Title: bot.Plain("Approved: migrate on gitlab-prod is running"),
		Tone:  bot.ToneInfo,
		Text:  bot.Plain("Approved by Bob. Progress is in the thread."),
		Fields: []bot.Field{
			{Label: "Command", Value: bot.Code("gitlab-rake db:migrate")},
			{Label: "Host", Value: bot.Plain("gitlab-prod"), Short: true},
			{Label: "Requested by", Value: bot.Plain("Alice"), Short: true},
		},
		Context: bot.Plain("request r7k2qxa9"),
	},
	"succeeded": {
		Title: bot.Plain("Done: migrate on gitlab-prod succeeded"),
		Tone:  bot.ToneSuccess,
		Text:  bot.Plain("Approved by Bob; finished at 12:03:10 UTC."),
		Fields: []bot.Field{
			{Label: "Command", Value: bot.Code("gitlab-rake db:migrate")},
			{Label: "Host", Value: bot.Plain("gitlab-prod"), Short: true},
			{Label: "Requested by", Value: bot.Plain("Alice"), Short: true},
		},
		Context: bot.Plain("request r7k2qxa9"),
	},
	"denied": {
		Title: bot.Plain("Denied: migrate on gitlab-prod"),
		Tone:  bot.ToneDanger,
		Text:  bot.Plain("Denied by Bob at 12:01:00 UTC. Reason: not during peak <!channel> hours. Nothing ran."),
		Fields: []bot.Field{
			{Label: "Command", Value: bot.Code("gitlab-rake db:migrate")},
			{Label: "Host", Value: bot.Plain("gitlab-prod"), Short: true},
			{Label: "Requested by", Value: bot.Plain("Alice"), Short: true},
		},
		Context: bot.Plain("request r7k2qxa9"),
	},
	"status_summary": {
		Title: bot.Plain("Migration status on gitlab-prod"),
		Tone:  bot.ToneWarning,
		Text:  bot.Textf("%s: 2,218,412 up, 6 down\n    • %s AddIndexToIssues\n    • %s BackfillNamespaces", bot.Bold("main (gitlabhq_production)"), bot.Code("20240101000000"), bot.Code("20240601000000")),
		Code:  "database: gitlabhq_production\n\n Status   Migration ID    Migration Name\n--------------------------------------------------\n  down    20240101000000  Add index to issues",
	},
	"error_notice": {
		Text: bot.Plain("You opened request r7k2qxa9 yourself; a different person must approve it."),
		Tone: bot.ToneDanger,
	},
	"progress": {
		Text: bot.Textf("⏳ Running %s on gitlab-prod: 12s elapsed, 40 lines\nLast line: %s\nagent job j-42", bot.Code("gitlab-rake db:migrate"), bot.Code("== 20240601000000 BackfillNamespaces: migrating")),
		Tone: bot.ToneInfo,
	},
}

func TestRenderGolden(t *testing.T) {
	for name, m := range goldenMessages {
		t.Run(name, func(t *testing.T) {
			got := marshalPlain(t, Render(m), "  ")
			golden.Check(t, name, got)
		})
	}
}

func TestRenderApprovalButtonsCarryOnlyTheRequestID(t *testing.T) {
	r := Render(goldenMessages["approval_pending"])
	raw, _ := json.Marshal(r.Blocks)
	got := buttons(raw)
	want := []button{{bot.ActionApprove, "r7k2qxa9"}, {bot.ActionDeny, "r7k2qxa9"}}
	if len(got) != 2 || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("buttons = %+v, want %+v", got, want)
	}
	if !strings.Contains(r.Text, "<@U0BOB> <@U0CAROL>") {
		t.Errorf("fallback text does not mention the approvers: %q", r.Text)
	}
	// Without buttons (after a decision) no actions block is left.
	raw, _ = json.Marshal(Render(goldenMessages["approved_running"]).Blocks)
	if b := buttons(raw); len(b) != 0 || strings.Contains(string(raw), `"actions"`) {
		t.Errorf("decided message still has buttons: %s", raw)
	}
}

func TestRenderEscapesPeopleText(t *testing.T) {
	r := Render(bot.Message{Text: bot.Plain("<!channel> & <@U0EVE>"), Fields: []bot.Field{{Label: "Reason", Value: bot.Plain("<!here>")}}, Context: bot.Plain("<http://x|y>")})
	s := string(marshalPlain(t, r, ""))
	for _, bad := range []string{"<!channel>", "<!here>", "<@U0EVE>", "<http://x|y>"} {
		if strings.Contains(s, bad) {
			t.Errorf("unescaped %q in %s", bad, s)
		}
	}
	if !strings.Contains(s, "&lt;!channel&gt; &amp; &lt;@U0EVE&gt;") {
		t.Errorf("escaping not as Slack documents it: %s", s)
	}
	if got := mentionText([]string{"U0BOB", "S0DBA", "<!channel>", "u0lower"}); got != "<@U0BOB> <!subteam^S0DBA> &lt;!channel&gt; u0lower" {
		t.Errorf("mentionText = %q", got)
	}
}

func TestRenderLimits(t *testing.T) {
	long := strings.Repeat("line of text with & in it\n", 400) // ~10k characters
	r := Render(bot.Message{Title: bot.Plain(strings.Repeat("T", 300)), Text: bot.Plain(long), Code: long + "THE END"})
	raw, _ := json.Marshal(r.Blocks)
	var blocks []map[string]any
	if err := json.Unmarshal(raw, &blocks); err != nil {
		t.Fatal(err)
	}
	for i, b := range blocks {
		text, _ := b["text"].(map[string]any)
		s, _ := text["text"].(string)
		limit := maxSectionChars
		if b["type"] == "header" {
			limit = maxHeaderChars
		}
		if n := utf8.RuneCountInString(s); n > limit {
			t.Errorf("block %d (%s) has %d characters, limit %d", i, b["type"], n, limit)
		}
		if strings.Contains(s, "&amp") && strings.Count(s, "&") != strings.Count(s, "&amp;") {
			t.Errorf("block %d cut an escape entity", i)
		}
	}
	last, _ := blocks[len(blocks)-1]["text"].(map[string]any)
	if s, _ := last["text"].(string); !strings.HasSuffix(s, "THE END\n```") {
		t.Errorf("code block lost its end: …%q", s[max(0, len(s)-40):])
	}
	if utf8.RuneCountInString(r.Text) > maxFallback+1 {
		t.Errorf("fallback text has %d characters", utf8.RuneCountInString(r.Text))
	}

	many := bot.Message{Buttons: []bot.Button{{ActionID: "approve", Label: "Approve", Value: "r7k2qxa9"}}, Context: bot.Plain("request r7k2qxa9")}
	for range 80 {
		many.Fields = append(many.Fields, bot.Field{Label: "L", Value: bot.Plain("v")})
	}
	r = Render(many)
	if len(r.Blocks) > maxBlocks {
		t.Fatalf("%d blocks, Slack allows %d", len(r.Blocks), maxBlocks)
	}
	raw, _ = json.Marshal(r.Blocks)
	if len(buttons(raw)) != 1 {
		t.Errorf("the buttons were cut off a long message")
	}

	if r := Render(bot.Message{}); len(r.Blocks) == 0 || r.Text == "" {
		t.Errorf("an empty message renders nothing Slack accepts: %+v", r)
	}
}

// marshalPlain is JSON without Go's HTML escaping of < > &, so that golden
// files read like what Slack documents.
func marshalPlain(t testing.TB, v any, indent string) []byte {
	t.Helper()
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", indent)
	if err := enc.Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}
