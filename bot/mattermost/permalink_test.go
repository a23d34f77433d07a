package mattermost

import (
	"context"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// TestPermalink: the link is the server's permalink route for the post,
// which opens it in its team.
func TestPermalink(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	link, err := a.Permalink(context.Background(), bot.Ref{Channel: "ch5q7w3rxbfyt8k1mjn6opzs2a", ID: "po9x8c7v6b5n4m3l2k1j0h9g8f"})
	if want := mm.URL() + "/_redirect/pl/po9x8c7v6b5n4m3l2k1j0h9g8f"; err != nil || link != want {
		t.Fatalf("Permalink = %q, %v; want %q", link, err, want)
	}
}
