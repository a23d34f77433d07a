package slack

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// retrier calls the Web API again after rate limits and server errors.
// It is ours rather than slack-go's OptionRetry because we want 5xx and
// ok:false "ratelimited" retried too, each wait bounded by the caller's
// deadline, and the attempts logged.
type retrier struct {
	attempts int
	base     time.Duration
	max      time.Duration
	log      *slog.Logger
	obs      bot.APIObserver // nil: not observed
}

// do runs call until it succeeds, fails for good, runs out of attempts or
// ctx ends, and tells the observer. The error names the method and wraps
// the last Slack error.
func (r retrier) do(ctx context.Context, method string, call func(context.Context) (string, error)) (string, error) {
	tries := 0
	v, err := r.try(ctx, method, func(ctx context.Context) (string, error) {
		tries++
		return call(ctx)
	})
	if r.obs != nil {
		r.obs.APICall(Platform, method, tries, err)
	}
	return v, err
}

// try is do's loop.
func (r retrier) try(ctx context.Context, method string, call func(context.Context) (string, error)) (string, error) {
	for attempt := 1; ; attempt++ {
		v, err := call(ctx)
		if err == nil {
			return v, nil
		}
		wait, retry := r.wait(err, attempt)
		if !retry {
			return "", fmt.Errorf("slack %s: %w", method, err)
		}
		if attempt >= r.attempts {
			return "", fmt.Errorf("slack %s: giving up after %d attempts: %w", method, attempt, err)
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return "", fmt.Errorf("slack %s: must wait %s before retrying, past the deadline: %w", method, wait, err)
		}
		r.log.Warn("slack call failed; retrying", "method", method, "attempt", attempt, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("slack %s: stopped waiting to retry: %w (last error: %w)", method, ctx.Err(), err)
		case <-t.C:
		}
	}
}

// wait says whether err is worth another try and after how long.
func (r retrier) wait(err error, attempt int) (time.Duration, bool) {
	var rl *slackgo.RateLimitedError
	if errors.As(err, &rl) {
		// Slack said how long; honour it exactly (a missing or zero
		// value would make a tight loop, so fall back to the backoff).
		if rl.RetryAfter > 0 {
			return rl.RetryAfter, true
		}
		return r.backoff(attempt), true
	}
	var sc slackgo.StatusCodeError
	if errors.As(err, &sc) {
		// slack-go reports a 429 without Retry-After this way.
		if sc.Code == http.StatusTooManyRequests || sc.Code >= 500 {
			return r.backoff(attempt), true
		}
		return 0, false
	}
	var se slackgo.SlackErrorResponse
	if errors.As(err, &se) {
		switch se.Err {
		case "ratelimited", "rate_limited", "service_unavailable", "internal_error":
			// ok:false with HTTP 200: Slack's documented transient errors.
			return r.backoff(attempt), true
		}
	}
	return 0, false
}

// backoff doubles from base up to max, with a little jitter so that
// several channels do not retry in lockstep.
func (r retrier) backoff(attempt int) time.Duration {
	d := r.base
	for i := 1; i < attempt && d < r.max; i++ {
		d *= 2
	}
	d = min(d, r.max)
	return d + rand.N(d/10+1)
}
