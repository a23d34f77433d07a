package mattermost

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/bottest"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestDialogGolden: the dialog OpenInteractiveDialog receives for a form
// (the state is fixed here: it is sealed afresh each time).
func TestDialogGolden(t *testing.T) {
	d, err := Dialog(bottest.ReauthForm(), "https://chatops.internal:8443/mattermost/dialog", "v1.STATE.MAC")
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	golden.Check(t, "form-dialog", append(b, '\n'))
}

func TestDialogURL(t *testing.T) {
	a, _ := newAdapterOnly(t, Options{})
	if got, want := a.dialogURL(), "http://127.0.0.1:1"+DialogPath; got != want {
		t.Errorf("dialog URL %q, want %q", got, want)
	}
}

// TestStateSealing: a sealed state opens with the same key until it
// expires; an altered one, one sealed with another secret, a button's MAC
// and an expired one are refused.
func TestStateSealing(t *testing.T) {
	now := time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC)
	s := newStateSigner(actionSecret)
	st := dialogState{Action: "approve", Value: "r7k2qxa9", Channel: channelID, User: alice.ID, Field: "code", Expires: now.Add(time.Minute).Unix()}
	sealed, err := s.seal(st)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.unseal(sealed, now)
	if err != nil || got.Value != "r7k2qxa9" || got.User != alice.ID || got.Nonce == "" {
		t.Fatalf("unseal = %+v, %v", got, err)
	}
	other, _ := newStateSigner("another-secret-of-at-least-32-bytes!!").seal(st)
	body, mac, _ := strings.Cut(strings.TrimPrefix(sealed, stateVersion), ".")
	flip := map[byte]byte{'A': 'B'}[body[10]]
	if flip == 0 {
		flip = 'A'
	}
	altered := stateVersion + body[:10] + string(flip) + body[11:] + "." + mac
	for name, c := range map[string]struct {
		state string
		at    time.Time
	}{
		"altered":        {altered, now},
		"other secret":   {other, now},
		"button MAC":     {stateVersion + body + "." + newSigner(actionSecret).sign("r7k2qxa9", "approve", "p", "c")[len(sigVersion):], now},
		"expired":        {sealed, now.Add(time.Minute)},
		"no version":     {strings.TrimPrefix(sealed, stateVersion), now},
		"garbage":        {"v1.%%%.%%%", now},
		"empty":          {"", now},
		"signature only": {stateVersion + "." + mac, now},
	} {
		if _, err := s.unseal(c.state, c.at); err == nil {
			t.Errorf("%s: unseal accepted %q", name, c.state)
		}
	}
}

// dialogRig is the adapter on loopback over fakeMM with a handler that
// answers as the test says.
type dialogRig struct {
	mm    *fakeMM
	a     *Adapter
	srv   *httptest.Server
	rec   *simtest.Refusals
	h     *formHandler
	clock *approvalstest.Clock // the adapter's clock, which a test moves on
	base  string
}

type formHandler struct {
	mu       sync.Mutex
	acts     []bot.Action
	onCmd    func(bot.Command) bot.Reply
	onAction func(bot.Action) bot.Reply
}

func (h *formHandler) HandleCommand(_ context.Context, cmd bot.Command) bot.Reply {
	h.mu.Lock()
	on := h.onCmd
	h.mu.Unlock()
	if on == nil {
		return bot.NoReply
	}
	return on(cmd)
}

func (h *formHandler) HandleAction(_ context.Context, act bot.Action) bot.Reply {
	h.mu.Lock()
	h.acts = append(h.acts, act)
	on := h.onAction
	h.mu.Unlock()
	if on == nil {
		return bot.NoReply
	}
	return on(act)
}

func (h *formHandler) actions() []bot.Action {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bot.Action(nil), h.acts...)
}

func startDialogRig(t *testing.T) *dialogRig {
	t.Helper()
	return startDialogRigOn(t, newFakeMM(t), nil)
}

// startDialogRigOn starts a replica on mm with seen (nil: its own), its
// configuration changed by cfgs.
func startDialogRigOn(t *testing.T, mm *fakeMM, seen bot.Seen, cfgs ...func(*Config)) *dialogRig {
	t.Helper()
	r := &dialogRig{mm: mm, rec: &simtest.Refusals{}, h: &formHandler{}, clock: approvalstest.NewClock(time.Now())}
	r.mm.addUser(alice.ID, alice.Name)
	r.mm.addUser(bob.ID, bob.Name)
	r.mm.addChannel(channelID, "upgrades", string(model.ChannelTypeOpen))
	r.srv = httptest.NewUnstartedServer(nil)
	t.Cleanup(r.srv.Close)
	var err error
	cfg := Config{
		URL: r.mm.URL(), BotToken: r.mm.token, CommandTokens: []string{"cmdtoken"}, ActionSecret: actionSecret,
		CallbackURL: "http://" + r.srv.Listener.Addr().String() + ActionsPath,
	}
	for _, f := range cfgs {
		f(&cfg)
	}
	r.a, err = New(cfg, Options{Logger: testLogger(t), OnRefused: r.rec.Hook, Now: r.clock.Now, Seen: seen})
	if err != nil {
		t.Fatal(err)
	}
	r.srv.Config.Handler = r.a.HTTPHandler(r.h)
	r.srv.Start()
	t.Cleanup(r.a.Wait)
	return r
}

func (r *dialogRig) askForm(t *testing.T) {
	r.h.onCmd = func(bot.Command) bot.Reply {
		f := bottest.ReauthForm()
		return bot.Reply{Message: &bot.Message{Text: bot.Plain("Type /gitlab-migrations approve r7k2qxa9 --code NNNNNN instead.")}, Form: &f}
	}
}

func (r *dialogRig) command(t *testing.T, text string) *model.CommandResponse {
	t.Helper()
	status, body := r.mm.command(t, r.srv.URL+CommandPath, "cmdtoken", alice, channelID, text)
	if status != http.StatusOK {
		t.Fatalf("command answered %d: %s", status, body)
	}
	var resp model.CommandResponse
	if err := json.Unmarshal(body, &resp); err != nil {
		t.Fatal(err)
	}
	return &resp
}

// TestDialogFromCommand: a Reply with a Form answering a slash command
// opens a dialog for that user (no message in the response); its
// submission reaches the handler as an Action with the fields; a refusal
// is shown on the field and the user may submit again; an accepted
// submission closes it and the answer is shown to that user alone.
func TestDialogFromCommand(t *testing.T) {
	r := startDialogRig(t)
	r.askForm(t)
	if resp := r.command(t, "approve r7k2qxa9"); resp.Text != "" {
		t.Errorf("the command's response shows %q; want nothing (the dialog is the answer)", resp.Text)
	}
	ds := r.mm.openedDialogs()
	if len(ds) != 1 || ds[0].User != alice.ID || ds[0].Req.URL != "http://"+r.srv.Listener.Addr().String()+DialogPath {
		t.Fatalf("dialogs opened: %+v; want one for alice submitting to %s", ds, DialogPath)
	}
	r.h.onAction = func(act bot.Action) bot.Reply {
		if act.Fields["code"] != "123456" {
			return bot.ReplyFor(&commands.Refusal{Msg: "That code is not valid; 4 tries left."})
		}
		return bot.Say(bot.Message{Text: bot.Plain("Approved r7k2qxa9.")})
	}
	status, resp := r.mm.submitDialog(t, ds[0], alice, map[string]string{"code": "000000"})
	if status != http.StatusOK || !strings.Contains(resp.Errors["code"], "not valid") {
		t.Fatalf("a refused submission was answered %d %+v; want the error on the code field", status, resp)
	}
	status, resp = r.mm.submitDialog(t, ds[0], alice, map[string]string{"code": "123456"})
	if status != http.StatusOK || resp.Error != "" || len(resp.Errors) != 0 {
		t.Fatalf("an accepted submission was answered %d %+v; want an empty response (the dialog closes)", status, resp)
	}
	acts := r.h.actions()
	if len(acts) != 2 {
		t.Fatalf("the handler got %d submissions, want 2", len(acts))
	}
	got := acts[1]
	if got.ActionID != bot.ActionApprove || got.Value != "r7k2qxa9" || got.User != (bot.User{ID: alice.ID, Name: alice.Name}) || got.Message.Channel != channelID || got.Fields["code"] != "123456" {
		t.Errorf("the handler got %+v; want approve of r7k2qxa9 by alice in %s with code 123456", got, channelID)
	}
	r.a.Wait()
	var shown bool
	for _, e := range r.mm.ephemeralPosts() {
		shown = shown || e.UserID == alice.ID && e.Post.ChannelId == channelID && strings.Contains(e.Post.Message, "Approved r7k2qxa9")
	}
	if !shown {
		t.Errorf("the answer to the submission was not shown to alice alone: %+v", r.mm.ephemeralPosts())
	}

	// The accepted state again: a replay, refused and audited.
	status, resp = r.mm.submitDialog(t, ds[0], alice, map[string]string{"code": "123456"})
	if status != http.StatusOK || !strings.Contains(resp.Error, "already submitted") {
		t.Errorf("a replayed submission was answered %d %+v", status, resp)
	}
	if n := len(r.h.actions()); n != 2 {
		t.Errorf("the replay reached the handler (%d submissions)", n)
	}
	if !refusedWith(r.rec, "replayed") {
		t.Errorf("the replay was not reported to OnRefused: %v", r.rec.List())
	}
}

// TestDialogForgeries: a submission whose state is forged, altered,
// expired, another user's, or of a dialog the bot did not open never
// reaches the handler and is reported to OnRefused.
func TestDialogForgeries(t *testing.T) {
	r := startDialogRig(t)
	r.askForm(t)
	r.command(t, "approve r7k2qxa9")
	ds := r.mm.openedDialogs()
	if len(ds) != 1 {
		t.Fatalf("dialogs opened: %+v", ds)
	}
	d := ds[0]
	forged := newStateSigner("not-the-action-secret-but-as-long-as-it")
	st := dialogState{Action: "approve", Value: "r7k2qxa9", Channel: channelID, User: alice.ID, Field: "code", Expires: r.clock.Now().Add(time.Hour).Unix()}
	forgedState, _ := forged.seal(st)
	sub := func(state, callback string, u mmUser) (int, *model.SubmitDialogResponse) {
		return r.mm.dialogRequest(t, d.Req.URL, &model.SubmitDialogRequest{
			Type: "dialog_submission", CallbackId: callback, State: state, UserId: u.ID, ChannelId: channelID, TeamId: teamID,
			Submission: map[string]any{"code": "123456"},
		})
	}
	body, mac, _ := strings.Cut(strings.TrimPrefix(d.Req.Dialog.State, stateVersion), ".")
	for _, c := range []struct {
		name, state, callback string
		user                  mmUser
		reason                string
	}{
		{"forged HMAC", forgedState, DialogCallbackID, alice, "does not match its signature"},
		{"altered state", stateVersion + body + "AA." + mac, DialogCallbackID, alice, "does not match its signature"},
		{"another user", d.Req.Dialog.State, DialogCallbackID, bob, "submitted by"},
		{"not our dialog", d.Req.Dialog.State, "other", alice, "did not open"},
	} {
		status, resp := sub(c.state, c.callback, c.user)
		if status != http.StatusOK || !strings.Contains(resp.Error, "could not verify") {
			t.Errorf("%s: answered %d %+v", c.name, status, resp)
		}
		if !refusedWith(r.rec, c.reason) {
			t.Errorf("%s: OnRefused was not told %q: %v", c.name, c.reason, r.rec.List())
		}
	}
	r.clock.Advance(11 * time.Minute)
	if status, resp := r.mm.submitDialog(t, d, alice, map[string]string{"code": "123456"}); status != http.StatusOK || !strings.Contains(resp.Error, "could not verify") || !refusedWith(r.rec, "expired") {
		t.Errorf("an expired dialog was answered %d %+v (refusals %v)", status, resp, r.rec.List())
	}
	if acts := r.h.actions(); len(acts) != 0 {
		t.Errorf("refused submissions reached the handler: %+v", acts)
	}
}

// TestDialogFallsBackToMessage: when the dialog cannot be opened (the
// trigger expired), the command's response shows the Reply's Message.
func TestDialogFallsBackToMessage(t *testing.T) {
	r := startDialogRig(t)
	r.askForm(t)
	// The command's trigger_id expires before the dialog is opened.
	r.mm.set(func(f *fakeMM) { f.expireTriggers = true })
	resp := r.command(t, "approve r7k2qxa9")
	if !strings.Contains(resp.Text, "--code NNNNNN") {
		t.Errorf("with the dialog refused, the response shows %q; want the Reply's message", resp.Text)
	}
	if ds := r.mm.openedDialogs(); len(ds) != 0 {
		t.Errorf("dialogs opened: %+v", ds)
	}
}

// TestFilesByDirectChannel: a Reply's Files go to its user alone, in the
// bot's direct channel with them, after the response.
func TestFilesByDirectChannel(t *testing.T) {
	r := startDialogRig(t)
	png := []byte("\x89PNG\r\n\x1a\nnot really a QR code")
	r.h.onCmd = func(bot.Command) bot.Reply {
		return bot.Reply{Message: &bot.Message{Text: bot.Plain("Scan the QR code I sent you.")}, Files: []bot.File{bot.BytesFile("enroll.png", "Your authenticator QR code", png)}}
	}
	if resp := r.command(t, "enroll"); !strings.Contains(resp.Text, "Scan the QR code") {
		t.Errorf("the response %q does not carry the Reply's message", resp.Text)
	}
	r.a.Wait()
	r.mm.mu.Lock()
	defer r.mm.mu.Unlock()
	dm := r.mm.dms[model.GetDMNameFromIds(r.mm.bot.Id, alice.ID)]
	var found bool
	for _, id := range r.mm.order {
		p := r.mm.posts[id]
		for _, fid := range p.FileIds {
			info := r.mm.files[fid]
			found = found || (p.ChannelId == dm && dm != "" && info.Name == "enroll.png" && info.Size == int64(len(png)))
		}
	}
	if !found {
		t.Errorf("no post with enroll.png in the bot's DM with alice (%q); posts %v", dm, r.mm.order)
	}
	if caps := r.a.Capabilities(); !caps.Forms || !caps.DirectFiles {
		t.Errorf("Capabilities %+v; Mattermost opens dialogs and sends direct files", caps)
	}
}

func refusedWith(rec *simtest.Refusals, part string) bool {
	for _, r := range rec.List() {
		if strings.Contains(r, part) {
			return true
		}
	}
	return false
}

// TestDialogReplayAcrossReplicas: two replicas sharing a Seen (as they
// share etcd's): a submission accepted by one and replayed to the other
// is refused there, and reported; the same code typed again after a
// refusal is refused as already submitted, a corrected one is taken.
func TestDialogReplayAcrossReplicas(t *testing.T) {
	mm := newFakeMM(t)
	seen := bot.NewMemorySeen(100, nil)
	one := startDialogRigOn(t, mm, seen)
	two := startDialogRigOn(t, mm, seen)
	one.askForm(t)
	one.command(t, "approve r7k2qxa9")
	ds := mm.openedDialogs()
	if len(ds) != 1 {
		t.Fatalf("dialogs opened: %+v", ds)
	}
	for _, r := range []*dialogRig{one, two} {
		r.h.onAction = func(act bot.Action) bot.Reply {
			if act.Fields["code"] != "123456" {
				return bot.ReplyFor(&commands.Refusal{Msg: "That code is not valid."})
			}
			return bot.Say(bot.Message{Text: bot.Plain("Approved r7k2qxa9.")})
		}
	}
	submitTo := func(r *dialogRig, code string) *model.SubmitDialogResponse {
		d := ds[0]
		d.Req.URL = "http://" + r.srv.Listener.Addr().String() + DialogPath
		_, resp := mm.submitDialog(t, d, alice, map[string]string{"code": code})
		return resp
	}
	if resp := submitTo(one, "000000"); !strings.Contains(resp.Errors["code"], "not valid") {
		t.Fatalf("a wrong code was answered %+v", resp)
	}
	if resp := submitTo(two, "000000"); !strings.Contains(resp.Error, "already submitted") {
		t.Errorf("the same wrong code again, on the other replica, was answered %+v", resp)
	}
	if resp := submitTo(one, "123456"); resp.Error != "" || len(resp.Errors) != 0 {
		t.Fatalf("the right code was answered %+v", resp)
	}
	if resp := submitTo(two, "123456"); !strings.Contains(resp.Error, "already submitted") {
		t.Errorf("the accepted submission replayed to the other replica was answered %+v", resp)
	}
	if n1, n2 := len(one.h.actions()), len(two.h.actions()); n1 != 2 || n2 != 0 {
		t.Errorf("the handlers got %d and %d submissions; want 2 on the first replica, none on the second", n1, n2)
	}
	if !refusedWith(two.rec, "replayed") {
		t.Errorf("the replay was not reported on the second replica: %v", two.rec.List())
	}
}

// TestDialogFromClick: a click answered with a Form opens the dialog with
// the click's trigger_id, and the callback's answer shows nothing else.
func TestDialogFromClick(t *testing.T) {
	r := startDialogRig(t)
	r.h.onAction = func(act bot.Action) bot.Reply {
		if act.Fields != nil {
			return bot.NoReply
		}
		f := bottest.ReauthForm()
		return bot.Reply{Message: &bot.Message{Text: bot.Plain("Type /gitlab-migrations approve r7k2qxa9 --code NNNNNN instead.")}, Form: &f}
	}
	root, err := r.a.PostRoot(context.Background(), channelID, bot.Message{Text: bot.Plain("Approval needed"), Buttons: []bot.Button{
		{ActionID: bot.ActionApprove, Label: "Approve", Value: "r7k2qxa9", Style: bot.StylePrimary},
	}})
	if err != nil {
		t.Fatal(err)
	}
	status, resp := r.mm.click(t, root.ID, bot.ActionApprove, alice)
	if status != http.StatusOK || resp.EphemeralText != "" {
		t.Errorf("the click was answered %d %q; want nothing shown (the dialog is the answer)", status, resp.EphemeralText)
	}
	ds := r.mm.openedDialogs()
	if len(ds) != 1 || ds[0].User != alice.ID || ds[0].Req.Dialog.Title != "Approve r7k2qxa9" {
		t.Fatalf("dialogs opened: %+v; want the form for alice", ds)
	}
	if status, resp := r.mm.submitDialog(t, ds[0], alice, map[string]string{"code": "123456"}); status != http.StatusOK || resp.Error != "" {
		t.Errorf("the submission was answered %d %+v", status, resp)
	}
	acts := r.h.actions()
	if len(acts) != 2 || acts[1].Fields["code"] != "123456" || acts[1].Message.Channel != channelID {
		t.Errorf("the handler got %+v; want the click, then the submission with the code", acts)
	}
}

// TestNoDialogsInStrictMode: with approve_by command, the adapter claims
// no forms, opens none (the Reply's Message says what to type), and a
// dialog submission, even with a valid state, decides nothing.
func TestNoDialogsInStrictMode(t *testing.T) {
	r := startDialogRigOn(t, newFakeMM(t), nil, func(c *Config) { c.ApproveBy = ApproveByCommand })
	r.mm.addUser(alice.ID, alice.Name)
	r.askForm(t)
	if r.a.Capabilities().Forms {
		t.Errorf("Capabilities %+v claim forms with approve_by command", r.a.Capabilities())
	}
	if resp := r.command(t, "approve r7k2qxa9"); !strings.Contains(resp.Text, "--code NNNNNN") {
		t.Errorf("the response shows %q; want the Reply's message", resp.Text)
	}
	if ds := r.mm.openedDialogs(); len(ds) != 0 {
		t.Fatalf("dialogs opened in strict mode: %+v", ds)
	}
	state, err := r.a.states.seal(dialogState{Action: "approve", Value: "r7k2qxa9", Channel: channelID, User: alice.ID, Field: "code", Expires: time.Now().Add(time.Minute).Unix()})
	if err != nil {
		t.Fatal(err)
	}
	status, resp := r.mm.submitDialog(t, fakeDialog{User: alice.ID, Req: model.OpenDialogRequest{
		URL: "http://" + r.srv.Listener.Addr().String() + DialogPath, Dialog: model.Dialog{CallbackId: DialogCallbackID, State: state},
	}}, alice, map[string]string{"code": "123456"})
	if status != http.StatusOK || !strings.Contains(resp.Error, "typed") || len(r.h.actions()) != 0 {
		t.Errorf("a dialog submission in strict mode was answered %d %+v and the handler got %+v", status, resp, r.h.actions())
	}
}

// TestEnrollNeedsTheServer: enroll answers with the user's new
// authenticator secret, so with a valid command token from elsewhere than
// the Mattermost server it is refused (403) before the handler, and from
// the server it names a real user, confirmed by the API.
func TestEnrollNeedsTheServer(t *testing.T) {
	r := startDialogRig(t)
	var (
		mu  sync.Mutex
		got []bot.Command
	)
	r.h.onCmd = func(cmd bot.Command) bot.Reply {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, cmd)
		return bot.Say(bot.Message{Text: bot.Plain("otpauth://totp/…")})
	}
	if status, raw := r.mm.commandWith(t, clientFrom(t, "127.0.0.2"), r.srv.URL+CommandPath, "cmdtoken", alice, channelID, "enroll"); status != http.StatusForbidden {
		t.Errorf("enroll from 127.0.0.2 was answered %d %s; want 403", status, raw)
	}
	if !refusedWith(r.rec, "127.0.0.2") {
		t.Errorf("the refusal was not reported: %v", r.rec.List())
	}
	mallory := mmUser{ID: fixedID("mallory"), Name: "mallory"}
	if status, raw := r.mm.command(t, r.srv.URL+CommandPath, "cmdtoken", mallory, channelID, "enroll"); status != http.StatusOK || !strings.Contains(string(raw), "could not confirm") {
		t.Errorf("enroll as a user who does not exist was answered %d %s", status, raw)
	}
	resp := r.command(t, "enroll")
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(resp.Text, "otpauth") || len(got) != 1 || got[0].User.ID != alice.ID {
		t.Errorf("alice's enroll from the server: %q, the handler got %+v", resp.Text, got)
	}
}
