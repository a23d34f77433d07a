package slack

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics/metricstest"
)

// TestAPIObserverCountsCallsAttemptsAndFailures: each Web API call is
// reported once, with the attempts its retries took and whether it failed
// for good.
func TestAPIObserverCountsCallsAttemptsAndFailures(t *testing.T) {
	fake := newFakeSlack(t)
	obs := &metricstest.APICalls{}
	a := newTestAdapter(t, fake, WithRetry(3, 5*time.Millisecond), WithAPIObserver(obs))
	ctx := context.Background()
	fake.failNext("chat.postMessage", fakeFailure{status: 502})
	if _, err := a.PostRoot(ctx, testChannel, bot.Message{Text: bot.Plain("retried once")}); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		fake.failNext("chat.postMessage", fakeFailure{status: 503})
	}
	if _, err := a.PostRoot(ctx, testChannel, bot.Message{Text: bot.Plain("never")}); err == nil {
		t.Fatal("a post that failed 3 times of 3 succeeded")
	}
	want := []string{
		"slack chat.postMessage attempts=2 failed=false",
		"slack chat.postMessage attempts=3 failed=true",
	}
	if !slices.Equal(obs.Calls(), want) {
		t.Errorf("observed\n %q\nwant\n %q", obs.Calls(), want)
	}
}
