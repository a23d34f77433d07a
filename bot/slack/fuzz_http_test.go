package slack

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// The fuzz targets of this file feed any body to the adapter's HTTP
// endpoints exactly as Slack would deliver it (signed, form-encoded) and
// hold it to what the endpoints promise: nothing panics; a body signed
// with another secret is refused with 401 and reaches no handler; a body
// signed with the right one is read as slack-go (url.ParseQuery and
// encoding/json) reads it, and reaches the handler exactly when it is a
// command or click this app takes, with the values it carried.
//
//	scripts/fuzz 60s 'FuzzSlack(Commands|Interactions)$'

// fuzzEndpoint is one adapter behind both endpoints with a recording
// handler. Its clock moves one second per request, so that the same body
// sent again is signed differently and is not refused as a replay (the
// replay check has its own tests).
type fuzzEndpoint struct {
	a     *Adapter
	h     *stubHandler
	now   atomic.Int64
	serve http.Handler
}

func newFuzzEndpoint(f *testing.F) *fuzzEndpoint {
	e := &fuzzEndpoint{h: &stubHandler{}}
	e.now.Store(time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC).Unix())
	a, err := New(Config{Mode: ModeHTTP, BotToken: "xoxb-fuzz", SigningSecret: testSecret},
		WithAPIURL("http://127.0.0.1:1/api/"), WithLogger(testLogger(f)),
		WithClock(func() time.Time { return time.Unix(e.now.Load(), 0) }),
		WithRetry(1, time.Millisecond), WithReplayCapacity(1000),
		// Nothing is ever delivered (the handler's Reply is empty); a
		// response_url is never followed even so.
		WithResponseURLCheck(func(*url.URL) bool { return false }))
	if err != nil {
		f.Fatal(err)
	}
	e.a, e.serve = a, a.HTTPHandler(e.h)
	return e
}

// post sends body to path signed with secret at the adapter's next
// second, waits for every handler it started, and returns the answer and
// what reached the handler meanwhile.
func (e *fuzzEndpoint) post(t *testing.T, path, body, secret string) (*httptest.ResponseRecorder, []bot.Command, []bot.Action) {
	t.Helper()
	cmds, acts := len(e.h.commands()), len(e.h.actions())
	ts := time.Unix(e.now.Add(1), 0)
	req := signedRequest(t, "http://bot"+path, body, secret, ts)
	rec := httptest.NewRecorder()
	e.serve.ServeHTTP(rec, req)
	e.a.Wait()
	return rec, e.h.commands()[cmds:], e.h.actions()[acts:]
}

// refusesForged checks that body signed with the wrong secret is refused
// and reaches nothing.
func (e *fuzzEndpoint) refusesForged(t *testing.T, path, body string) {
	t.Helper()
	rec, cmds, acts := e.post(t, path, body, "not-"+testSecret)
	if rec.Code != http.StatusUnauthorized || len(cmds)+len(acts) != 0 {
		t.Fatalf("%s %q signed with another secret: %d, %d commands, %d actions; want 401 and nothing handled", path, body, rec.Code, len(cmds), len(acts))
	}
}

func FuzzSlackCommands(f *testing.F) {
	for _, body := range slashBodies {
		f.Add(body)
	}
	for _, text := range []string{"status", "migrate -- upgrade &amp; more &lt;b&gt;", "  approve r7k2qxa9  ", "finalize Job t c '[]'", ""} {
		f.Add(slashForm(alice, "alice", testChannel, text, "https://hooks.slack.com/commands/T/1/x"))
	}
	f.Add("command=%2Fother&user_id=U1&channel_id=C1&text=status")
	f.Add("command=%2Fgitlab-migrations&user_id=&channel_id=C1&text=status")
	e := newFuzzEndpoint(f)
	f.Fuzz(func(t *testing.T, body string) {
		e.refusesForged(t, PathCommands, body)
		rec, cmds, acts := e.post(t, PathCommands, body, testSecret)
		form, perr := url.ParseQuery(body)
		if perr != nil {
			if rec.Code != http.StatusBadRequest || len(cmds) != 0 {
				t.Fatalf("%q does not parse (%v), yet: %d, %d commands", body, perr, rec.Code, len(cmds))
			}
			return
		}
		if rec.Code != http.StatusOK || len(acts) != 0 {
			t.Fatalf("%q: %d %q, %d actions; want 200", body, rec.Code, rec.Body.String(), len(acts))
		}
		takes := form.Get("command") == DefaultCommand && form.Get("user_id") != "" && form.Get("channel_id") != ""
		if !takes {
			if len(cmds) != 0 {
				t.Fatalf("%q is no command of this app, yet the handler got %+v", body, cmds)
			}
			return
		}
		if len(cmds) != 1 {
			t.Fatalf("%q: the handler got %d commands, want 1", body, len(cmds))
		}
		c := cmds[0]
		want := strings.TrimSpace(strings.NewReplacer("&lt;", "<", "&gt;", ">", "&amp;", "&").Replace(form.Get("text")))
		if c.User.ID != form.Get("user_id") || c.Channel != form.Get("channel_id") || c.Text != want || c.Platform != Platform {
			t.Fatalf("%q became %+v; want user %q, channel %q, text %q", body, c, form.Get("user_id"), form.Get("channel_id"), want)
		}
	})
}

func FuzzSlackInteractions(f *testing.F) {
	meta := formMeta{Action: "approve", Value: "r7k2qxa9", Channel: testChannel, User: bob, Field: "code"}
	for _, form := range []string{
		clickForm(bob, "bob", testChannel, "1700000000.000100", "approve", "r7k2qxa9", "https://hooks.slack.com/actions/T/1/x"),
		clickForm("", "", testChannel, "1.2", "deny", "x", ""),
		viewSubmissionForm(bob, meta, "123456"),
		viewSubmissionForm(alice, meta, "123456"), // opened for bob
		viewSubmissionForm(bob, formMeta{User: bob}, "1"),
	} {
		v, _ := url.ParseQuery(form)
		f.Add(v.Get("payload"))
	}
	for _, p := range []string{
		`{"type":"block_actions","user":{"id":"U1"},"actions":[null,{"action_id":"a","value":"v"}]}`,
		`{"type":"view_submission","user":{"id":"U1"},"view":{"callback_id":"gitlab-chatops-form","private_metadata":"{\"a\":\"x\",\"v\":\"y\",\"u\":\"U1\"}","state":{"values":{"f":{"g":{"value":"z"}}}}}}`,
		`{"type":"view_submission","user":{"id":"U1"},"view":{"callback_id":"gitlab-chatops-form","private_metadata":"nope"}}`,
		`{"type":"shortcut"}`, `{"type":1}`, `[]`, `null`, ``,
	} {
		f.Add(p)
	}
	e := newFuzzEndpoint(f)
	f.Fuzz(func(t *testing.T, payload string) {
		body := url.Values{"payload": {payload}}.Encode()
		e.refusesForged(t, PathInteractions, body)
		rec, cmds, acts := e.post(t, PathInteractions, body, testSecret)
		var ic slackgo.InteractionCallback
		if err := json.Unmarshal([]byte(payload), &ic); err != nil {
			if rec.Code != http.StatusBadRequest || len(acts) != 0 {
				t.Fatalf("%q does not decode (%v), yet: %d, %d actions", payload, err, rec.Code, len(acts))
			}
			return
		}
		if rec.Code != http.StatusOK || len(cmds) != 0 {
			t.Fatalf("%q: %d %q, %d commands; want 200", payload, rec.Code, rec.Body.String(), len(cmds))
		}
		switch ic.Type {
		case slackgo.InteractionTypeBlockActions:
			checkClicks(t, payload, ic, acts)
		case slackgo.InteractionTypeViewSubmission:
			checkSubmission(t, payload, ic, rec, acts)
		default:
			if len(acts) != 0 {
				t.Fatalf("%q (type %q) reached the handler: %+v", payload, ic.Type, acts)
			}
		}
	})
}

// checkClicks: a click by a named user hands each of its buttons to the
// handler, as clicked by that user; one without a user, nothing.
func checkClicks(t *testing.T, payload string, ic slackgo.InteractionCallback, acts []bot.Action) {
	t.Helper()
	var want []*slackgo.BlockAction
	if ic.User.ID != "" {
		for _, ba := range ic.ActionCallback.BlockActions {
			if ba != nil {
				want = append(want, ba)
			}
		}
	}
	if len(acts) != len(want) {
		t.Fatalf("%q: %d actions handled, want %d", payload, len(acts), len(want))
	}
	// Each button runs in its own goroutine: compare as sets.
	left := map[[2]string]int{}
	for _, ba := range want {
		left[[2]string{ba.ActionID, ba.Value}]++
	}
	for _, a := range acts {
		k := [2]string{a.ActionID, a.Value}
		if a.User.ID != ic.User.ID || left[k] == 0 || len(a.Fields) != 0 {
			t.Fatalf("%q: handled %+v, not one of its buttons by %q", payload, a, ic.User.ID)
		}
		left[k]--
	}
}

// checkSubmission: a submission reaches the handler only as the form the
// bot opened (its callback ID and readable metadata naming an action and
// value) submitted by the user it was opened for; the answer is empty or
// a response_action.
func checkSubmission(t *testing.T, payload string, ic slackgo.InteractionCallback, rec *httptest.ResponseRecorder, acts []bot.Action) {
	t.Helper()
	var meta formMeta
	ours := ic.View.CallbackID == ModalCallbackID && ic.User.ID != "" &&
		json.Unmarshal([]byte(ic.View.PrivateMetadata), &meta) == nil &&
		meta.Action != "" && meta.Value != "" && meta.User == ic.User.ID
	if !ours {
		if len(acts) != 0 {
			t.Fatalf("%q is no submission of a form opened for %q, yet the handler got %+v", payload, ic.User.ID, acts)
		}
	} else {
		if len(acts) != 1 {
			t.Fatalf("%q: %d actions handled, want 1", payload, len(acts))
		}
		if a := acts[0]; a.User.ID != meta.User || a.ActionID != meta.Action || a.Value != meta.Value || a.Message.Channel != meta.Channel {
			t.Fatalf("%q became %+v; want the metadata's %+v", payload, a, meta)
		}
	}
	if b := rec.Body.String(); b != "" {
		var resp slackgo.ViewSubmissionResponse
		if err := json.Unmarshal([]byte(b), &resp); err != nil || resp.ResponseAction == "" {
			t.Fatalf("%q answered %q, neither empty nor a response_action", payload, b)
		}
	}
}
