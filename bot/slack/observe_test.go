package slack

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

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

// TestAPIObserverCountsCallsAttemptsAndFailures: each Web API call is
// reported once, with the attempts its retries took and whether it failed
// for good.
func TestAPIObserverCountsCallsAttemptsAndFailures(t *testing.T) {
	fake := newFakeSlack(t)
	obs := &apiCalls{}
	a := newTestAdapter(t, fake, WithRetry(3, 5*time.Millisecond), WithAPIObserver(obs))
	ctx := context.Background()
	fake.failNext("chat.postMessage", fakeFailure{status: 502})
	if _, err := a.PostRoot(ctx, testChannel, bot.Message{Text: "retried once"}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		fake.failNext("chat.postMessage", fakeFailure{status: 503})
	}
	if _, err := a.PostRoot(ctx, testChannel, bot.Message{Text: "never"}); err == nil {
		t.Fatal("a post that failed 3 times of 3 succeeded")
	}
	want := []string{
		"slack chat.postMessage attempts=2 failed=false",
		"slack chat.postMessage attempts=3 failed=true",
	}
	if !slices.Equal(obs.calls, want) {
		t.Errorf("observed\n %q\nwant\n %q", obs.calls, want)
	}
}
