package slack

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/bottest"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
)

// TestModalGolden: the view views.open receives for a form.
func TestModalGolden(t *testing.T) {
	v, err := Modal(bottest.ReauthForm(), formMeta{Channel: "C0OPS", User: "U0ALICE"})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "form-modal", append(b, '\n'))
}

func TestModalRefusesBadForms(t *testing.T) {
	for name, f := range map[string]bot.Form{
		"no value":      {ActionID: "approve", Title: "x", Fields: []bot.FormField{{Name: "code", Label: "Code"}}},
		"no field":      {ActionID: "approve", Value: "r1", Title: "x"},
		"twice a field": {ActionID: "approve", Value: "r1", Title: "x", Fields: []bot.FormField{{Name: "code", Label: "a"}, {Name: "code", Label: "b"}}},
	} {
		if _, err := Modal(f, formMeta{User: "U1"}); err == nil {
			t.Errorf("%s: Modal accepted %+v", name, f)
		}
	}
}

type formRig struct {
	fake *fakeSlack
	a    *Adapter
	h    *stubHandler
	srv  *httptest.Server
}

func startFormRig(t *testing.T) *formRig {
	r := &formRig{fake: newFakeSlack(t), h: &stubHandler{}}
	r.a = newTestAdapter(t, r.fake)
	r.srv = httptest.NewServer(r.a.HTTPHandler(r.h))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *formRig) slash(t *testing.T, text, trigger string) response {
	t.Helper()
	v, _ := url.ParseQuery(slashForm(alice, "alice", testChannel, text, r.fake.responseURL("cmd")))
	v.Set("trigger_id", trigger)
	return do(t, signedRequest(t, r.srv.URL+PathCommands, v.Encode(), testSecret, time.Now()))
}

func (r *formRig) submit(t *testing.T, viewID, user string, values map[string]string) response {
	t.Helper()
	body, err := r.fake.submission(viewID, user, values)
	if err != nil {
		t.Fatal(err)
	}
	return do(t, signedRequest(t, r.srv.URL+PathInteractions, body, testSecret, time.Now()))
}

func (r *formRig) waitView(t *testing.T) fakeView {
	t.Helper()
	eventually(t, "a modal opened", func() bool { return len(r.fake.openedViews()) > 0 })
	return r.fake.openedViews()[0]
}

// TestFormFromSlashCommand: a Reply with a Form answering a slash command
// opens a modal for that user with the command's trigger_id (and shows no
// message); the signed submission reaches the handler as an Action with
// the form's action and value and the typed fields; a refusal keeps the
// modal open with the error on the field; an accepted one closes it and
// the handler's answer is shown to that user alone.
func TestFormFromSlashCommand(t *testing.T) {
	r := startFormRig(t)
	r.h.onCommand = func(context.Context, bot.Command) bot.Reply {
		m := bot.Message{Text: bot.Plain("Type /gitlab-migrations approve r7k2qxa9 --code NNNNNN instead.")}
		f := bottest.ReauthForm()
		return bot.Reply{Message: &m, Form: &f}
	}
	trigger := r.fake.newTrigger(alice)
	resp := r.slash(t, "approve r7k2qxa9", trigger)
	if resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("the command was answered %d %q; want an empty 200 (the modal is the answer)", resp.status, resp.body)
	}
	v := r.waitView(t)
	if v.User != alice {
		t.Errorf("the modal was opened with the trigger of %s, want %s", v.User, alice)
	}
	if calls := r.fake.callsTo("views.open"); len(calls) != 1 || !strings.Contains(string(calls[0].JSON), trigger) {
		t.Errorf("views.open calls %+v; want one with the command's trigger_id", calls)
	}

	// A wrong code: refused, shown on the field, the modal stays open.
	r.h.onAction = func(_ context.Context, act bot.Action) bot.Reply {
		if act.Fields["code"] != "123456" {
			return bot.ReplyFor(&commands.Refusal{Msg: "That code is not valid; 4 tries left."})
		}
		return bot.Say(bot.Message{Text: bot.Plain("Approved r7k2qxa9.")})
	}
	resp = r.submit(t, v.ID, alice, map[string]string{"code": "000000"})
	var sub struct {
		ResponseAction string            `json:"response_action"`
		Errors         map[string]string `json:"errors"`
	}
	if err := json.Unmarshal([]byte(resp.body), &sub); err != nil || sub.ResponseAction != "errors" || !strings.Contains(sub.Errors["code"], "not valid") {
		t.Fatalf("a refused submission was answered %d %q; want response_action errors on the code field", resp.status, resp.body)
	}
	resp = r.submit(t, v.ID, alice, map[string]string{"code": " 123456 "})
	if resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("an accepted submission was answered %d %q; want an empty 200 (closing the modal)", resp.status, resp.body)
	}
	acts := r.h.actions()
	if len(acts) != 2 {
		t.Fatalf("the handler got %d submissions, want 2", len(acts))
	}
	got := acts[1]
	if got.ActionID != bot.ActionApprove || got.Value != "r7k2qxa9" || got.User.ID != alice || got.Message.Channel != testChannel || got.Fields["code"] != "123456" || got.Platform != Platform {
		t.Errorf("the handler got %+v; want approve of r7k2qxa9 by %s in %s with code 123456", got, alice, testChannel)
	}
	eventually(t, "the answer shown to alice alone", func() bool {
		for _, e := range r.fake.allEphemerals() {
			if e.User == alice && e.Channel == testChannel && strings.Contains(e.Text, "Approved r7k2qxa9") {
				return true
			}
		}
		return false
	})
}

// TestFormSubmissionRefusals: a submission with a bad signature never
// reaches the handler (401, before parsing), nor does one of a modal
// opened for someone else, nor one of a view that is not this app's.
func TestFormSubmissionRefusals(t *testing.T) {
	r := startFormRig(t)
	r.h.onCommand = func(context.Context, bot.Command) bot.Reply {
		f := bottest.ReauthForm()
		return bot.Reply{Message: &bot.Message{Text: bot.Plain("type it")}, Form: &f}
	}
	r.slash(t, "approve r7k2qxa9", r.fake.newTrigger(alice))
	v := r.waitView(t)

	body, err := r.fake.submission(v.ID, alice, map[string]string{"code": "123456"})
	if err != nil {
		t.Fatal(err)
	}
	if resp := do(t, signedRequest(t, r.srv.URL+PathInteractions, body, "not-the-secret", time.Now())); resp.status != http.StatusUnauthorized {
		t.Errorf("a forged submission was answered %d, want 401", resp.status)
	}
	if resp := r.submit(t, v.ID, eve, map[string]string{"code": "123456"}); resp.status != http.StatusOK || resp.body != "" {
		t.Errorf("a submission by another user was answered %d %q; want it closed unhandled", resp.status, resp.body)
	}
	other := strings.Replace(body, ModalCallbackID, "someone-elses-view", 1)
	if resp := do(t, signedRequest(t, r.srv.URL+PathInteractions, other, testSecret, time.Now())); resp.status != http.StatusOK {
		t.Errorf("a submission of another view was answered %d", resp.status)
	}
	if acts := r.h.actions(); len(acts) != 0 {
		t.Errorf("refused submissions reached the handler: %+v", acts)
	}
}

// TestFormFallsBackToMessage: when the modal cannot be opened (the
// trigger expired or was used), the Reply's Message says what to type,
// through the command's response_url.
func TestFormFallsBackToMessage(t *testing.T) {
	r := startFormRig(t)
	r.h.onCommand = func(context.Context, bot.Command) bot.Reply {
		m := bot.Message{Text: bot.Plain("Type /gitlab-migrations approve r7k2qxa9 --code NNNNNN instead.")}
		f := bottest.ReauthForm()
		return bot.Reply{Message: &m, Form: &f}
	}
	r.slash(t, "approve r7k2qxa9", "1.2.3") // a trigger Slack never issued
	eventually(t, "the message through response_url", func() bool {
		for _, rs := range r.fake.allResponses() {
			if b, _ := json.Marshal(rs.Body); strings.Contains(string(b), "--code NNNNNN") {
				return true
			}
		}
		return false
	})
	if v := r.fake.openedViews(); len(v) != 0 {
		t.Errorf("views opened: %+v", v)
	}
}

// TestFormFromClick: a click answered with a Form opens the modal with
// the click's trigger_id.
func TestFormFromClick(t *testing.T) {
	r := startFormRig(t)
	r.h.onAction = func(_ context.Context, act bot.Action) bot.Reply {
		if act.Fields != nil {
			return bot.NoReply
		}
		f := bottest.ReauthForm()
		return bot.Reply{Message: &bot.Message{Text: bot.Plain("type it")}, Form: &f}
	}
	v, _ := url.ParseQuery(clickForm(alice, "alice", testChannel, "1700000000.000001", bot.ActionApprove, "r7k2qxa9", r.fake.responseURL("click")))
	payload := strings.Replace(v.Get("payload"), `"trigger_id":"1.2.3"`, `"trigger_id":"`+r.fake.newTrigger(alice)+`"`, 1)
	body := url.Values{"payload": {payload}}.Encode()
	if resp := do(t, signedRequest(t, r.srv.URL+PathInteractions, body, testSecret, time.Now())); resp.status != http.StatusOK {
		t.Fatalf("click answered %d", resp.status)
	}
	if view := r.waitView(t); view.User != alice {
		t.Errorf("the modal was opened for %s, want %s", view.User, alice)
	}
	if rs := r.fake.allResponses(); len(rs) != 0 {
		t.Errorf("the message was shown as well as the modal: %+v", rs)
	}
}

// TestFilesByDirectMessage: a Reply's Files go to its user alone, in the
// bot's direct message with them, after the Reply's message is shown.
func TestFilesByDirectMessage(t *testing.T) {
	r := startFormRig(t)
	png := []byte("\x89PNG\r\n\x1a\nnot really a QR code")
	r.h.onCommand = func(context.Context, bot.Command) bot.Reply {
		return bot.Reply{Message: &bot.Message{Text: bot.Plain("Scan the QR code I sent you.")}, Files: []bot.File{bot.BytesFile("enroll.png", "Your authenticator QR code", png)}}
	}
	resp := r.slash(t, "enroll", r.fake.newTrigger(alice))
	if !strings.Contains(resp.body, "Scan the QR code") {
		t.Fatalf("the command's answer %q does not carry the Reply's message", resp.body)
	}
	eventually(t, "the file in alice's DM", func() bool { return len(r.fake.completedFiles()) == 1 })
	f := r.fake.completedFiles()[0]
	r.fake.mu.Lock()
	owner := r.fake.ims[f.Channel]
	r.fake.mu.Unlock()
	if owner != alice || f.ThreadTS != "" || string(f.Content) != string(png) || f.Name != "enroll.png" {
		t.Errorf("the file went to channel %s (the DM of %q), thread %q, %d bytes; want alice's DM, whole", f.Channel, owner, f.ThreadTS, len(f.Content))
	}
	if caps := r.a.Capabilities(); !caps.Forms || !caps.DirectFiles {
		t.Errorf("Capabilities %+v; Slack opens forms and sends direct files", caps)
	}
}
