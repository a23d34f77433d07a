package commands_test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// formsChat is the recorder on a platform that opens forms and sends
// files by DM (Slack, Mattermost).
type formsChat struct{ *recorder }

func (formsChat) Capabilities() bot.Capabilities {
	c := bot.AllCapabilities
	c.Forms, c.DirectFiles = true, true
	return c
}

var totpPolicy = approvals.Policy{Reauth: map[string]string{"migrate": approvals.ReauthTOTP, "finalize": approvals.ReauthTOTP, "restart": approvals.ReauthNone}}

// reauthSetup is setup with policy.reauth on a manual clock; forms says
// whether the platform opens forms and sends files.
func reauthSetup(t *testing.T, forms bool, opt simtest.Options) (*simtest.Stack, *recorder, *approvalstest.Clock) {
	t.Helper()
	clock := approvalstest.NewClock(time.Now().UTC().Truncate(time.Minute))
	opt.Clock, opt.Reauth = clock.Now, true
	if opt.Policy.Reauth == nil {
		opt.Policy = totpPolicy
	}
	s := simtest.Start(t, opt)
	rec := newRecorder()
	if forms {
		s.Router.Register(formsChat{rec})
	} else {
		s.Router.Register(rec)
	}
	s.Run(t)
	return s, rec, clock
}

// enrol enrols u through the router and returns the key from the URI the
// reply showed.
func enrol(t *testing.T, s *simtest.Stack, rec *recorder, u bot.User) (*otp.Key, bot.Reply) {
	t.Helper()
	rp := s.Router.HandleCommand(context.Background(), bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: "enroll"})
	if rp.Refused || rp.Message == nil {
		t.Fatalf("enroll: %+v", rp)
	}
	text := rp.Message.Text.String()
	i := strings.Index(text, "otpauth://totp/")
	if i < 0 {
		t.Fatalf("the enrolment reply has no otpauth:// URI:\n%s", text)
	}
	uri := strings.TrimRight(strings.Fields(text[i:])[0], "`")
	k, err := otp.NewKeyFromURL(uri)
	if err != nil {
		t.Fatalf("URI %q: %v", uri, err)
	}
	if !strings.Contains(text, k.Secret()) {
		t.Error("the enrolment reply does not show the key for typing by hand")
	}
	return k, rp
}

func code(t *testing.T, k *otp.Key, c *approvalstest.Clock) string {
	t.Helper()
	v, err := totp.GenerateCode(k.Secret(), c.Now())
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func pendingState(t *testing.T, s *simtest.Stack, id string) approvals.State {
	t.Helper()
	r, err := s.DB.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	return r.State
}

// TestReauthFormFlow: on a platform with forms, the enrolment comes with
// its QR code as a file; clicking Approve on a migrate asks for the code
// in a form (and says what to type instead) and approves nothing; a wrong
// code is refused and audited; the right one runs migrate once. The
// secret is never stored in the clear.
func TestReauthFormFlow(t *testing.T) {
	s, rec, clock := reauthSetup(t, true, simtest.Options{})
	ctx := context.Background()
	key, rp := enrol(t, s, rec, bob)
	if len(rp.Files) != 1 {
		t.Fatalf("enrolment reply has %d files; want the QR code", len(rp.Files))
	}
	r, err := rp.Files[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	png, _ := io.ReadAll(r)
	if !bytes.HasPrefix(png, []byte("\x89PNG\r\n")) {
		t.Fatalf("the QR code file is not a PNG (%d bytes)", len(png))
	}
	raw, err := os.ReadFile(filepath.Join(s.Dir, "chatops.db"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(key.Secret())) {
		t.Fatal("the TOTP secret is stored in the clear")
	}

	id, root := openMigrate(t, s, rec)
	clickAct := bot.Action{Platform: rec.Platform(), User: bob, Message: bot.Ref{Channel: "C1", ID: root}, ActionID: bot.ActionApprove, Value: id}
	prompt := s.Router.HandleAction(ctx, clickAct)
	s.Router.Wait()
	if prompt.Refused || prompt.Form == nil || prompt.Message == nil {
		t.Fatalf("click on Approve: %+v; want a form asking for the code", prompt)
	}
	if f := prompt.Form; f.ActionID != bot.ActionApprove || f.Value != id || len(f.Fields) != 1 || f.Fields[0].Name != "code" {
		t.Fatalf("form %+v; want approve %s with one field, code", f, id)
	}
	if !strings.Contains(prompt.Message.Text.String(), "/gitlab-migrations approve "+id+" --code NNNNNN") {
		t.Fatalf("the form's fallback message does not say what to type: %s", prompt.Message.Text)
	}
	if pendingState(t, s, id) != approvals.StatePending || agentJobs(t, s, "migrate") != 0 {
		t.Fatal("a click without a code approved or ran the request")
	}

	submit := func(c string) bot.Reply {
		act := bot.Action{Platform: rec.Platform(), User: bob, Message: bot.Ref{Channel: "C1"}, ActionID: bot.ActionApprove, Value: id, Fields: map[string]string{"code": c}}
		rp := s.Router.HandleAction(ctx, act)
		s.Router.Wait()
		return rp
	}
	if rp := submit(approvalstest.WrongCode(key.Secret(), clock.Now())); !rp.Refused || !strings.Contains(rp.Message.Text.String(), "not the current code") {
		t.Fatalf("a wrong code: %+v; want a refusal", rp)
	}
	if pendingState(t, s, id) != approvals.StatePending {
		t.Fatal("a wrong code approved the request")
	}
	if rp := submit(code(t, key, clock)); rp.Refused || rp.Err != nil {
		t.Fatalf("the right code: %+v", rp)
	}
	contains(t, rec.thread(root), "Done: migrate on gitlab-sim succeeded")
	if n := agentJobs(t, s, "migrate"); n != 1 {
		t.Fatalf("migrate ran %d times; want 1", n)
	}
	acts := auditActions(t, s)
	for _, a := range []string{approvals.ActionReauthEnrolled, approvals.ActionReauthFailed, approvals.ActionReauthVerified, approvals.ActionRequestApproved} {
		if count(acts, a) != 1 {
			t.Errorf("audit has %d %s; want 1 (%v)", count(acts, a), a, acts)
		}
	}
}

// TestReauthTypedCodes: without forms (the console's way) approve asks
// for --code; a code is accepted once; five wrong codes in ten minutes
// lock the approver out for fifteen, said with the time it ends; the
// lockout ends.
func TestReauthTypedCodes(t *testing.T) {
	long := totpPolicy
	long.TTL = time.Hour // the request outlives the lockout
	// Two approvals: bob's approval is recorded, nothing runs (a run would
	// change the state the other request was based on).
	long.ApprovalsRequired = 2
	s, rec, clock := reauthSetup(t, false, simtest.Options{Policy: long})
	key, rp := enrol(t, s, rec, bob)
	if len(rp.Files) != 0 {
		t.Fatal("a platform without direct files was given the QR code file")
	}
	ask := func(text string) error { return command(t, s, rec, bob, text) }
	approvedBy := func(id string) bool {
		r, err := s.DB.Request(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		_, ok := r.ApprovedBy(bob.ID)
		return ok
	}

	if err := ask("approve r0000000"); err == nil {
		t.Fatal("approving an unknown request was not refused")
	}
	if err := command(t, s, rec, alice, "migrate -- upgrade to 17.5"); err != nil {
		t.Fatal(err)
	}
	if err := command(t, s, rec, alice, "migrate -- the same, twice"); err != nil {
		t.Fatal(err)
	}
	reqs, _ := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if len(reqs) != 2 {
		t.Fatalf("%d pending requests; want 2", len(reqs))
	}
	id, id2 := reqs[1].ID, reqs[0].ID // newest first
	if err := ask("approve " + id); err != nil {
		t.Fatalf("approve without a code: %v", err)
	}
	notes := rec.notesFor(bob.ID)
	contains(t, notes[len(notes)-1:], "approve "+id+" --code NNNNNN")
	if approvedBy(id) {
		t.Fatal("approve without a code was recorded")
	}
	good := code(t, key, clock)
	if err := ask("approve " + id + " --code " + good); err != nil {
		t.Fatalf("approve with the code: %v", err)
	}
	if !approvedBy(id) {
		t.Fatal("bob's approval with the right code was not recorded")
	}

	// The same code on the other request: refused (replay).
	if err := ask("approve " + id2 + " --code " + good); err == nil || !strings.Contains(err.Error(), "already used") {
		t.Fatalf("a reused code: %v; want a refusal saying it was used", err)
	}
	for range approvals.MaxWrongCodes - 2 {
		clock.Advance(time.Minute)
		wrong := approvalstest.WrongCode(key.Secret(), clock.Now())
		if err := ask("approve " + id2 + " --code " + wrong); err == nil || !strings.Contains(err.Error(), "not the current code") {
			t.Fatalf("a wrong code: %v", err)
		}
	}
	clock.Advance(time.Minute)
	until := clock.Now().Add(approvals.Lockout).UTC().Format("15:04 UTC")
	err := ask("approve " + id2 + " --code " + approvalstest.WrongCode(key.Secret(), clock.Now()))
	if err == nil || !strings.Contains(err.Error(), "locked out") || !strings.Contains(err.Error(), until) {
		t.Fatalf("the fifth wrong code in 10 minutes: %v; want a lockout until %s", err, until)
	}
	if err := ask("approve " + id2 + " --code " + code(t, key, clock)); err == nil || !strings.Contains(err.Error(), "locked out") {
		t.Fatalf("the right code while locked out: %v; want the lockout", err)
	}
	if approvedBy(id2) {
		t.Fatal("bob's approval was recorded during the lockout")
	}
	clock.Advance(approvals.Lockout)
	if err := ask("approve " + id2 + " --code " + code(t, key, clock)); err != nil {
		t.Fatalf("after the lockout: %v", err)
	}
	if !approvedBy(id2) {
		t.Fatal("bob's approval after the lockout was not recorded")
	}
}

// TestReauthRefusals: an approver who never enrolled is told to; a
// platform that cannot answer one user alone is never sent a secret;
// re-enrolling needs the current code; an admin resets a lost one.
func TestReauthRefusals(t *testing.T) {
	pol := totpPolicy
	pol.Admins = []string{alice.ID}
	s, rec, clock := reauthSetup(t, false, simtest.Options{Policy: pol})
	id, _ := openMigrate(t, s, rec)
	if err := command(t, s, rec, carol, "approve "+id); err == nil || !strings.Contains(err.Error(), "/gitlab-migrations enroll") {
		t.Fatalf("approve by someone not enrolled: %v; want a refusal saying how to enrol", err)
	}
	key, _ := enrol(t, s, rec, bob)
	if err := command(t, s, rec, bob, "enroll"); err == nil || !strings.Contains(err.Error(), "enroll --code") {
		t.Fatalf("enrolling again without a code: %v; want a refusal", err)
	}
	clock.Advance(time.Minute)
	rp := s.Router.HandleCommand(context.Background(), bot.Command{Platform: rec.Platform(), User: bob, Channel: "C1", Text: "enroll --code " + code(t, key, clock)})
	if rp.Refused || rp.Message == nil || !strings.Contains(rp.Message.Text.String(), "otpauth://") {
		t.Fatalf("re-enrolling with the code: %+v", rp)
	}
	if strings.Contains(rp.Message.Text.String(), key.Secret()) {
		t.Fatal("re-enrolling kept the old secret")
	}

	// A lost phone: only an admin resets it, then the approver is asked
	// to enrol again.
	if err := command(t, s, rec, carol, "enroll --reset "+bob.ID); err == nil || !strings.Contains(err.Error(), "Only the bot's admins") {
		t.Fatalf("a reset by someone not an admin: %v", err)
	}
	if err := command(t, s, rec, alice, "enroll --reset "+bob.ID); err != nil {
		t.Fatalf("the admin's reset: %v", err)
	}
	if err := command(t, s, rec, bob, "approve "+id); err == nil || !strings.Contains(err.Error(), "you have not enrolled") {
		t.Fatalf("approve after the reset: %v; want to be told to enrol", err)
	}

	public := &noEphemeral{rec}
	s.Router.Register(public)
	rp = s.Router.HandleCommand(context.Background(), bot.Command{Platform: public.Platform(), User: carol, Channel: "C1", Text: "enroll"})
	if !rp.Refused || !strings.Contains(rp.Message.Text.String(), "cannot show a message to you alone") {
		t.Fatalf("enroll where every reply is public: %+v; want a refusal", rp)
	}
	if e, _ := s.DB.Enrolment(context.Background(), "public:"+carol.ID); e.Enrolled() {
		t.Fatal("a secret was made for a public reply")
	}
}

// noEphemeral is a platform whose replies everyone sees.
type noEphemeral struct{ *recorder }

func (noEphemeral) Platform() string { return "public" }
func (noEphemeral) Capabilities() bot.Capabilities {
	c := bot.AllCapabilities
	c.Ephemeral = false
	return c
}

// TestReauthNoneApprovesWithoutCode: restart: none is approved and run as
// before, with TOTP on for migrate.
func TestReauthNoneApprovesWithoutCode(t *testing.T) {
	s, rec, _ := reauthSetup(t, false, simtest.Options{Scenario: "services-down"})
	if err := command(t, s, rec, alice, "restart -- sidekiq stopped"); err != nil {
		t.Fatal(err)
	}
	reqs, _ := s.DB.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if len(reqs) != 1 {
		t.Fatalf("%d pending requests", len(reqs))
	}
	if err := command(t, s, rec, bob, "approve "+reqs[0].ID); err != nil {
		t.Fatal(err)
	}
	if st := pendingState(t, s, reqs[0].ID); st == approvals.StatePending {
		t.Fatal("restart (reauth none) still pending after an approval without a code")
	}
	if n := agentJobs(t, s, "restart"); n != 1 {
		t.Fatalf("restart ran %d times; want 1", n)
	}
}
