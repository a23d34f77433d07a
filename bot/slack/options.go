package slack

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// RefusedFunc is told about every inbound HTTP request the adapter refuses
// before it reaches the handler (bad signature, stale or replayed request,
// wrong content type, oversized body). The wiring connects it to the audit
// log (action auth.refused); the adapter cannot import the store. reason is
// a short, secret-free phrase; r's body has already been read.
type RefusedFunc func(ctx context.Context, reason string, r *http.Request)

// Option configures an Adapter.
type Option func(*options)

type options struct {
	logger     *slog.Logger
	clock      func() time.Time
	apiURL     string
	httpClient *http.Client
	onRefused  RefusedFunc
	// apiObserver is told about every Web API call (WithAPIObserver).
	apiObserver bot.APIObserver

	maxBody        int64
	replayCapacity int
	seen           bot.Seen
	seenTimeout    time.Duration
	ackBudget      time.Duration
	handlerTimeout time.Duration

	channelInterval time.Duration
	maxAttempts     int
	backoffBase     time.Duration
	backoffMax      time.Duration
	sendTimeout     time.Duration

	groupTTL        time.Duration
	responseURLOK   func(*url.URL) bool
	socketRetryBase time.Duration
}

func defaultOptions() options {
	return options{
		logger: slog.Default(),
		clock:  time.Now,
		// NewAdapter puts it on bot.Setup.HTTPTransport, the tuned
		// transport serve passes.
		httpClient:     apiClient(nil),
		maxBody:        128 << 10,
		replayCapacity: 100_000,
		// A shared Seen is one etcd round trip; a second is far beyond
		// it and still leaves most of Slack's 3 s for the handler.
		seenTimeout: time.Second,
		// Slack gives up after 3 s; answer well before.
		ackBudget:      2 * time.Second,
		handlerTimeout: time.Minute,

		channelInterval: time.Second,
		maxAttempts:     5,
		backoffBase:     time.Second,
		backoffMax:      30 * time.Second,
		sendTimeout:     2 * time.Minute,

		groupTTL:        5 * time.Minute,
		responseURLOK:   isSlackResponseURL,
		socketRetryBase: time.Second,
	}
}

// apiClient is the HTTP client of the Web API calls on rt (nil: Go's
// default transport). slack-go's client has no timeout by default; a hung
// Slack must not hang a thread of the bot.
func apiClient(rt http.RoundTripper) *http.Client {
	return &http.Client{Transport: rt, Timeout: 30 * time.Second}
}

// WithLogger sets the logger (default slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(o *options) {
		if l != nil {
			o.logger = l
		}
	}
}

// WithClock sets the clock used for signature timestamps and cache
// expiry (default time.Now).
func WithClock(now func() time.Time) Option {
	return func(o *options) {
		if now != nil {
			o.clock = now
		}
	}
}

// WithAPIURL points the Web API client elsewhere, e.g. at a fake in tests
// ("http://127.0.0.1:PORT/api/"; the trailing slash matters). It wins
// over Config.APIURL and is not checked: prefer Config.APIURL, which is.
func WithAPIURL(u string) Option { return func(o *options) { o.apiURL = u } }

// WithHTTPClient sets the client for Web API and response_url calls. Give
// it a Timeout: slack-go sets none.
func WithHTTPClient(c *http.Client) Option {
	return func(o *options) {
		if c != nil {
			o.httpClient = c
		}
	}
}

// WithOnRefused sets the hook told about refused inbound requests.
func WithOnRefused(f RefusedFunc) Option { return func(o *options) { o.onRefused = f } }

// WithMaxBody limits inbound request bodies (default 128 KiB; an
// interaction payload carries the whole message, so it is larger than a
// slash command's few hundred bytes).
func WithMaxBody(n int64) Option {
	return func(o *options) {
		if n > 0 {
			o.maxBody = n
		}
	}
}

// WithReplayCapacity bounds how many request signatures are remembered
// for replay protection (default 100 000, far above five minutes of
// traffic). When it is full of unexpired entries, new requests are
// refused rather than let a replay through.
func WithReplayCapacity(n int) Option {
	return func(o *options) {
		if n > 0 {
			o.replayCapacity = n
		}
	}
}

// WithSeen sets the memory of once-only keys (request signatures,
// Socket Mode envelope IDs): one shared by the replicas (storage/etcd)
// recognises a replay or redelivery that reaches another replica. nil
// keeps the default, a bot.MemorySeen of WithReplayCapacity's size.
func WithSeen(s bot.Seen) Option { return func(o *options) { o.seen = s } }

// WithAckBudget sets how long a slash command may wait for the handler
// before Slack is answered anyway (default 2 s of Slack's 3 s). A refusal
// that comes later is shown through response_url.
func WithAckBudget(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.ackBudget = d
		}
	}
}

// WithChannelInterval sets the least time between two writes to one
// channel (default 1 s, Slack's per-channel posting limit).
func WithChannelInterval(d time.Duration) Option {
	return func(o *options) {
		if d >= 0 {
			o.channelInterval = d
		}
	}
}

// WithRetry sets how often a Web API call is tried in all (default 5) and
// the first backoff for 5xx and for 429 without Retry-After (default 1 s,
// doubling, at most 30 s).
func WithRetry(attempts int, backoff time.Duration) Option {
	return func(o *options) {
		if attempts > 0 {
			o.maxAttempts = attempts
		}
		if backoff > 0 {
			o.backoffBase = backoff
			if o.backoffMax < backoff {
				o.backoffMax = backoff
			}
		}
	}
}

// WithSendTimeout bounds one outbound message from queueing to its last
// retry (default 2 min).
func WithSendTimeout(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.sendTimeout = d
		}
	}
}

// WithGroupTTL sets how long user group members are cached (default
// 5 min; usergroups.users.list is Tier 2).
func WithGroupTTL(d time.Duration) Option {
	return func(o *options) {
		if d > 0 {
			o.groupTTL = d
		}
	}
}

// WithResponseURLCheck replaces the check on response_url values before
// the adapter POSTs to them (default: https on a Slack hooks host). Tests
// use it to allow their fake.
func WithResponseURLCheck(ok func(*url.URL) bool) Option {
	return func(o *options) {
		if ok != nil {
			o.responseURLOK = ok
		}
	}
}

// isSlackResponseURL accepts the hosts Slack hands out response URLs on.
// A response_url comes from a verified payload, but checking it keeps a
// leaked signing secret from turning the bot into a request relay.
func isSlackResponseURL(u *url.URL) bool {
	if u.Scheme != "https" || u.User != nil {
		return false
	}
	h := strings.ToLower(u.Hostname())
	return h == "hooks.slack.com" || h == "hooks.slack-gov.com"
}

// WithAPIObserver reports every Web API call (method, attempts, error) to
// o, for metrics.
func WithAPIObserver(o bot.APIObserver) Option {
	return func(opt *options) { opt.apiObserver = o }
}
