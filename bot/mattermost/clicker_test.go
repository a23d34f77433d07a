package mattermost

import (
	"encoding/json"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// clientFrom is an HTTP client whose connections leave from ip: another
// loopback address than the fake Mattermost server's 127.0.0.1.
func clientFrom(t *testing.T, ip string) *http.Client {
	t.Helper()
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	tr := &http.Transport{DialContext: d.DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// mallory is a user who does not exist on the server.
var mallory = mmUser{ID: fixedID("mallory"), Name: "mallory"}

// nothingMoved checks that the approval post and its request are as they
// were: no decision, no edit, no new post, and the router saw no click.
func (e *env) nothingMoved(root *model.Post, patches, posts int) {
	e.t.Helper()
	e.settle()
	if n := e.h.Actions.Load(); n != 0 {
		e.t.Errorf("%d refused callbacks reached the router", n)
	}
	if st := e.request(root.Id).State; st != approvals.StatePending {
		e.t.Errorf("request is %s, want pending: nothing may be decided", st)
	}
	if n := len(e.mm.patchesOf(root.Id)); n != patches {
		e.t.Errorf("the approval post was edited %d times, want %d", n, patches)
	}
	if n := len(e.mm.allPostIDs()); n != posts {
		e.t.Errorf("%d new posts", n-posts)
	}
	if n := e.mutatingJobs(); n != 0 {
		e.t.Errorf("the agent ran %d mutating jobs", n)
	}
	for _, id := range e.mm.allPostIDs() {
		if p := e.mm.post(id); strings.Contains(p.Message+attachmentText(p)+attachmentTitle(p), "mallory") {
			e.t.Errorf("post %s names mallory: %q %q", id, p.Message, attachmentText(p))
		}
	}
}

// TestReplayedContextFromAForeignAddressIsRefused replays the attack of
// issue 8 §1b: a button's stored context, POSTed straight to the callback
// URL with a made-up user_id and user_name "mallory". From an address that
// is not the Mattermost server's it gets 403, nothing reaches the router,
// and each refusal goes to OnRefused naming the source (serve counts them
// into one audit entry per source and minute: TestServeAuditsRefusedCallbacks).
func TestReplayedContextFromAForeignAddressIsRefused(t *testing.T) {
	e := newEnv(t, envOpts{})
	root := e.openMigrate(alice, "migrate")
	ctx := root.GetAction("approve").Integration.Context
	patches, posts := len(e.mm.patchesOf(root.Id)), len(e.mm.allPostIDs())

	foreign := clientFrom(t, "127.0.0.2")
	const n = 25
	for i := range n {
		user := mallory
		if i%2 == 1 {
			user = bob // a real approver's ID does not help either
		}
		status, _ := callbackFrom(t, foreign, e.actionsURL(), callbackFor(root, user, ctx))
		if status != http.StatusForbidden {
			t.Fatalf("callback %d from 127.0.0.2: status %d, want 403", i, status)
		}
	}
	e.nothingMoved(root, patches, posts)
	got := e.refusals.List()
	if len(got) != n {
		t.Fatalf("want %d refusals reported, got %d", n, len(got))
	}
	for _, r := range got {
		if !strings.HasPrefix(r, "button callback from 127.0.0.2:") || !strings.Contains(r, "not one of the Mattermost server's addresses") {
			t.Fatalf("the refusal should name the source: %q", r)
		}
	}
	if n := e.mm.countCalls("GET /api/v4/users/"); n != 0 {
		t.Errorf("a refused source cost %d API calls", n)
	}

	// The server's own clicks still work, and the name shown is the API's.
	status, resp := e.mm.callback(t, e.actionsURL(), callbackFor(root, mmUser{ID: bob.ID, Name: "mallory"}, ctx))
	if status != http.StatusOK || resp.EphemeralText != "" {
		t.Fatalf("bob's click from the server: %d %q", status, resp.EphemeralText)
	}
	e.settle()
	req := e.request(root.Id)
	if req.State != approvals.StateSucceeded || len(req.Approvals()) != 1 || req.Approvals()[0].User.Name != "bob" {
		t.Fatalf("want the request approved by bob (the API's name) and run: %s %+v", req.State, req.Approvals())
	}
	if n := e.mutatingJobs(); n != 1 {
		t.Errorf("the agent ran %d mutating jobs, want the one approved", n)
	}
	if text := attachmentText(e.mm.post(root.Id)); !strings.Contains(text, "Approved by bob") || strings.Contains(text, "mallory") {
		t.Errorf("the post must name the API's user: %q", text)
	}
}

// TestReplayedContextFromTheServerNeedsARealPerson: from the server's
// address the callback passes the address check, and the user it names is
// asked of the API: one who does not exist, is deactivated or is a bot
// decides nothing.
func TestReplayedContextFromTheServerNeedsARealPerson(t *testing.T) {
	e := newEnv(t, envOpts{})
	gone := &model.User{Id: fixedID("gone"), Username: "gone", DeleteAt: model.GetMillis()}
	robot := &model.User{Id: fixedID("robot"), Username: "robot", IsBot: true}
	e.mm.addUserAs(gone)
	e.mm.addUserAs(robot)
	root := e.openMigrate(alice, "migrate")
	ctx := root.GetAction("approve").Integration.Context
	deny := root.GetAction("deny").Integration.Context
	patches, posts := len(e.mm.patchesOf(root.Id)), len(e.mm.allPostIDs())

	for _, c := range []struct {
		name, why string
		user      mmUser
		ctx       map[string]any
	}{
		{"nonexistent user", "does not exist", mallory, ctx},
		{"nonexistent user denies", "does not exist", mallory, deny},
		{"deactivated user", "deactivated", mmUser{ID: gone.Id, Name: "mallory"}, ctx},
		{"bot account", "bot account", mmUser{ID: robot.Id, Name: "mallory"}, ctx},
	} {
		t.Run(c.name, func(t *testing.T) {
			before := len(e.refusals.List())
			status, resp := e.mm.callback(t, e.actionsURL(), callbackFor(root, c.user, c.ctx))
			if status != http.StatusOK || !strings.Contains(resp.EphemeralText, "could not confirm who clicked") {
				t.Errorf("want a refusal, got %d %q", status, resp.EphemeralText)
			}
			got := e.refusals.List()
			if len(got) != before+1 || !strings.Contains(got[len(got)-1], c.why) {
				t.Errorf("want a refusal saying %q, got %q", c.why, got[before:])
			}
		})
	}
	e.nothingMoved(root, patches, posts)
}

// TestClickerLookupFailureDecidesNothing: when the API cannot say who
// clicked, the click is refused (fail closed) and may be retried.
func TestClickerLookupFailureDecidesNothing(t *testing.T) {
	e := newEnv(t, envOpts{})
	root := e.openMigrate(alice, "migrate")
	patches, posts := len(e.mm.patchesOf(root.Id)), len(e.mm.allPostIDs())
	e.mm.rateLimit("GET /api/v4/users/{id}", -1, "1000")
	status, resp := e.mm.click(t, root.Id, "approve", bob)
	if status != http.StatusOK || !strings.Contains(resp.EphemeralText, "could not confirm with Mattermost") {
		t.Fatalf("want a try-again refusal, got %d %q", status, resp.EphemeralText)
	}
	e.nothingMoved(root, patches, posts)
}

// TestApproveByCommandButtonsAnswerWithTheCommand: in strict mode the
// approval post shows the commands to type and no buttons; a click on an
// older post's button decides nothing and says what to type.
func TestApproveByCommandButtonsAnswerWithTheCommand(t *testing.T) {
	e := newEnv(t, envOpts{config: func(c *Config) { c.ApproveBy = ApproveByCommand }})
	root := e.openMigrate(alice, "migrate")
	id := e.request(root.Id).ID
	if got := attachmentText(root) + root.Message; !strings.Contains(got, "/gitlab-migrations approve "+id) || !strings.Contains(got, "/gitlab-migrations deny "+id) {
		t.Errorf("the approval post does not show the commands to type: %q", got)
	}
	patches, posts := len(e.mm.patchesOf(root.Id)), len(e.mm.allPostIDs())
	for _, action := range []string{"approve", "deny"} {
		// A button of a post made before strict mode was turned on.
		ctx := map[string]any{ctxRequest: id, ctxAction: action, ctxSig: e.a.signer.sign(id, action, root.Id, root.ChannelId)}
		status, resp := e.mm.callback(t, e.actionsURL(), callbackFor(root, bob, ctx))
		if want := "`/gitlab-migrations " + action + " " + id + "`"; status != http.StatusOK || !strings.Contains(resp.EphemeralText, want) {
			t.Errorf("%s click: want %s in the answer, got %d %q", action, want, status, resp.EphemeralText)
		}
	}
	e.nothingMoved(root, patches, posts)

	// The typed command decides, as the server vouches for its user.
	if status, resp, raw := e.command(bob, "approve "+id); status != http.StatusOK || resp.Text != "" || len(resp.Attachments) != 0 {
		t.Fatalf("typed approve: %d %s", status, raw)
	}
	e.settle()
	if st := e.request(root.Id).State; st != approvals.StateSucceeded {
		t.Errorf("request %s after the typed approval, want succeeded", st)
	}
}

// TestExplicitCallbackSourcesReplaceTheDefault: with callback_sources set,
// only those addresses may call back, even the server URL's own.
func TestExplicitCallbackSourcesReplaceTheDefault(t *testing.T) {
	e := newEnv(t, envOpts{config: func(c *Config) { c.CallbackSources = []string{"127.0.0.2"} }})
	root := e.openMigrate(alice, "migrate")
	ctx := root.GetAction("approve").Integration.Context
	patches, posts := len(e.mm.patchesOf(root.Id)), len(e.mm.allPostIDs())
	if status, _ := e.mm.callback(t, e.actionsURL(), callbackFor(root, bob, ctx)); status != http.StatusForbidden {
		t.Fatalf("a callback from 127.0.0.1, not listed, got %d, want 403", status)
	}
	e.nothingMoved(root, patches, posts)
	status, resp := callbackFrom(t, clientFrom(t, "127.0.0.2"), e.actionsURL(), callbackFor(root, bob, ctx))
	if status != http.StatusOK || resp.EphemeralText != "" {
		t.Fatalf("a click from the listed 127.0.0.2: %d %q", status, resp.EphemeralText)
	}
	e.settle()
	if st := e.request(root.Id).State; st != approvals.StateSucceeded {
		t.Errorf("request %s, want succeeded", st)
	}
}

// mutatingJobs counts the agent's records of mutating jobs: what really
// ran on the host (read-only pre-flight checks do not count).
func (e *env) mutatingJobs() int {
	e.t.Helper()
	files, err := filepath.Glob(filepath.Join(e.stack.Dir, "agent", "jobs", "*", "record.json"))
	if err != nil {
		e.t.Fatal(err)
	}
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			e.t.Fatal(err)
		}
		var rec agent.JobRecord
		if err := json.Unmarshal(b, &rec); err != nil {
			e.t.Fatal(err)
		}
		if rec.Operation == gitlab.OpMigrate || rec.Operation == gitlab.OpFinalize || rec.Operation == gitlab.OpRestart {
			n++
		}
	}
	return n
}

// TestForgedSlashCommandDecisionsAreRefused: a slash command that approves
// or denies, with a valid command token (say, leaked), decides nothing
// unless it comes from the Mattermost server and names a real, active
// person: from 127.0.0.2 it gets 403 before the router; from the server's
// address with a user who does not exist it is refused. In approve_by
// "command" mode, where the command is the only way to decide, as well.
// Other commands are not affected, and a real user's typed approval from
// the server still decides, under the API's name.
func TestForgedSlashCommandDecisionsAreRefused(t *testing.T) {
	for _, mode := range []string{"", ApproveByCommand} {
		t.Run("approve_by="+mode, func(t *testing.T) {
			e := newEnv(t, envOpts{config: func(c *Config) { c.ApproveBy = mode }})
			root := e.openMigrate(alice, "migrate")
			id := e.request(root.Id).ID
			patches, posts := len(e.mm.patchesOf(root.Id)), len(e.mm.allPostIDs())
			commands := e.h.Commands.Load()

			foreign := clientFrom(t, "127.0.0.2")
			for _, text := range []string{"approve " + id, "APPROVE " + id, "$ approve " + id, "deny " + id + " -- no", "# a comment line\napprove " + id} {
				for _, u := range []mmUser{mallory, bob} {
					before := len(e.refusals.List())
					status, raw := e.mm.commandWith(t, foreign, e.commandURL(), e.tokens[0], u, channelID, text)
					if status != http.StatusForbidden {
						t.Fatalf("%q as %s from 127.0.0.2: %d %s, want 403", text, u.Name, status, raw)
					}
					got := e.refusals.List()
					if len(got) != before+1 || !strings.HasPrefix(got[len(got)-1], "slash command ") || !strings.Contains(got[len(got)-1], "from 127.0.0.2:") {
						t.Fatalf("the refusal should be reported naming the source: %q", got[before:])
					}
				}
			}
			for _, text := range []string{"approve " + id, "deny " + id, "# note\napprove " + id} {
				before := len(e.refusals.List())
				status, resp, raw := e.command(mallory, text)
				if status != http.StatusOK || !strings.Contains(resp.Text, "could not confirm who typed") {
					t.Fatalf("%q as a nonexistent user from the server: %d %s, want a refusal", text, status, raw)
				}
				if got := e.refusals.List(); len(got) != before+1 || !strings.Contains(got[len(got)-1], "does not exist") {
					t.Fatalf("want a refusal saying the user does not exist, got %q", got[before:])
				}
			}
			if n := e.h.Commands.Load(); n != commands {
				t.Errorf("%d forged decisions reached the router", n-commands)
			}
			e.nothingMoved(root, patches, posts)

			// A command that decides nothing still works from anywhere the
			// token reaches (it is refused or answered by the router).
			if status, _ := e.mm.commandWith(t, foreign, e.commandURL(), e.tokens[0], bob, channelID, "help"); status != http.StatusOK {
				t.Errorf("help from 127.0.0.2: %d, want 200", status)
			}
			// bob, typed from the server, under another user_name: decided
			// as bob, the API's name.
			if status, _ := e.mm.command(t, e.commandURL(), e.tokens[0], mmUser{ID: bob.ID, Name: "mallory"}, channelID, "approve "+id); status != http.StatusOK {
				t.Fatalf("bob's typed approval: %d", status)
			}
			e.settle()
			req := e.request(root.Id)
			if req.State != approvals.StateSucceeded || len(req.Approvals()) != 1 || req.Approvals()[0].User.Name != "bob" {
				t.Fatalf("want the request approved by bob (the API's name) and run: %s %+v", req.State, req.Approvals())
			}
		})
	}
}
