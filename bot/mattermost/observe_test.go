package mattermost

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// apiCalls is a bot.APIObserver that keeps what it was told.
type apiCalls struct {
	mu    sync.Mutex
	calls []string
}

func (c *apiCalls) APICall(platform, method string, attempts int, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, fmt.Sprintf("%s %s attempts=%d failed=%t", platform, method, attempts, err != nil))
}

// TestAPIObserverCountsCallsAttemptsAndFailures: each API call is reported
// once, with the attempts its retries took and whether it failed for good.
func TestAPIObserverCountsCallsAttemptsAndFailures(t *testing.T) {
	obs := &apiCalls{}
	a, mm := newAdapterOnly(t, Options{MaxAttempts: 3, APIObserver: obs})
	a.sleep = (&waits{}).sleep
	ctx := context.Background()
	mm.rateLimit("POST /api/v4/posts", 2, "1")
	if _, err := a.PostRoot(ctx, channelID, bot.Message{Text: "after two 429s"}); err != nil {
		t.Fatal(err)
	}
	mm.rateLimit("POST /api/v4/posts", -1, "1")
	if _, err := a.PostRoot(ctx, channelID, bot.Message{Text: "never"}); err == nil {
		t.Fatal("a post rate-limited for ever succeeded")
	}
	want := []string{
		"mattermost create post attempts=3 failed=false",
		"mattermost create post attempts=3 failed=true",
	}
	if !slices.Equal(obs.calls, want) {
		t.Errorf("observed\n %q\nwant\n %q", obs.calls, want)
	}
}
