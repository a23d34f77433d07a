package commands_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// holdProxy stands between the bot and the agent (mutual TLS on both
// sides, with the stack's certificates). It passes every call on, except
// the first migrate run: that one it accepts, keeps (headers and body) and
// drops, resetting the connection, so the run never reaches the agent, as
// a network that delays a request would. deliver sends the held request
// to the agent later.
type holdProxy struct {
	srv    *httptest.Server
	target *url.URL
	tr     *http.Transport
	mu     sync.Mutex
	held   *http.Request
	body   []byte
}

func startHoldProxy(t *testing.T, s *simtest.Stack) *holdProxy {
	t.Helper()
	certs := filepath.Join(s.Dir, "certs")
	pool := x509.NewCertPool()
	ca, err := os.ReadFile(filepath.Join(certs, "ca.pem"))
	if err != nil || !pool.AppendCertsFromPEM(ca) {
		t.Fatalf("reading the CA: %v", err)
	}
	agentCert, err := tls.LoadX509KeyPair(filepath.Join(certs, "agent.pem"), filepath.Join(certs, "agent-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	botCert, err := tls.LoadX509KeyPair(filepath.Join(certs, "bot.pem"), filepath.Join(certs, "bot-key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	target, err := url.Parse(s.AgentURL)
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{target: target, tr: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, Certificates: []tls.Certificate{botCert}, ServerName: "localhost"}}}
	rp := &httputil.ReverseProxy{
		Rewrite:       func(r *httputil.ProxyRequest) { r.SetURL(target) },
		Transport:     p.tr,
		FlushInterval: -1,
	}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if r.Method == http.MethodPost && bytes.Contains(body, []byte(`"operation":"migrate"`)) && p.hold(r, body) {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				t.Errorf("hijacking the run's connection: %v", err)
				return
			}
			if tc, ok := conn.(*tls.Conn).NetConn().(*net.TCPConn); ok {
				_ = tc.SetLinger(0) // a reset
			}
			conn.Close()
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		rp.ServeHTTP(w, r)
	}))
	p.srv.TLS = &tls.Config{Certificates: []tls.Certificate{agentCert}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pool}
	p.srv.StartTLS()
	t.Cleanup(func() { p.srv.Close(); p.tr.CloseIdleConnections() })
	return p
}

// hold keeps the first migrate run; it reports whether r was kept.
func (p *holdProxy) hold(r *http.Request, body []byte) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.held != nil {
		return false
	}
	p.held, p.body = r.Clone(context.Background()), body
	return true
}

// deliver sends the held run to the agent, as it was sent, and returns
// the agent's status and answer.
func (p *holdProxy) deliver(t *testing.T) (int, string) {
	t.Helper()
	p.mu.Lock()
	held, body := p.held, p.body
	p.mu.Unlock()
	if held == nil {
		t.Fatal("the proxy held no migrate run")
	}
	req, err := http.NewRequest(held.Method, p.target.JoinPath(held.URL.Path).String(), bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header = held.Header.Clone()
	resp, err := p.tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("delivering the held run: %v", err)
	}
	defer resp.Body.Close()
	answer, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(answer)
}

// TestRunThatNeverArrivedEndsNotStarted: the approved migrate's run never
// reaches the agent (the connection is dropped with the request in it).
// The bot asks the agent once, hears it has no job, and ends the request
// "nothing ran". That answer is definitive: when the held run is
// delivered afterwards, the agent refuses it (409, declared not started)
// and migrate never runs.
func TestRunThatNeverArrivedEndsNotStarted(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	proxy := startHoldProxy(t, s)
	certs := filepath.Join(s.Dir, "certs")
	client, err := agent.NewClient(agent.ClientConfig{URL: proxy.srv.URL, CAFile: filepath.Join(certs, "ca.pem"),
		CertFile: filepath.Join(certs, "bot.pem"), KeyFile: filepath.Join(certs, "bot-key.pem")})
	if err != nil {
		t.Fatal(err)
	}
	r, err := commands.New(commands.Options{Hosts: []commands.Host{{Name: s.Host.Name, Agent: client, Signer: s.Signer}},
		Approvals: s.Approvals, Audit: s.DB})
	if err != nil {
		t.Fatal(err)
	}
	rec := newRecorder()
	r.Register(rec)
	ctx, cancel := context.WithCancel(context.Background())
	if err := r.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); r.Close() })
	cmd := func(u bot.User, text string) {
		t.Helper()
		if err := handle(context.Background(), r, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: text}); err != nil {
			t.Fatal(err)
		}
		r.Wait()
	}
	cmd(alice, "migrate -- upgrade to 17.5")
	req := onePending(t, s)
	cmd(bob, "approve "+req.ID)

	got, err := s.DB.Request(context.Background(), req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != approvals.StateFailed || !strings.Contains(got.Error, "nothing ran") {
		t.Fatalf("request %s: %q; want failed, nothing ran", got.State, got.Error)
	}
	contains(t, rec.thread(req.Thread), "nothing ran")

	status, answer := proxy.deliver(t)
	if status != http.StatusConflict || !strings.Contains(answer, "this request was declared not started; open a new request") {
		t.Fatalf("the held run, delivered late: %d %s; want 409 declared not started", status, answer)
	}
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Errorf("migrate ran %d times on the agent, want never", n)
	}
}

// TestRunOfAClosedRequestEndsNotStarted: a lookup by request ID that finds
// no job closes the request at the agent (declared not started). A run
// for it that comes after gets 409; the bot looks the request up, hears
// again that it has no job, and ends it "nothing ran" (failed), not
// "outcome unknown".
func TestRunOfAClosedRequestEndsNotStarted(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	rec := newRecorder()
	s.Router.Register(rec)
	cmd := func(u bot.User, text string) {
		t.Helper()
		if err := handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: text}); err != nil {
			t.Fatal(err)
		}
		s.Router.Wait()
	}
	cmd(alice, "migrate -- upgrade to 17.5")
	req := onePending(t, s)
	if _, err := s.Client.JobForRequest(context.Background(), req.ID); err == nil {
		t.Fatal("the agent found a job for a request that never ran")
	}
	cmd(bob, "approve "+req.ID)

	got, err := s.DB.Request(context.Background(), req.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State != approvals.StateFailed || !strings.Contains(got.Error, "nothing ran") {
		t.Fatalf("request %s: %q; want failed, nothing ran", got.State, got.Error)
	}
	if n := agentJobs(t, s, "migrate"); n != 0 {
		t.Errorf("migrate ran %d times on the agent, want never", n)
	}
}
