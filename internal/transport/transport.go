// Package transport builds the HTTP transports of the bot's outbound
// clients: the Slack and Mattermost Web APIs and the agents. One place
// holds the settings, so that no client falls back to Go's default
// transport, which keeps only two idle connections per host: under a burst
// of commands every further call then opens (and pays for) a new TLS
// connection, and those handshakes compete for the CPU with the
// acknowledgement of the next commands (issue 11, "Acknowledgement under
// load").
package transport

import (
	"crypto/tls"
	"io"
	"net"
	"net/http"
	"time"
)

// Defaults of the tuned transports.
const (
	// IdlePerHost is how many idle connections are kept per host: enough
	// for a burst of sends on many channels at once to find a warm
	// connection instead of a new TLS handshake.
	IdlePerHost = 64
	// ChatConnsPerHost bounds the connections to one chat API host; a call
	// beyond it waits for a free connection (milliseconds) rather than
	// opening one more. Agents are not bounded: a job's stream holds its
	// connection for as long as the job runs.
	ChatConnsPerHost = 64
	// IdleTimeout closes a connection unused this long.
	IdleTimeout = 90 * time.Second
	// DialTimeout and HandshakeTimeout bound connecting.
	DialTimeout      = 10 * time.Second
	HandshakeTimeout = 10 * time.Second
	// sessionCacheSize is the number of TLS sessions kept for resumption
	// (a resumed handshake skips the certificate chain's verification).
	sessionCacheSize = 256
)

// Options describe one transport. The zero value is a chat API transport:
// system roots, proxies from the environment, at most ChatConnsPerHost
// connections per host.
type Options struct {
	// TLS is the client TLS configuration (root CAs, client certificate,
	// server name); nil means the system roots and TLS 1.2 or later. It is
	// cloned; a session cache is added when it has none.
	TLS *tls.Config
	// Direct ignores HTTP(S)_PROXY: the agents are reached directly.
	Direct bool
	// Unbounded lifts the per-host connection bound, for clients whose
	// responses are long streams (the agent's job events).
	Unbounded bool
	// ResponseHeaderTimeout bounds the wait for a response's headers after
	// the request was written (0: 60 s).
	ResponseHeaderTimeout time.Duration
}

// New returns a tuned transport: IdlePerHost idle connections per host,
// HTTP/2 when the server offers it (ALPN), TLS session resumption, and
// bounded dial, handshake and header waits.
func New(o Options) *http.Transport {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if o.TLS != nil {
		tc = o.TLS.Clone()
	}
	if tc.ClientSessionCache == nil {
		tc.ClientSessionCache = tls.NewLRUClientSessionCache(sessionCacheSize)
	}
	t := &http.Transport{
		Proxy:           http.ProxyFromEnvironment,
		DialContext:     (&net.Dialer{Timeout: DialTimeout, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig: tc,
		// With a custom TLS configuration Go offers HTTP/2 only when asked.
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   HandshakeTimeout,
		ResponseHeaderTimeout: o.ResponseHeaderTimeout,
		ExpectContinueTimeout: time.Second,
		IdleConnTimeout:       IdleTimeout,
		MaxIdleConns:          4 * IdlePerHost,
		MaxIdleConnsPerHost:   IdlePerHost,
		MaxConnsPerHost:       ChatConnsPerHost,
	}
	if o.Direct {
		t.Proxy = nil
	}
	if o.Unbounded {
		t.MaxConnsPerHost = 0
	}
	if t.ResponseHeaderTimeout <= 0 {
		t.ResponseHeaderTimeout = 60 * time.Second
	}
	return t
}

// Client is an http.Client on New(o) with an overall timeout per call (0:
// none, for streams). Response bodies are drained (up to DrainLimit) when
// closed: a connection whose response was not read to its end cannot be
// reused, and slack-go leaves some unread (a file upload's answer), which
// cost a new TLS connection per call.
func Client(o Options, timeout time.Duration) *http.Client {
	return &http.Client{Transport: RoundTripper(o), Timeout: timeout}
}

// RoundTripper is Client's transport without a client around it, for a
// caller that sets its own timeout (a chat adapter, given it through
// bot.Setup.HTTPTransport).
func RoundTripper(o Options) http.RoundTripper { return draining{New(o)} }

// DrainLimit bounds what Close reads of an unread response body; a longer
// rest is dropped with its connection.
const DrainLimit = 64 << 10

// draining wraps response bodies so that Close reads them to their end.
type draining struct{ rt http.RoundTripper }

func (d draining) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := d.rt.RoundTrip(req)
	if err == nil && resp.Body != nil && resp.Body != http.NoBody {
		resp.Body = &drainOnClose{resp.Body}
	}
	return resp, err
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the
// transport.
func (d draining) CloseIdleConnections() {
	if c, ok := d.rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

type drainOnClose struct{ io.ReadCloser }

func (b *drainOnClose) Close() error {
	_, _ = io.CopyN(io.Discard, b.ReadCloser, DrainLimit)
	return b.ReadCloser.Close()
}
