package slack

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
)

// TestRefusedWithoutSideEffects sends everything that must be refused
// through the real stack and checks that nothing reached the handler,
// nothing was posted, no request was opened, and every refusal was
// reported to the audit hook.
func TestRefusedWithoutSideEffects(t *testing.T) {
	f := startFlow(t, approvals.Policy{}, commands.Options{})
	commandsURL, interactionsURL := f.srv.URL+PathCommands, f.srv.URL+PathInteractions
	migrate := slashForm(alice, "alice", testChannel, "migrate", f.fake.responseURL("x"))
	click := clickForm(bob, "bob", testChannel, "1700000000.000001", "approve", "r7k2qxa9", f.fake.responseURL("x"))

	type tc struct {
		name   string
		req    func() *http.Request
		status int
		reason string
	}
	cases := []tc{
		{"forged signature", func() *http.Request {
			return signedRequest(t, commandsURL, migrate, "not-the-secret", time.Now())
		}, 401, "signature does not match"},
		{"forged click", func() *http.Request {
			return signedRequest(t, interactionsURL, click, "not-the-secret", time.Now())
		}, 401, "signature does not match"},
		{"signature over another body", func() *http.Request {
			now := time.Now()
			r := signedRequest(t, commandsURL, strings.Replace(migrate, "migrate", "restart", 1), testSecret, now)
			r.Header.Set(HeaderSignature, sign(testSecret, now.Unix(), migrate))
			return r
		}, 401, "signature does not match"},
		{"stale timestamp", func() *http.Request {
			return signedRequest(t, commandsURL, migrate, testSecret, time.Now().Add(-10*time.Minute))
		}, 401, "outside the 5-minute window"},
		{"timestamp from the future", func() *http.Request {
			return signedRequest(t, commandsURL, migrate, testSecret, time.Now().Add(10*time.Minute))
		}, 401, "outside the 5-minute window"},
		{"no signature", func() *http.Request {
			r := signedRequest(t, commandsURL, migrate, testSecret, time.Now())
			r.Header.Del(HeaderSignature)
			return r
		}, 401, "missing signature"},
		{"wrong content type", func() *http.Request {
			r := signedRequest(t, commandsURL, `{"text":"migrate"}`, testSecret, time.Now())
			r.Header.Set("Content-Type", "application/json")
			return r
		}, 415, "content type"},
		{"oversized body", func() *http.Request {
			return signedRequest(t, commandsURL, migrate+"&pad="+strings.Repeat("a", 200<<10), testSecret, time.Now())
		}, 413, "larger than the limit"},
		{"oversized body without a length", func() *http.Request {
			r := signedRequest(t, interactionsURL, click+"&pad="+strings.Repeat("a", 200<<10), testSecret, time.Now())
			r.ContentLength = -1 // chunked: only the reader's limit catches it
			return r
		}, 413, "larger than the limit"},
		{"GET", func() *http.Request {
			r, _ := http.NewRequest(http.MethodGet, commandsURL, nil)
			return r
		}, 405, "method GET"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := len(f.rec.List())
			resp := do(t, c.req())
			if resp.status != c.status {
				t.Errorf("status %d, want %d", resp.status, c.status)
			}
			got := f.rec.List()
			if len(got) != before+1 || !strings.Contains(got[len(got)-1], c.reason) {
				t.Errorf("refusal reasons %q, want one more containing %q", got[before:], c.reason)
			}
		})
	}

	// Replay: the same signed request twice. The first runs (help answers
	// through response_url), the second is refused before the handler.
	body, at := slashForm(alice, "alice", testChannel, "help", f.fake.responseURL("help")), time.Now()
	help := signedRequest(t, commandsURL, body, testSecret, at)
	replay := signedRequest(t, commandsURL, body, testSecret, at)
	if resp := do(t, help); resp.status != http.StatusOK {
		t.Fatalf("first help: %d", resp.status)
	}
	if resp := do(t, replay); resp.status != http.StatusUnauthorized {
		t.Errorf("replayed help: %d, want 401", resp.status)
	}
	if got := f.rec.List(); !strings.Contains(got[len(got)-1], "replay") {
		t.Errorf("replay not reported: %q", got)
	}
	if n := f.h.Commands.Load(); n != 1 {
		t.Errorf("handler saw %d commands, want only the first help", n)
	}

	// A signed click for a request that does not exist: accepted by the
	// adapter, refused by the router, shown to the clicker alone.
	unknown := clickForm(bob, "bob", testChannel, "1700000000.000001", "approve", "zzzzzzzz", f.fake.responseURL("unknown"))
	if resp := do(t, signedRequest(t, interactionsURL, unknown, testSecret, time.Now())); resp.status != http.StatusOK {
		t.Errorf("unknown request click: %d", resp.status)
	}
	eventually(t, "the unknown-request refusal", func() bool {
		for _, r := range f.fake.allResponses() {
			if r.Path == "/response/unknown" {
				return strings.Contains(r.Body["text"].(string), "no request zzzzzzzz")
			}
		}
		return false
	})

	// Nothing happened anywhere.
	for _, m := range []string{"chat.postMessage", "chat.update", "files.completeUploadExternal"} {
		if n := len(f.fake.callsTo(m)); n != 0 {
			t.Errorf("%d %s calls", n, m)
		}
	}
	reqs, err := f.stack.DB.Requests(context.Background(), approvals.RequestFilter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(reqs) != 0 {
		t.Errorf("%d requests in the store, want none", len(reqs))
	}
	if n := f.h.Actions.Load(); n != 1 {
		t.Errorf("handler saw %d clicks, want only the unknown-request one", n)
	}
}
