package webhookchat

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/bottest"
)

const (
	secret = "conformance-webhook-secret"
	token  = "conformance-webhook-token"
)

// TestConformance: the plain webhook chat passes the suite, degrading
// where its platform cannot edit, attach or show a note to one user.
func TestConformance(t *testing.T) {
	bottest.RunAdapterSuite(t, bottest.Harness{
		// Rocket.Chat gives an outgoing webhook's answer a few seconds.
		Caps:   bottest.Caps{AckBudget: 5 * time.Second},
		Render: func(m bot.Message) ([]byte, error) { return []byte(Render(m)), nil },
		Start:  start,
	})
}

func start(t *testing.T, h bot.Handler) *bottest.Conn {
	chat := newFakeChat(t)
	var refusals atomic.Int32
	a, err := NewAdapter(Config{IncomingURL: chat.srv.URL, Secret: secret, Token: token},
		bot.Setup{OnRefused: func(context.Context, string, *http.Request) { refusals.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	srvURL := bottest.Serve(t, a, h, nil) + CommandPath
	user := bot.User{ID: "u-alice", Name: "alice"}
	body := func(tok, text string) []byte {
		b, _ := json.Marshal(outgoing{Token: tok, ChannelID: "GENERAL", ChannelName: "general", UserID: user.ID, UserName: user.Name, Text: "/gitlab-migrations " + text, MessageID: "x1"})
		return b
	}
	send := func(b []byte, sig string) (int, string, error) {
		req, err := http.NewRequest(http.MethodPost, srvURL, bytes.NewReader(b))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set(SignatureHeader, sig)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", fmt.Errorf("posting the outgoing webhook: %w", err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, err = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.String(), err
	}
	forged := func(b []byte, sig func([]byte) string) func(bool) (bool, error) {
		return func(garbage bool) (bool, error) {
			if garbage {
				b = []byte(`{"token": 7,`)
			}
			before := refusals.Load()
			status, _, err := send(b, sig(b))
			// Refused, and told to the hook serve audits refusals with.
			return status == http.StatusUnauthorized && refusals.Load() == before+1, err
		}
	}
	return &bottest.Conn{
		Adapter: a, Chat: a.Chat(), Channel: "GENERAL", User: user, Approver: bot.User{ID: "u-bob", Name: "bob"},
		Command: func(text string) (string, error) {
			b := body(token, text)
			status, answer, err := send(b, Sign(secret, b))
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("outgoing webhook answered %d: %s", status, answer)
			}
			return answer, err
		},
		StallAPI: chat.stall,
		Seen: func() []bottest.Post {
			var out []bottest.Post
			for _, p := range chat.all() {
				out = append(out, bottest.Post{ID: p.ID, Channel: p.Channel, Root: p.Root, Text: p.Text,
					Buttons: strings.Count(p.Text, "To approve, type")})
			}
			return out
		},
		Forgeries: []bottest.Forgery{
			{Name: "wrong signature", Send: forged(body(token, "status"), func(b []byte) string { return Sign("not-the-secret", b) })},
			{Name: "no signature", Send: forged(body(token, "status"), func([]byte) string { return "" })},
		},
	}
}

// TestWrongTokenIsRefused: a correctly signed webhook of another
// integration (its token differs) reaches nothing.
func TestWrongTokenIsRefused(t *testing.T) {
	chat := newFakeChat(t)
	var reasons []string
	a, err := NewAdapter(Config{IncomingURL: chat.srv.URL, Secret: secret, Token: token},
		bot.Setup{OnRefused: func(_ context.Context, reason string, _ *http.Request) { reasons = append(reasons, reason) }})
	if err != nil {
		t.Fatal(err)
	}
	called := false
	srv := httptest.NewServer(a.Handler(handlerFunc(func() { called = true })))
	defer srv.Close()
	b, _ := json.Marshal(outgoing{Token: "another-integration", ChannelID: "GENERAL", UserID: "u-alice", UserName: "alice", Text: "/gitlab-migrations status"})
	req, _ := http.NewRequest(http.MethodPost, srv.URL, bytes.NewReader(b))
	req.Header.Set(SignatureHeader, Sign(secret, b))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized || called || len(reasons) != 1 || reasons[0] != "bad token" {
		t.Errorf("wrong token: status %d, handler called %v, refusals told %q; want 401, no call, one \"bad token\"", resp.StatusCode, called, reasons)
	}
}
