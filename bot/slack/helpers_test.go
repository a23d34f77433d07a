package slack

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

func TestMain(m *testing.M) {
	simtest.RunSimIfAsked()
	flag.Parse()
	os.Exit(m.Run())
}

const testSecret = "test-signing-secret-not-real"

// patience is how long tests wait for something asynchronous. Generous:
// the machines running these are shared and noisy.
const patience = 90 * time.Second

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newTestAdapter returns an adapter talking to fake, quick to retry and
// pace so that tests do not wait on real-world intervals.
func newTestAdapter(t testing.TB, fake *fakeSlack, opts ...Option) *Adapter {
	t.Helper()
	cfg := Config{Mode: ModeHTTP, BotToken: fake.token, SigningSecret: testSecret}
	base := []Option{
		WithAPIURL(fake.apiURL()),
		WithLogger(testLogger(t)),
		WithChannelInterval(5 * time.Millisecond),
		WithRetry(5, 10*time.Millisecond),
		WithResponseURLCheck(func(u *url.URL) bool { return strings.HasPrefix(u.String(), fake.srv.URL+"/response/") }),
	}
	a, err := New(cfg, append(base, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(a.Wait)
	return a
}

// sign computes a Slack v0 signature independently of Verifier.
func sign(secret string, ts int64, body string) string {
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + strconv.FormatInt(ts, 10) + ":" + body))
	return "v0=" + hex.EncodeToString(m.Sum(nil))
}

// signedRequest builds a POST as Slack sends it, signed at ts.
func signedRequest(t testing.TB, target, body, secret string, ts time.Time) *http.Request {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set(HeaderTimestamp, strconv.FormatInt(ts.Unix(), 10))
	req.Header.Set(HeaderSignature, sign(secret, ts.Unix(), body))
	return req
}

type response struct {
	status int
	body   string
}

func do(t testing.TB, req *http.Request) response {
	t.Helper()
	c := &http.Client{Timeout: patience}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return response{resp.StatusCode, string(b)}
}

// slashForm is a slash command's form body as Slack sends it.
func slashForm(user, userName, channel, text, responseURL string) string {
	return url.Values{
		"token": {"legacy-unused"}, "team_id": {"T0TEAM"}, "team_domain": {"example"},
		"channel_id": {channel}, "channel_name": {"ops"}, "user_id": {user}, "user_name": {userName},
		"command": {DefaultCommand}, "text": {text}, "response_url": {responseURL},
		"trigger_id": {"1.2.3"}, "api_app_id": {"A0APP"},
	}.Encode()
}

// clickForm is a block_actions payload for one button, form-wrapped as
// Slack sends it over HTTP.
func clickForm(user, userName, channel, messageTS, actionID, value, responseURL string) string {
	p := map[string]any{
		"type":         "block_actions",
		"user":         map[string]any{"id": user, "username": userName, "name": userName, "team_id": "T0TEAM"},
		"api_app_id":   "A0APP",
		"team":         map[string]any{"id": "T0TEAM", "domain": "example"},
		"container":    map[string]any{"type": "message", "message_ts": messageTS, "channel_id": channel, "is_ephemeral": false},
		"channel":      map[string]any{"id": channel, "name": "ops"},
		"message":      map[string]any{"type": "message", "ts": messageTS, "text": "approval"},
		"response_url": responseURL,
		"trigger_id":   "1.2.3",
		"actions": []map[string]any{{
			"type": "button", "action_id": actionID, "block_id": "b", "value": value,
			"text": map[string]any{"type": "plain_text", "text": actionID}, "action_ts": "1700000000.1",
		}},
	}
	b, _ := json.Marshal(p)
	return url.Values{"payload": {string(b)}}.Encode()
}

// viewSubmissionForm is a view_submission of one of this app's modals
// with meta, the field meta.Field holding value, form-wrapped as Slack
// sends it over HTTP.
func viewSubmissionForm(user string, meta formMeta, value string) string {
	pm, _ := json.Marshal(meta)
	p := map[string]any{
		"type":       "view_submission",
		"user":       map[string]any{"id": user, "username": "u", "name": "u", "team_id": "T0TEAM"},
		"api_app_id": "A0APP",
		"team":       map[string]any{"id": "T0TEAM", "domain": "example"},
		"trigger_id": "1.2.4",
		"view": map[string]any{
			"id": "V0FORGED", "type": "modal", "callback_id": ModalCallbackID, "private_metadata": string(pm),
			"state": map[string]any{"values": map[string]any{meta.Field: map[string]any{meta.Field: map[string]any{"type": "plain_text_input", "value": value}}}},
		},
	}
	b, _ := json.Marshal(p)
	return url.Values{"payload": {string(b)}}.Encode()
}

// eventually polls cond until it holds or patience runs out.
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for: %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// blockTexts returns every "text" string in a block list, one a line.
func blockTexts(raw json.RawMessage) string {
	var v any
	if json.Unmarshal(raw, &v) != nil {
		return ""
	}
	var out []string
	var walk func(any)
	walk = func(x any) {
		switch x := x.(type) {
		case map[string]any:
			if s, ok := x["text"].(string); ok {
				out = append(out, s)
			}
			keys := make([]string, 0, len(x))
			for k := range x {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			for _, k := range keys {
				if v := x[k]; k != "text" || !isString(v) {
					walk(v)
				}
			}
		case []any:
			for _, v := range x {
				walk(v)
			}
		}
	}
	walk(v)
	return strings.Join(out, "\n")
}

func isString(v any) bool { _, ok := v.(string); return ok }

type button struct{ ActionID, Value string }

// buttons returns the buttons of a block list.
func buttons(raw json.RawMessage) []button {
	var blocks []struct {
		Type     string `json:"type"`
		Elements []struct {
			Type     string `json:"type"`
			ActionID string `json:"action_id"`
			Value    string `json:"value"`
		} `json:"elements"`
	}
	_ = json.Unmarshal(raw, &blocks)
	var out []button
	for _, b := range blocks {
		if b.Type != "actions" {
			continue
		}
		for _, e := range b.Elements {
			if e.Type == "button" {
				out = append(out, button{e.ActionID, e.Value})
			}
		}
	}
	return out
}

// stubHandler answers with fixed errors (as Replies) and records what it
// got.
type stubHandler struct {
	mu        sync.Mutex
	cmds      []bot.Command
	acts      []bot.Action
	cmdErr    error
	actErr    error
	gate      chan struct{} // if set, HandleCommand waits on it
	onCommand func(ctx context.Context, cmd bot.Command) bot.Reply
	onAction  func(ctx context.Context, act bot.Action) bot.Reply
}

func (s *stubHandler) HandleCommand(ctx context.Context, cmd bot.Command) bot.Reply {
	s.mu.Lock()
	s.cmds = append(s.cmds, cmd)
	gate, on := s.gate, s.onCommand
	s.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if on != nil {
		return on(ctx, cmd)
	}
	return bot.ReplyFor(s.cmdErr)
}

func (s *stubHandler) HandleAction(ctx context.Context, act bot.Action) bot.Reply {
	s.mu.Lock()
	s.acts = append(s.acts, act)
	on, err := s.onAction, s.actErr
	s.mu.Unlock()
	if on != nil {
		return on(ctx, act)
	}
	return bot.ReplyFor(err)
}

func (s *stubHandler) commands() []bot.Command {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.Command(nil), s.cmds...)
}

func (s *stubHandler) actions() []bot.Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]bot.Action(nil), s.acts...)
}

func mustURL(t testing.TB, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}
