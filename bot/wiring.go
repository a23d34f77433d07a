package bot

import (
	"context"
	"log/slog"
	"net/http"
)

// What an adapter may offer beyond Adapter, for the program that runs it
// (serve, the console) to wire it without knowing the platform. serve
// checks each with a type assertion; an adapter implements only those
// that apply to it.

// HTTPServed is implemented by an adapter whose input arrives over HTTP.
// serve mounts HTTPHandler under HTTPPrefix on its one mux, or, when
// HTTPListen names an address, on a listener of the adapter's own (so it
// can be firewalled to the platform's servers), bound before anything
// starts and stopped with the others.
type HTTPServed interface {
	// HTTPPrefix is the path prefix of the adapter's endpoints ("/slack/").
	HTTPPrefix() string
	// HTTPHandler serves those endpoints: it authenticates each request
	// before parsing it and hands what it receives to h.
	HTTPHandler(h Handler) http.Handler
	// HTTPListen is the address of a listener of the adapter's own, or ""
	// for serve's main listener.
	HTTPListen() string
}

// Reacher is implemented by an adapter that can check, at start, that
// its platform answers and takes its credentials; serve reports the
// platform not ready on /readyz until it has, and stops at once on
// ErrCredentialsRefused.
type Reacher interface {
	Reach(ctx context.Context) error
	// ReachCall names the call Reach makes, for people ("auth.test").
	ReachCall() string
}

// Drainer is implemented by an adapter that keeps work of its own after
// a handler returned (late replies, queued messages); serve calls Wait
// after its listeners and Run have stopped, before the router closes.
type Drainer interface{ Wait() }

// Setup is what the program gives every adapter it builds: where to log,
// who is told about inbound requests refused before parsing (serve audits
// them, counted per source and minute), who observes chat API calls
// (metrics), and what carries those calls. Zero fields are fine: the
// adapter logs to slog.Default, tells nobody and uses Go's default
// transport.
type Setup struct {
	Logger *slog.Logger
	// OnRefused is told about every inbound request refused before it was
	// parsed (bad signature, token or HMAC; replays); reason never holds a
	// secret.
	OnRefused   func(ctx context.Context, reason string, r *http.Request)
	APIObserver APIObserver
	// HTTPTransport carries the adapter's calls to its platform's API;
	// the adapter puts its own timeout around it. serve passes the shared
	// tuned transport (internal/transport: enough idle connections for a
	// burst, HTTP/2, unread bodies drained); nil is http.DefaultTransport.
	HTTPTransport http.RoundTripper
	// Seen remembers the once-only keys of inbound requests (replayed
	// signatures, redelivered envelopes). serve passes one shared by the
	// replicas when they share etcd; nil is a MemorySeen of the adapter's
	// own (one process).
	Seen Seen
}
