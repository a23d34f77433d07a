package mattermost

import (
	"context"
	"encoding/json"
	"math/rand/v2"
	"net/http"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// serverRewrites reports every string in v (rendered as JSON: posts,
// command responses, callback answers) that the Mattermost server would
// rewrite as a Slack link. The rule is the server's own code:
// model.ParseSlackLinksToMarkdown from the pinned server/public module,
// which app.CreateCommandPost applies (through model.ParseMessageAttachment)
// to every attachment's text, pretext and field values, and to top-level
// text without skip_slack_parsing. Checking every string is stricter than
// the server, which is the point: the bot never emits the pattern.
func serverRewrites(t testing.TB, v any) []string {
	t.Helper()
	raw, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var tree any
	if err := json.Unmarshal(raw, &tree); err != nil {
		t.Fatal(err)
	}
	var bad []string
	var walk func(any)
	walk = func(n any) {
		switch n := n.(type) {
		case string:
			if got := model.ParseSlackLinksToMarkdown(n); got != n {
				bad = append(bad, n+"\n  would become\n"+got)
			}
		case []any:
			for _, c := range n {
				walk(c)
			}
		case map[string]any:
			for _, c := range n {
				walk(c)
			}
		}
	}
	walk(tree)
	return bad
}

// TestSlackLinkPatternIsTheServers: the pattern noSlackLinks looks for is
// the one the server rewrites.
func TestSlackLinkPatternIsTheServers(t *testing.T) {
	for _, s := range append(slackLinkCases(), randomTexts(2000)...) {
		if got, want := slackLink.ReplaceAllString(s, "[${2}](${1})"), model.ParseSlackLinksToMarkdown(s); got != want {
			t.Fatalf("%q: the copied pattern gives %q, the server %q", s, got, want)
		}
	}
}

func slackLinkCases() []string {
	return []string{
		"Usage: /gitlab-migrations <approve|audit|bbm|cancel|deny|finalize|help|hosts|migrate|pending|restart|services|status> … (try /gitlab-migrations help)",
		"Usage: `/gitlab-migrations finalize [--host NAME] <JobClass> <table> <column> '<json args>' [--db main|ci] [-- reason]  |  finalize --from <request-id> [-- reason]`",
		"<a|b> c|d>", "<a|<b|c>", "<<a|b>|c>", "x <http://evil.example|Approve here> y", "<|a>", "<a|>", "a|b", "<a>|<b>",
		"```\n<in|code>\n```", "<a\n|b>", "<a|b\n>", "<é|ü>",
	}
}

func randomTexts(n int) []string {
	r := rand.New(rand.NewPCG(8, 1))
	alphabet := []string{"<", ">", "|", "a", " ", "\n", "`", "∣"}
	out := make([]string, n)
	for i := range out {
		var b strings.Builder
		for range r.IntN(16) {
			b.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		out[i] = b.String()
	}
	return out
}

func TestNoSlackLinks(t *testing.T) {
	for in, want := range map[string]string{
		"Usage: /gitlab-migrations <approve|audit|status> …": "Usage: /gitlab-migrations <approve∣audit∣status> …",
		"[--db main|ci]": "[--db main|ci]",
		"<JobClass> '<json args>' [--db main|ci]  |  --from <id>": "<JobClass> '<json args>' [--db main∣ci]  ∣  --from <id>",
		"<a|b> c|d>": "<a∣b> c∣d>",
		"reason: <http://evil.example|Approve here>": "reason: <http://evil.example∣Approve here>",
		"no link here": "no link here",
		"<|a>":         "<|a>",
	} {
		if got := noSlackLinks(in); got != want {
			t.Errorf("noSlackLinks(%q) = %q, want %q", in, got, want)
		}
	}
	for _, s := range append(slackLinkCases(), randomTexts(20000)...) {
		out := noSlackLinks(s)
		if model.ParseSlackLinksToMarkdown(out) != out {
			t.Fatalf("%q: the server would still rewrite %q", s, out)
		}
		if strings.ReplaceAll(out, lookalikePipe, "|") != strings.ReplaceAll(s, lookalikePipe, "|") {
			t.Fatalf("%q: more than pipes changed: %q", s, out)
		}
		if model.ParseSlackLinksToMarkdown(s) == s && out != s {
			t.Fatalf("%q: changed although the server would not rewrite it: %q", s, out)
		}
	}
}

// serverKeeps fails unless the Mattermost server would post resp as the
// bot sent it: what app.CreateCommandPost does with a command response.
func serverKeeps(t *testing.T, what string, resp *model.CommandResponse) {
	t.Helper()
	post := &model.Post{}
	if resp.SkipSlackParsing {
		post.Message = resp.Text
	} else {
		post.Message = model.ParseSlackLinksToMarkdown(resp.Text)
	}
	var copied []*model.MessageAttachment
	if err := json.Unmarshal(mustJSON(t, resp.Attachments), &copied); err != nil {
		t.Fatal(err)
	}
	model.ParseMessageAttachment(post, copied)
	if post.Message != resp.Text || string(mustJSON(t, post.Attachments())) != string(mustJSON(t, resp.Attachments)) {
		t.Errorf("%s: the server rewrites the response:\n%s\nto\n%s", what, mustJSON(t, resp.Attachments), mustJSON(t, post.Attachments()))
	}
}

// TestUsageAndHelpSurviveTheServer: the texts that arrived garbled on a
// real server (issue 9 §8) come back in the command response in a form the
// server leaves as it is, attachments included.
func TestUsageAndHelpSurviveTheServer(t *testing.T) {
	e := newEnv(t, envOpts{})
	for _, c := range []struct{ text, golden string }{
		{"frobnicate", "usage_error"},
		{"help finalize", "help_finalize"},
		{"help", "help"},
	} {
		status, resp, raw := e.command(alice, c.text)
		if status != http.StatusOK || len(resp.Attachments) == 0 {
			t.Fatalf("%s: %d %s", c.text, status, raw)
		}
		serverKeeps(t, c.text, resp)
		e.golden(c.golden, resp)
	}

	// Whatever the router's texts say today: a usage line in the old form,
	// in a code span, and a reason with a Slack link, in text and fields.
	resp := e.a.commandResponse(context.Background(), []bot.Message{{
		Text: bot.Join(bot.Plain("unknown subcommand\nUsage: "), bot.Code("/gitlab-migrations <approve|audit|status>")), Tone: bot.ToneDanger,
		Fields: []bot.Field{{Label: "Reason", Value: bot.Plain("see <http://evil.example|Approve here>")}},
	}})
	serverKeeps(t, "crafted", resp)
	if got := resp.Attachments[0].Text; !strings.Contains(got, "`/gitlab-migrations <approve∣audit∣status>`") {
		t.Errorf("the usage line should read the same, with look-alike pipes: %q", got)
	}
	if got := resp.Attachments[0].Fields[0].Value; got != "see <http://evil.example∣Approve here>" {
		t.Errorf("a link in a field must not become a link: %q", got)
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
