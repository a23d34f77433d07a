package slack

import (
	"context"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// TestPermalink: the link to a posted root comes from chat.getPermalink;
// a message Slack does not know is an error, not a made-up link.
func TestPermalink(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	ctx := context.Background()
	root, err := a.PostRoot(ctx, testChannel, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	link, err := a.Permalink(ctx, root)
	want := "https://fake.slack.com/archives/" + testChannel + "/p" + strings.ReplaceAll(root.ID, ".", "")
	if err != nil || link != want {
		t.Fatalf("Permalink(%v) = %q, %v; want %q", root, link, err, want)
	}
	if link, err := a.Permalink(ctx, bot.Ref{Channel: testChannel, ID: "1.000001"}); err == nil {
		t.Fatalf("Permalink of an unknown message = %q, want an error", link)
	}
}
