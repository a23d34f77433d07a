package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// The fuzz targets of this file post any body to the adapter's three
// endpoints as the Mattermost server would (from its address) and hold
// each to what it promises: nothing panics (the handlers' recover would
// answer bot.FailedText); a request reaches the handler only when its
// token, button HMAC or sealed dialog state is the bot's own (and never
// would under another secret), its user is confirmed by the API, and a
// dialog state is used once; and what reaches the handler is what the
// request carried.
//
//	scripts/fuzz 60s 'FuzzMattermost'

// fuzzNow is the adapters' clock: dialog states expire against it.
var fuzzNow = time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC)

// fuzzEnv is one adapter on a fake Mattermost that knows alice and bob,
// with a recording handler and a count of refusals.
type fuzzEnv struct {
	a        *Adapter
	mm       *fakeMM
	h        *recordingHandler
	serve    http.Handler
	mu       sync.Mutex
	refusals int
}

// recordingHandler records what reaches the bot and shows nothing back.
type recordingHandler struct {
	mu   sync.Mutex
	cmds []bot.Command
	acts []bot.Action
}

func (r *recordingHandler) HandleCommand(_ context.Context, cmd bot.Command) bot.Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.cmds = append(r.cmds, cmd)
	return bot.NoReply
}

func (r *recordingHandler) HandleAction(_ context.Context, act bot.Action) bot.Reply {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.acts = append(r.acts, act)
	return bot.NoReply
}

func (r *recordingHandler) counts() (int, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.cmds), len(r.acts)
}

func newFuzzEnv(f *testing.F) *fuzzEnv {
	e := &fuzzEnv{mm: newFakeMM(f), h: &recordingHandler{}}
	for _, u := range []mmUser{alice, bob} {
		e.mm.addUser(u.ID, u.Name)
	}
	a, err := New(Config{
		URL: e.mm.URL(), BotToken: e.mm.token, CommandTokens: []string{"cmdtoken"},
		ActionSecret: actionSecret, CallbackURL: "http://127.0.0.1:1" + ActionsPath,
	}, Options{Logger: testLogger(f), Now: func() time.Time { return fuzzNow }, MaxAttempts: 1,
		OnRefused: func(_ context.Context, _ string, _ *http.Request) {
			e.mu.Lock()
			e.refusals++
			e.mu.Unlock()
		}})
	if err != nil {
		f.Fatal(err)
	}
	e.a, e.serve = a, a.HTTPHandler(e.h)
	return e
}

// postDecoded posts a JSON body to path and decodes it into req as the
// adapter would. A body that does not decode must be refused (400, one
// refusal, nothing handled) and postDecoded reports false; one that does
// must be answered 200 and run no command, and postDecoded returns the
// actions handled and the refusals counted.
func (e *fuzzEnv) postDecoded(t *testing.T, path string, body []byte, req any) (acts []bot.Action, refusals int, ok bool) {
	t.Helper()
	rec, cmds, acts, refusals := e.post(t, path, "application/json", "", body)
	if err := json.NewDecoder(bytes.NewReader(body)).Decode(req); err != nil {
		if rec.Code != http.StatusBadRequest || len(acts)+len(cmds) != 0 || refusals != 1 {
			t.Fatalf("%q does not decode (%v), yet: %d, %d actions, %d refusals", body, err, rec.Code, len(acts), refusals)
		}
		return nil, 0, false
	}
	if rec.Code != http.StatusOK || len(cmds) != 0 {
		t.Fatalf("%q: %d %q; want 200", body, rec.Code, rec.Body.String())
	}
	return acts, refusals, true
}

// post sends body to path from the Mattermost server's address and
// returns the answer, what reached the handler and how many refusals
// were reported meanwhile.
func (e *fuzzEnv) post(t *testing.T, path, contentType, auth string, body []byte) (*httptest.ResponseRecorder, []bot.Command, []bot.Action, int) {
	t.Helper()
	cmds, acts := e.h.counts()
	e.mu.Lock()
	refusals := e.refusals
	e.mu.Unlock()
	req := httptest.NewRequest(http.MethodPost, "http://bot"+path, bytes.NewReader(body))
	req.RemoteAddr = "127.0.0.1:40000"
	req.Header.Set("Content-Type", contentType)
	if auth != "" {
		req.Header.Set("Authorization", auth)
	}
	rec := httptest.NewRecorder()
	e.serve.ServeHTTP(rec, req)
	if strings.Contains(rec.Body.String(), bot.FailedText) {
		t.Fatalf("%s %q: a handler panicked: %s", path, body, rec.Body.String())
	}
	e.h.mu.Lock()
	gotCmds, gotActs := slices.Clone(e.h.cmds[cmds:]), slices.Clone(e.h.acts[acts:])
	e.h.mu.Unlock()
	e.mu.Lock()
	defer e.mu.Unlock()
	return rec, gotCmds, gotActs, e.refusals - refusals
}

func (e *fuzzEnv) known(id string) bool { return id == alice.ID || id == bob.ID }

func FuzzMattermostCommand(f *testing.F) {
	for _, s := range []struct {
		body   string
		header bool
	}{
		{"token=cmdtoken&user_id=" + alice.ID + "&channel_id=" + channelID + "&user_name=alice&text=status", false},
		{"user_id=" + alice.ID + "&channel_id=" + channelID + "&text=+migrate+--+why+", true},
		{"token=cmdtoken&user_id=" + bob.ID + "&channel_id=" + channelID + "&text=approve+r7k2qxa9", false},
		{"token=cmdtoken&user_id=" + carol.ID + "&channel_id=" + channelID + "&text=deny+r7k2qxa9", false},
		{"token=other&user_id=" + alice.ID + "&channel_id=" + channelID + "&text=status", false},
		{"token=cmdtoken&user_id=short&channel_id=" + channelID, false},
		{"token=cmdtoken&text=%zz", false},
		{"token=cmdtoken;text=status", true},
		{"", true},
	} {
		f.Add(s.body, s.header)
	}
	e := newFuzzEnv(f)
	f.Fuzz(func(t *testing.T, body string, header bool) {
		auth := ""
		if header {
			auth = "Token cmdtoken"
		}
		rec, cmds, acts, _ := e.post(t, CommandPath, "application/x-www-form-urlencoded", auth, []byte(body))
		form, perr := url.ParseQuery(body)
		token := form.Get("token")
		if header {
			token = "cmdtoken"
		}
		if len(acts) != 0 {
			t.Fatalf("%q: a command became actions %+v", body, acts)
		}
		if perr != nil || token != "cmdtoken" {
			if rec.Code == http.StatusOK || len(cmds) != 0 {
				t.Fatalf("%q (header %v): %d, %d commands; want a refusal (form error %v)", body, header, rec.Code, len(cmds), perr)
			}
			return
		}
		text := strings.TrimSpace(form.Get("text"))
		user, channel := form.Get("user_id"), form.Get("channel_id")
		takes := model.IsValidId(user) && model.IsValidId(channel) && (!decision(text) || e.known(user))
		if !takes {
			if len(cmds) != 0 {
				t.Fatalf("%q: the handler got %+v", body, cmds)
			}
			return
		}
		if rec.Code != http.StatusOK || len(cmds) != 1 {
			t.Fatalf("%q: %d %q, %d commands; want 200 and the command", body, rec.Code, rec.Body.String(), len(cmds))
		}
		if c := cmds[0]; c.User.ID != user || c.Channel != channel || c.Text != text || c.Platform != Platform {
			t.Fatalf("%q became %+v", body, c)
		}
	})
}

func FuzzMattermostAction(f *testing.F) {
	e := newFuzzEnv(f)
	post, other := fixedID("post"), fixedID("otherpost")
	signed := func(u mmUser, postID, requestID, action string) []byte {
		b, _ := json.Marshal(&model.PostActionIntegrationRequest{
			UserId: u.ID, ChannelId: channelID, PostId: postID, TeamId: teamID, Type: model.PostActionTypeButton,
			Context: map[string]any{ctxRequest: requestID, ctxAction: action, ctxSig: e.a.signer.sign(requestID, action, post, channelID)},
		})
		return b
	}
	for _, b := range [][]byte{
		signed(bob, post, "r7k2qxa9", "approve"),
		signed(alice, post, "r7k2qxa9", "approve"),
		signed(carol, post, "r7k2qxa9", "approve"), // unknown to the API
		signed(bob, other, "r7k2qxa9", "approve"),  // the HMAC of another post
		[]byte(`{"user_id":"` + bob.ID + `","post_id":"` + post + `","channel_id":"` + channelID + `","context":{"request_id":"x","action":"approve","sig":"v1.AAAA"}}`),
		[]byte(`{"context":null}`), []byte(`{} trailing`), []byte(`[]`), []byte(``),
	} {
		f.Add(b)
	}
	otherSigner := newSigner("not-" + actionSecret)
	f.Fuzz(func(t *testing.T, body []byte) {
		var req model.PostActionIntegrationRequest
		acts, refusals, ok := e.postDecoded(t, ActionsPath, body, &req)
		if !ok {
			return
		}
		requestID, _ := req.Context[ctxRequest].(string)
		action, _ := req.Context[ctxAction].(string)
		sig, _ := req.Context[ctxSig].(string)
		verified := sig != "" && requestID != "" && isAlnum(action) &&
			model.IsValidId(req.UserId) && model.IsValidId(req.PostId) && model.IsValidId(req.ChannelId) &&
			e.a.signer.verify(sig, requestID, action, req.PostId, req.ChannelId)
		if verified && otherSigner.verify(sig, requestID, action, req.PostId, req.ChannelId) {
			t.Fatalf("%q: its context verifies under another secret too", body)
		}
		if !verified || !e.known(req.UserId) {
			if len(acts) != 0 || refusals != 1 {
				t.Fatalf("%q: %d actions handled, %d refusals; want a refusal and nothing handled", body, len(acts), refusals)
			}
			return
		}
		if len(acts) != 1 || refusals != 0 {
			t.Fatalf("%q: %d actions handled, %d refusals; want the click", body, len(acts), refusals)
		}
		want := bot.Ref{Channel: req.ChannelId, ID: req.PostId}
		if a := acts[0]; a.User.ID != req.UserId || a.ActionID != action || a.Value != requestID || a.Message != want {
			t.Fatalf("%q became %+v", body, a)
		}
	})
}

func FuzzMattermostDialog(f *testing.F) {
	e := newFuzzEnv(f)
	seal := func(st dialogState) string {
		s, err := e.a.states.seal(st)
		if err != nil {
			f.Fatal(err)
		}
		return s
	}
	open := dialogState{Action: "approve", Value: "r7k2qxa9", Channel: channelID, User: bob.ID, Field: "code", Expires: fuzzNow.Add(time.Hour).Unix()}
	sub := func(u mmUser, state string, values map[string]any) []byte {
		b, _ := json.Marshal(&model.SubmitDialogRequest{
			Type: "dialog_submission", CallbackId: DialogCallbackID, State: state,
			UserId: u.ID, ChannelId: channelID, TeamId: teamID, Submission: values,
		})
		return b
	}
	fresh := func() dialogState { st := open; st.Nonce = "00112233445566778899aabbccddeeff"; return st }
	expired := open
	expired.Expires = fuzzNow.Add(-time.Second).Unix()
	for _, b := range [][]byte{
		sub(bob, seal(open), map[string]any{"code": " 123456 "}),
		sub(bob, seal(fresh()), map[string]any{"code": 123456, "x": nil}),
		sub(alice, seal(open), map[string]any{"code": "1"}), // opened for bob
		sub(carol, seal(dialogState{Action: "a", Value: "v", User: carol.ID, Expires: open.Expires}), nil),
		sub(bob, seal(expired), nil),
		sub(bob, "v1.e30.AAAA", nil),
		[]byte(`{"callback_id":"` + DialogCallbackID + `","cancelled":true}`),
		[]byte(`{"submission":[]}`), []byte(`{`), []byte(``),
	} {
		f.Add(b)
	}
	otherStates := newStateSigner("not-" + actionSecret)
	accepted := map[string]bool{}  // nonces of states a submission was accepted with
	submitted := map[string]bool{} // submissions that passed the state check
	f.Fuzz(func(t *testing.T, body []byte) {
		var req model.SubmitDialogRequest
		acts, refusals, ok := e.postDecoded(t, DialogPath, body, &req)
		if !ok {
			return
		}
		if req.Cancelled {
			if len(acts) != 0 {
				t.Fatalf("%q: a cancelled dialog was handled: %+v", body, acts)
			}
			return
		}
		st, err := e.a.states.unseal(req.State, fuzzNow)
		if err == nil {
			if _, oerr := otherStates.unseal(req.State, fuzzNow); oerr == nil {
				t.Fatalf("%q: its state unseals under another secret too", body)
			}
		}
		ours := err == nil && model.IsValidId(req.UserId) && req.CallbackId == DialogCallbackID && st.User == req.UserId
		key := string(submissionKey(&req))
		fresh := ours && !accepted[st.Nonce] && !submitted[key]
		if ours && !accepted[st.Nonce] {
			submitted[key] = true
		}
		if !fresh || !e.known(req.UserId) {
			if len(acts) != 0 || refusals != 1 {
				t.Fatalf("%q: %d actions handled, %d refusals; want a refusal and nothing handled (ours %v, state error %v)", body, len(acts), refusals, ours, err)
			}
			return
		}
		if len(acts) != 1 || refusals != 0 {
			t.Fatalf("%q: %d actions handled, %d refusals; want the submission", body, len(acts), refusals)
		}
		accepted[st.Nonce] = true
		a := acts[0]
		if a.User.ID != st.User || a.ActionID != st.Action || a.Value != st.Value || a.Message.Channel != st.Channel {
			t.Fatalf("%q became %+v; want the state's %+v", body, a, st)
		}
		for k, v := range req.Submission {
			if s, ok := v.(string); ok && a.Fields[k] != strings.TrimSpace(s) {
				t.Fatalf("%q: field %q arrived as %q", body, k, a.Fields[k])
			}
		}
	})
}
