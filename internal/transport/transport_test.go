package transport

import (
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// tlsServer is a loopback HTTPS server that counts the connections it
// accepted; h2 says whether it offers HTTP/2.
func tlsServer(t *testing.T, h2 bool, handler http.HandlerFunc) (*httptest.Server, *atomic.Int64, *tls.Config) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = h2
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	pool := x509.NewCertPool()
	pool.AddCert(srv.Certificate())
	return srv, &conns, &tls.Config{RootCAs: pool}
}

// burst sends n requests at once and waits for all of them; each request
// is held in the handler until all n arrived, so that n connections are
// really in use at the same time.
func burst(t *testing.T, c *http.Client, url string, n int) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := c.Get(url)
			if err != nil {
				errs <- err
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
}

// TestBurstsReuseConnections: after a burst of 40 concurrent calls on
// HTTP/1.1, the next bursts open no new TLS connection (Go's default
// transport keeps 2 idle per host and would open 38 more each time).
func TestBurstsReuseConnections(t *testing.T) {
	const n = 40
	var (
		mu      sync.Mutex
		arrived int
		all     = make(chan struct{})
	)
	srv, conns, tc := tlsServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrived++
		if arrived%n == 0 {
			close(all)
			all = make(chan struct{})
			mu.Unlock()
		} else {
			ch := all
			mu.Unlock()
			select {
			case <-ch:
			case <-time.After(5 * time.Second):
			}
		}
		_, _ = io.WriteString(w, "ok")
	})
	c := Client(Options{TLS: tc}, 10*time.Second)
	burst(t, c, srv.URL, n)
	first := conns.Load()
	if first != n {
		t.Fatalf("the first burst of %d concurrent calls opened %d connections, want %d", n, first, n)
	}
	burst(t, c, srv.URL, n)
	burst(t, c, srv.URL, n)
	if got := conns.Load() - first; got != 0 {
		t.Errorf("two more bursts of %d opened %d new connections, want 0 (idle ones reused)", n, got)
	}
}

// TestHTTP2WhenOffered: with a custom TLS configuration the transport
// still speaks HTTP/2 to a server that offers it, and HTTP/1.1 to one
// that does not.
func TestHTTP2WhenOffered(t *testing.T) {
	for _, tt := range []struct {
		name      string
		h2        bool
		wantMajor int
	}{
		{"server offers h2", true, 2},
		{"server offers http/1.1 only", false, 1},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv, _, tc := tlsServer(t, tt.h2, func(w http.ResponseWriter, r *http.Request) {})
			resp, err := Client(Options{TLS: tc}, 10*time.Second).Get(srv.URL)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.ProtoMajor != tt.wantMajor {
				t.Errorf("spoke %s, want HTTP/%d", resp.Proto, tt.wantMajor)
			}
		})
	}
}

// TestSessionsResume: a new connection to a server seen before resumes the
// TLS session (no full handshake with certificate verification).
func TestSessionsResume(t *testing.T) {
	srv, conns, tc := tlsServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		if r.TLS != nil && r.TLS.DidResume {
			w.Header().Set("X-Resumed", "yes")
		}
	})
	tr := New(Options{TLS: tc})
	c := &http.Client{Transport: tr}
	var resumed []string
	for range 2 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		resumed = append(resumed, resp.Header.Get("X-Resumed"))
		tr.CloseIdleConnections()
	}
	if conns.Load() != 2 || resumed[0] != "" || resumed[1] != "yes" {
		t.Errorf("2 connections: %d opened, resumed %q; want the second one resumed", conns.Load(), resumed)
	}
}

// TestOptions: the chat default honours proxies and bounds connections per
// host; an agent transport is direct and unbounded; the given TLS
// configuration is kept (cloned, not shared).
func TestOptions(t *testing.T) {
	chat := New(Options{})
	if chat.Proxy == nil || chat.MaxConnsPerHost != ChatConnsPerHost || chat.MaxIdleConnsPerHost != IdlePerHost || !chat.ForceAttemptHTTP2 {
		t.Errorf("chat transport: proxy set %v, max conns %d, idle %d, h2 %v", chat.Proxy != nil, chat.MaxConnsPerHost, chat.MaxIdleConnsPerHost, chat.ForceAttemptHTTP2)
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS13, ServerName: "agent-1"}
	ag := New(Options{TLS: tc, Direct: true, Unbounded: true})
	if ag.Proxy != nil || ag.MaxConnsPerHost != 0 || ag.TLSClientConfig.MinVersion != tls.VersionTLS13 || ag.TLSClientConfig.ServerName != "agent-1" {
		t.Errorf("agent transport: proxy set %v, max conns %d, TLS %+v", ag.Proxy != nil, ag.MaxConnsPerHost, ag.TLSClientConfig)
	}
	if tc.ClientSessionCache != nil {
		t.Error("the caller's TLS configuration was changed")
	}
}

// TestUnreadAnswersKeepTheirConnection: a caller that closes an answer
// without reading it (as slack-go does with a file upload's) does not cost
// a new connection for the next call.
func TestUnreadAnswersKeepTheirConnection(t *testing.T) {
	srv, conns, tc := tlsServer(t, false, func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.WriteString(w, "OK - 1234 bytes received")
	})
	c := Client(Options{TLS: tc}, 10*time.Second)
	for range 5 {
		resp, err := c.Get(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close() // unread
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("5 calls whose answers were closed unread opened %d connections, want 1", n)
	}
}
