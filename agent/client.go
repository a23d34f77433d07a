package agent

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
	"github.com/gitlab-chatops/gitlab-chatops/internal/transport"
)

// ClientConfig configures the bot's connection to one agent.
type ClientConfig struct {
	// URL is the agent's base URL, e.g. https://gitlab-1.example.com:8443.
	// http:// is accepted only for a loopback host (an agent in insecure
	// development mode) and then without certificate files.
	URL      string
	CAFile   string // the CA that signed the agent's certificate
	CertFile string // the bot's client certificate
	KeyFile  string // its key
	// ServerName overrides the name checked in the agent's certificate
	// (default: the URL's host).
	ServerName string
	// StreamIdleTimeout declares a stream dead when no event (not even a
	// heartbeat) arrived for this long. Default 30s (six heartbeats).
	StreamIdleTimeout time.Duration
	// RequestTimeout bounds the non-streaming calls. Default 30s.
	RequestTimeout time.Duration
}

// Client talks to one agent. It is safe for concurrent use.
type Client struct {
	base           *url.URL
	hc             *http.Client
	idleTimeout    time.Duration
	requestTimeout time.Duration
}

// NewClient builds a client with mutual TLS (TLS 1.3) from PEM files.
func NewClient(cfg ClientConfig) (*Client, error) {
	u, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if u.Scheme == "http" {
		if cfg.CAFile != "" || cfg.CertFile != "" || cfg.KeyFile != "" {
			return nil, errors.New("agent client: certificate files given for an http:// URL; use https://")
		}
		return NewClientHTTP(cfg, &http.Client{Transport: newTransport(nil)})
	}
	tc, err := LoadClientTLS(cfg.CAFile, cfg.CertFile, cfg.KeyFile)
	if err != nil {
		return nil, err
	}
	tc.ServerName = cfg.ServerName
	return NewClientHTTP(cfg, &http.Client{Transport: newTransport(tc)})
}

// NewClientHTTP builds a client that uses hc as it is (its TLS settings
// included); cfg's URL and timeouts apply, its file names are ignored. For
// tests and for embedding. hc must not have a Timeout: streams are long.
func NewClientHTTP(cfg ClientConfig, hc *http.Client) (*Client, error) {
	u, err := parseBaseURL(cfg.URL)
	if err != nil {
		return nil, err
	}
	if hc == nil {
		return nil, errors.New("agent client: nil http.Client")
	}
	c := &Client{base: u, hc: hc, idleTimeout: cfg.StreamIdleTimeout, requestTimeout: cfg.RequestTimeout}
	if c.idleTimeout <= 0 {
		c.idleTimeout = 30 * time.Second
	}
	if c.requestTimeout <= 0 {
		c.requestTimeout = 30 * time.Second
	}
	return c, nil
}

// LoadClientTLS returns the bot's TLS configuration: TLS 1.3, the agent
// verified against caFile, the bot's certificate presented.
func LoadClientTLS(caFile, certFile, keyFile string) (*tls.Config, error) {
	if caFile == "" || certFile == "" || keyFile == "" {
		return nil, errors.New("agent client: CA, certificate and key files are all required for https")
	}
	pool, err := loadCertPool(caFile)
	if err != nil {
		return nil, fmt.Errorf("agent client: CA: %w", err)
	}
	cert, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return nil, fmt.Errorf("agent client: certificate %s / key %s: %w", certFile, keyFile, err)
	}
	return &tls.Config{MinVersion: tls.VersionTLS13, RootCAs: pool, Certificates: []tls.Certificate{cert}}, nil
}

// newTransport is the shared tuned transport (internal/transport) for an
// agent: direct (never through a proxy), and without a bound on
// connections, because a job's event stream holds its connection for as
// long as the job runs. Headers may take a while: a run answers once the
// job started.
func newTransport(tc *tls.Config) *http.Transport {
	return transport.New(transport.Options{TLS: tc, Direct: true, Unbounded: true, ResponseHeaderTimeout: 60 * time.Second})
}

// URLExample shows the form of an agent's URL, for messages.
const URLExample = "https://gitlab-1.example.com:8443"

// parseBaseURL applies the one rule for a URL the bot calls
// (configcheck.ParseHTTPSURL: https, plain http only on loopback), which
// the bot's config check applies to hosts[].agent too.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := configcheck.ParseHTTPSURL(strings.TrimRight(raw, "/"), URLExample)
	if err != nil {
		return nil, fmt.Errorf("agent client: URL: %w", err)
	}
	return u, nil
}

func (c *Client) url(path string, query url.Values) string {
	u := *c.base
	u.Path = strings.TrimRight(u.Path, "/") + path
	u.RawQuery = query.Encode()
	return u.String()
}

// Run starts a job and follows its stream to the end, calling onEvent (if
// not nil) for every event. It returns the final record. Errors: *BusyError
// (409), *APIError (any other refusal), *StreamError once the job has
// started (it goes on; re-attach), and ErrDigestMismatch (wrapped, with the
// record) when every line arrived but their digest is not the agent's. An
// error from onEvent stops reading and comes back inside a *StreamError.
func (c *Client) Run(ctx context.Context, req RunRequest, onEvent func(Event) error) (JobRecord, error) {
	body, err := json.Marshal(req)
	if err != nil {
		return JobRecord{}, fmt.Errorf("agent client: encode request: %w", err)
	}
	return c.stream(ctx, http.MethodPost, c.url("/v1/jobs", nil), body, "", 1, onEvent)
}

// Attach follows an existing job's stream from line from (1 or 0: from the
// start): replayed lines, then live ones, then the end event. The digest is
// verified when from <= 1 and every line arrived.
func (c *Client) Attach(ctx context.Context, id string, from int64, onEvent func(Event) error) (JobRecord, error) {
	q := url.Values{"from": {strconv.FormatInt(from, 10)}}
	return c.stream(ctx, http.MethodGet, c.url("/v1/jobs/"+url.PathEscape(id)+"/stream", q), nil, id, from, onEvent)
}

// ErrStreamIdle is the cause when no event arrived for the stream idle
// timeout: the agent took the request and then said nothing, not even a
// heartbeat (a hung agent, or a network that drops packets silently).
var ErrStreamIdle = errors.New("no event from the agent (not even a heartbeat) for too long")

func (c *Client) stream(ctx context.Context, method, u string, body []byte, jobID string, from int64, onEvent func(Event) error) (JobRecord, error) {
	sctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	watchdog := time.AfterFunc(c.idleTimeout, func() { cancel(ErrStreamIdle) })
	defer watchdog.Stop()

	req, err := http.NewRequestWithContext(sctx, method, u, bytesReader(body))
	if err != nil {
		return JobRecord{}, fmt.Errorf("agent client: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/x-ndjson")
	resp, err := c.hc.Do(req)
	if err != nil {
		return JobRecord{}, fmt.Errorf("agent client: %s %s: %w", method, u, causeOr(sctx, err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return JobRecord{}, responseError(resp)
	}

	var (
		dec      = json.NewDecoder(resp.Body)
		lastSeq  = max(from, 1) - 1
		complete = from <= 1 // every line from 1 on, each once, in order
		digest   = NewDigester()
	)
	broken := func(err error) error {
		if jobID == "" {
			return fmt.Errorf("agent client: stream ended before the job event: %w", err)
		}
		return &StreamError{JobID: jobID, LastSeq: lastSeq, Err: err}
	}
	for {
		var ev Event
		if err := dec.Decode(&ev); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF // the stream must end with an end event
			}
			return JobRecord{}, broken(causeOr(sctx, err))
		}
		watchdog.Reset(c.idleTimeout)
		switch ev.Type {
		case EventJob:
			if ev.Job == nil {
				return JobRecord{}, broken(errors.New("job event without job"))
			}
			jobID = ev.Job.ID
		case EventLine:
			if ev.Line == nil {
				return JobRecord{}, broken(errors.New("line event without line"))
			}
			l := ev.Line
			if l.Seq != lastSeq+1 {
				complete = false // a gap (log truncated) or a repeat
			} else if complete {
				digest.Add(l.Stream, l.Text)
			}
			lastSeq = max(lastSeq, l.Seq)
		case EventEnd:
			if ev.Record == nil {
				return JobRecord{}, broken(errors.New("end event without record"))
			}
			rec := *ev.Record
			if onEvent != nil {
				if err := onEvent(ev); err != nil {
					return rec, broken(fmt.Errorf("event handler: %w", err))
				}
			}
			if complete && lastSeq == rec.Lines {
				if got := digest.Sum(); got != rec.Digest {
					return rec, fmt.Errorf("%w: job %s: the %d lines received digest to %s, the agent recorded %s",
						ErrDigestMismatch, rec.ID, rec.Lines, got, rec.Digest)
				}
			}
			return rec, nil
		}
		if onEvent != nil {
			if err := onEvent(ev); err != nil {
				return JobRecord{}, broken(fmt.Errorf("event handler: %w", err))
			}
		}
	}
}

// causeOr prefers the context's cause (idle watchdog, caller's cancel) to
// the transport's generic error.
func causeOr(ctx context.Context, err error) error {
	if c := context.Cause(ctx); c != nil {
		return fmt.Errorf("%w (%v)", c, err)
	}
	return err
}

func bytesReader(b []byte) io.Reader {
	if b == nil {
		return nil
	}
	return bytes.NewReader(b)
}

// responseError turns a non-2xx answer into *BusyError, ErrJobNotFound or
// *APIError.
func responseError(resp *http.Response) error {
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	var er ErrorResponse
	if err := json.Unmarshal(data, &er); err != nil || er.Error == "" {
		er = ErrorResponse{Error: strings.TrimSpace(string(data))}
		if er.Error == "" {
			er.Error = resp.Status
		}
	}
	switch {
	case resp.StatusCode == http.StatusConflict && er.Running != nil:
		return &BusyError{Message: er.Error, Running: *er.Running}
	case resp.StatusCode == http.StatusNotFound && er.Field == "id":
		return fmt.Errorf("%w: %s", ErrJobNotFound, er.Error)
	case resp.StatusCode == http.StatusNotFound && er.Field == "request_id":
		return fmt.Errorf("%w: %s", ErrNoJobForRequest, er.Error)
	}
	return &APIError{Status: resp.StatusCode, Message: er.Error, Field: er.Field, RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
}

// maxRetryAfter caps what a Retry-After may ask for; a client bounds its
// own waiting too.
const maxRetryAfter = time.Minute

// retryAfter parses a Retry-After header: delay-seconds or an HTTP date.
// Anything unreadable or in the past is 0.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if n, err := strconv.Atoi(v); err == nil {
		d = time.Duration(n) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}

// do makes a non-streaming call and decodes a 2xx answer into out.
func (c *Client) do(ctx context.Context, method, path string, query url.Values, in, out any) error {
	ctx, cancel := context.WithTimeout(ctx, c.requestTimeout)
	defer cancel()
	var body io.Reader
	if in != nil {
		data, err := json.Marshal(in)
		if err != nil {
			return fmt.Errorf("agent client: encode: %w", err)
		}
		body = bytes.NewReader(data)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(path, query), body)
	if err != nil {
		return fmt.Errorf("agent client: %w", err)
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return fmt.Errorf("agent client: %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return responseError(resp)
	}
	// Records carry at most 2*HeadTailLines lines of MaxLineBytes.
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<20)).Decode(out); err != nil {
		return fmt.Errorf("agent client: %s %s: decode answer: %w", method, path, err)
	}
	return nil
}

// Job returns a job's record (current, if it runs). ErrJobNotFound when
// the agent does not know it.
func (c *Client) Job(ctx context.Context, id string) (JobRecord, error) {
	var rec JobRecord
	err := c.do(ctx, http.MethodGet, "/v1/jobs/"+url.PathEscape(id), nil, nil, &rec)
	return rec, err
}

// JobForRequest returns the record of the mutating job that ran, or runs,
// for an approved request. ErrNoJobForRequest when the agent has none.
func (c *Client) JobForRequest(ctx context.Context, requestID string) (JobRecord, error) {
	var rec JobRecord
	err := c.do(ctx, http.MethodGet, "/v1/jobs", url.Values{"request_id": {requestID}}, nil, &rec)
	return rec, err
}

// Cancel asks the agent to stop a running job (SIGTERM to its process
// group, SIGKILL after kill_grace). It returns at once; the job's stream or
// record shows the end. A finished job yields an *APIError with status 409.
func (c *Client) Cancel(ctx context.Context, id string, req CancelRequest) (JobSummary, error) {
	var s JobSummary
	err := c.do(ctx, http.MethodPost, "/v1/jobs/"+url.PathEscape(id)+"/cancel", nil, req, &s)
	return s, err
}

// Health reports whether the agent is up and what it runs.
func (c *Client) Health(ctx context.Context) (Health, error) {
	var h Health
	err := c.do(ctx, http.MethodGet, "/v1/health", nil, nil, &h)
	return h, err
}

// Version reports the agent's version and catalogue.
func (c *Client) Version(ctx context.Context) (VersionInfo, error) {
	var v VersionInfo
	err := c.do(ctx, http.MethodGet, "/v1/version", nil, nil, &v)
	return v, err
}
