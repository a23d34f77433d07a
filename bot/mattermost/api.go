package mattermost

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// ErrRateLimited is wrapped by the error of a call that Mattermost kept
// rate-limiting (HTTP 429) until the attempts ran out, or asked to wait
// longer than Options.MaxRetryWait.
var ErrRateLimited = errors.New("mattermost is rate-limiting the bot")

// retryPolicy says which failures a call may be retried on. A 429 means
// the server did nothing, so every call may repeat it; a transport error
// or a 5xx may have happened after the server acted, so only calls that
// are safe to repeat retry those (CreatePost is, thanks to its
// pending_post_id, which the server deduplicates for 30 s).
type retryPolicy int

const (
	retryRateLimit retryPolicy = iota // 429 only
	retryAll                          // 429, transport errors, 500/502/503/504
)

// call runs fn with a deadline per attempt and retries as p allows. The
// error names op and the HTTP status and wraps Client4's error. The last
// response is returned so callers can tell a 404 from other failures.
//
// Client4 turns a 429 into a JSON decoding error ("failed to decode JSON
// payload into AppError"): only resp.StatusCode and the Retry-After header
// say what happened, so that is what is read.
func (a *Adapter) call(ctx context.Context, op string, p retryPolicy, timeout time.Duration, fn func(ctx context.Context) (*model.Response, error)) (*model.Response, error) {
	tries := 0
	resp, err := a.try(ctx, op, p, timeout, func(ctx context.Context) (*model.Response, error) {
		tries++
		return fn(ctx)
	})
	if a.opt.APIObserver != nil {
		a.opt.APIObserver.APICall(Platform, op, tries, err)
	}
	return resp, err
}

// try is call's loop.
func (a *Adapter) try(ctx context.Context, op string, p retryPolicy, timeout time.Duration, fn func(ctx context.Context) (*model.Response, error)) (*model.Response, error) {
	var (
		resp *model.Response
		err  error
	)
	for attempt := 1; ; attempt++ {
		actx, cancel := context.WithTimeout(ctx, timeout)
		resp, err = fn(actx)
		cancel()
		if err == nil {
			return resp, nil
		}
		status := statusOf(resp)
		wait, retry := a.backoff(resp, err, p, attempt)
		if !retry || ctx.Err() != nil {
			return resp, apiError(op, status, err)
		}
		// Client4's error for a 429 is a JSON decoding error that says
		// nothing useful, so rate-limit errors are built from the status.
		if status == http.StatusTooManyRequests && wait > a.opt.MaxRetryWait {
			return resp, fmt.Errorf("mattermost %s: HTTP 429, asked to wait %s before retrying, longer than the %s the bot waits: %w", op, wait, a.opt.MaxRetryWait, ErrRateLimited)
		}
		if attempt >= a.opt.MaxAttempts {
			if status == http.StatusTooManyRequests {
				return resp, fmt.Errorf("mattermost %s: still HTTP 429 after %d attempts: %w", op, attempt, ErrRateLimited)
			}
			return resp, fmt.Errorf("gave up after %d attempts: %w", attempt, apiError(op, status, err))
		}
		if dl, ok := ctx.Deadline(); ok && time.Until(dl) < wait {
			return resp, fmt.Errorf("a retry in %s would pass the caller's deadline: %w", wait, apiError(op, status, err))
		}
		// The error is logged as text: Client4 wraps some errors with
		// github.com/pkg/errors, whose %+v (slog's format) prints a stack.
		a.log.Warn("mattermost call failed, retrying", "op", op, "status", status, "attempt", attempt, "wait", wait, "err", apiError(op, status, err).Error())
		if serr := a.sleep(ctx, wait); serr != nil {
			return resp, fmt.Errorf("mattermost %s: waiting to retry: %w", op, serr)
		}
	}
}

// backoff says whether a failed attempt may be retried and after how long.
func (a *Adapter) backoff(resp *model.Response, err error, p retryPolicy, attempt int) (time.Duration, bool) {
	status := statusOf(resp)
	exp := min(250*time.Millisecond<<(attempt-1), a.opt.MaxRetryWait)
	switch {
	case status == http.StatusTooManyRequests:
		if d, ok := retryAfter(resp.Header); ok {
			return d, true
		}
		return exp, true
	case p != retryAll:
		return 0, false
	case errors.Is(err, context.Canceled):
		return 0, false
	case status == 0, status == http.StatusInternalServerError, status == http.StatusBadGateway,
		status == http.StatusServiceUnavailable, status == http.StatusGatewayTimeout:
		return exp, true
	}
	return 0, false
}

// retryAfter reads Retry-After (seconds or an HTTP date), falling back on
// Mattermost's X-RateLimit-Reset (seconds).
func retryAfter(h http.Header) (time.Duration, bool) {
	if h == nil {
		return 0, false
	}
	for _, k := range []string{"Retry-After", "X-RateLimit-Reset"} {
		v := h.Get(k)
		if v == "" {
			continue
		}
		if s, err := strconv.Atoi(v); err == nil && s >= 0 {
			return time.Duration(s) * time.Second, true
		}
		if t, err := http.ParseTime(v); err == nil {
			return max(time.Until(t), 0), true
		}
	}
	return 0, false
}

func statusOf(resp *model.Response) int {
	if resp == nil {
		return 0
	}
	return resp.StatusCode
}

// APIError is a failed Mattermost API call: which call, the HTTP status
// (0 when no answer came) and Client4's error, which it wraps.
type APIError struct {
	Op     string
	Status int
	Err    error
}

// maxErrText bounds the error text: when a proxy answers with an HTML
// page, Client4's error quotes all of it.
const maxErrText = 300

func (e *APIError) Error() string {
	msg := truncateRunes(strings.ReplaceAll(e.Err.Error(), "\n", " "), maxErrText)
	if e.Status == 0 {
		return fmt.Sprintf("mattermost %s: %s", e.Op, msg)
	}
	return fmt.Sprintf("mattermost %s: HTTP %d: %s", e.Op, e.Status, msg)
}

func (e *APIError) Unwrap() error { return e.Err }

func apiError(op string, status int, err error) error {
	return &APIError{Op: op, Status: status, Err: err}
}

// sleepCtx waits d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
