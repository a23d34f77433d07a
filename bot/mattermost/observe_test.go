package mattermost

import (
	"context"
	"slices"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics/metricstest"
)

// TestAPIObserverCountsCallsAttemptsAndFailures: each API call is reported
// once, with the attempts its retries took and whether it failed for good.
func TestAPIObserverCountsCallsAttemptsAndFailures(t *testing.T) {
	obs := &metricstest.APICalls{}
	a, mm := newAdapterOnly(t, Options{MaxAttempts: 3, APIObserver: obs})
	a.sleep = (&waits{}).sleep
	ctx := context.Background()
	mm.rateLimit("POST /api/v4/posts", 2, "1")
	if _, err := a.PostRoot(ctx, channelID, bot.Message{Text: bot.Plain("after two 429s")}); err != nil {
		t.Fatal(err)
	}
	mm.rateLimit("POST /api/v4/posts", -1, "1")
	if _, err := a.PostRoot(ctx, channelID, bot.Message{Text: bot.Plain("never")}); err == nil {
		t.Fatal("a post rate-limited for ever succeeded")
	}
	want := []string{
		"mattermost create post attempts=3 failed=false",
		"mattermost create post attempts=3 failed=true",
	}
	if !slices.Equal(obs.Calls(), want) {
		t.Errorf("observed\n %q\nwant\n %q", obs.Calls(), want)
	}
}
