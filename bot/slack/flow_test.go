package slack

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// The full flow: signed requests through the real router, approvals,
// bbolt store and agent over the simulated GitLab, with the fake Slack
// Web API on the other side.

const (
	alice = "U0ALICE"
	bob   = "U0BOB"
	eve   = "U0EVE"
)

type flow struct {
	fake  *fakeSlack
	a     *Adapter
	stack *simtest.Stack
	srv   *httptest.Server
	h     *simtest.CountingHandler
	rec   *simtest.Refusals
}

func startFlow(t *testing.T, policy approvals.Policy, ro commands.Options) *flow {
	t.Helper()
	f := &flow{fake: newFakeSlack(t), rec: &simtest.Refusals{}}
	f.fake.groups["S0DBA"] = []string{alice, bob}
	f.a = newTestAdapter(t, f.fake, WithOnRefused(f.rec.Hook))
	f.stack = simtest.Start(t, simtest.Options{Policy: policy, Groups: f.a, Router: ro})
	f.stack.Router.Register(f.a)
	f.stack.Run(t)
	f.h = &simtest.CountingHandler{H: f.stack.Router}
	f.srv = httptest.NewServer(f.a.HTTPHandler(f.h))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *flow) slash(t *testing.T, user, name, text, responseName string) response {
	t.Helper()
	body := slashForm(user, name, testChannel, text, f.fake.responseURL(responseName))
	return do(t, signedRequest(t, f.srv.URL+PathCommands, body, testSecret, time.Now()))
}

func (f *flow) click(t *testing.T, user, name, messageTS, action, value, responseName string) response {
	t.Helper()
	body := clickForm(user, name, testChannel, messageTS, action, value, f.fake.responseURL(responseName))
	return do(t, signedRequest(t, f.srv.URL+PathInteractions, body, testSecret, time.Now()))
}

// threadWith waits for a reply under root whose blocks contain s.
func (f *flow) threadWith(t *testing.T, root, s string) fakeMsg {
	t.Helper()
	var found fakeMsg
	eventually(t, "a reply containing "+s, func() bool {
		for _, m := range f.fake.replies(root) {
			if strings.Contains(blockTexts(m.Blocks), s) {
				found = m
				return true
			}
		}
		return false
	})
	return found
}

func (f *flow) checkThreads(t *testing.T) {
	t.Helper()
	if v := f.fake.allViolations(); len(v) > 0 {
		t.Errorf("Slack rules broken: %v", v)
	}
	roots := map[string]bool{}
	for _, r := range f.fake.roots() {
		roots[r.TS] = true
	}
	for _, c := range f.fake.callsTo("chat.postMessage") {
		if ts := c.Form.Get("thread_ts"); ts != "" && !roots[ts] {
			t.Errorf("a reply was threaded under %s, which is not a root", ts)
		}
	}
}

func TestFlowStatusInThread(t *testing.T) {
	f := startFlow(t, approvals.Policy{}, commands.Options{AttachOver: 5})
	resp := f.slash(t, alice, "alice", "status", "status")
	if resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("slash command answered %d %q, want an empty 200", resp.status, resp.body)
	}
	eventually(t, "the root post", func() bool { return len(f.fake.roots()) == 1 })
	root := f.fake.roots()[0]
	if root.ThreadTS != "" || !strings.Contains(blockTexts(root.Blocks), "status") {
		t.Fatalf("root = %+v", root)
	}
	summary := f.threadWith(t, root.TS, "Migration status on gitlab-sim")
	if summary.ThreadTS != root.TS {
		t.Errorf("summary thread_ts %s, want the root's %s", summary.ThreadTS, root.TS)
	}
	// The raw output is longer than AttachOver: attached as a file into
	// the same thread.
	eventually(t, "the output file", func() bool { return len(f.fake.completedFiles()) == 1 })
	file := f.fake.completedFiles()[0]
	if file.ThreadTS != root.TS || file.Channel != testChannel || len(file.Content) == 0 || !strings.Contains(string(file.Content), "Migration ID") {
		t.Errorf("file = %+v", file)
	}
	f.checkThreads(t)
}

func TestFlowMigrateApprovedBySecondPerson(t *testing.T) {
	f := startFlow(t, approvals.Policy{ApproverGroups: []string{"S0DBA"}}, commands.Options{})
	ctx := context.Background()

	if resp := f.slash(t, alice, "alice", "migrate -- upgrade to 17.5", "migrate"); resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("slash command answered %d %q", resp.status, resp.body)
	}
	// The root is posted, then edited into the approval request.
	var root fakeMsg
	eventually(t, "the approval request with buttons", func() bool {
		rs := f.fake.roots()
		if len(rs) != 1 {
			return false
		}
		root = rs[0]
		return len(buttons(root.Blocks)) == 2
	})
	btns := buttons(root.Blocks)
	id := btns[0].Value
	if btns[0].ActionID != "approve" || btns[1].ActionID != "deny" || btns[1].Value != id {
		t.Fatalf("buttons = %+v", btns)
	}
	text := blockTexts(root.Blocks)
	for _, want := range []string{"Approval needed: migrate on gitlab-sim", "gitlab-rake db:migrate", "gitlab-sim", "alice", "upgrade to 17.5", "Expires"} {
		if !strings.Contains(text, want) {
			t.Errorf("approval message lacks %q:\n%s", want, text)
		}
	}

	// Alice approving her own request: refused, to her alone, nothing runs.
	if resp := f.click(t, alice, "alice", root.TS, "approve", id, "alice-click"); resp.status != http.StatusOK {
		t.Fatalf("click answered %d", resp.status)
	}
	eventually(t, "alice's refusal", func() bool { return len(f.fake.allResponses()) > 0 })
	r := f.fake.allResponses()[0]
	if r.Path != "/response/alice-click" || r.Body["response_type"] != "ephemeral" || !strings.Contains(r.Body["text"].(string), "yourself") {
		t.Errorf("refusal = %+v", r)
	}
	if req, err := f.stack.Approvals.Request(ctx, id); err != nil || req.State != approvals.StatePending {
		t.Fatalf("after self-approval the request is %v (%v), want pending", req.State, err)
	}
	if now, _ := f.fake.message(root.TS); len(buttons(now.Blocks)) != 2 {
		t.Error("the buttons went away after a refused click")
	}
	for _, m := range f.fake.replies(root.TS) {
		if strings.Contains(blockTexts(m.Blocks), "yourself") {
			t.Error("the refusal was posted in the thread for all to see")
		}
	}

	// Bob, in the approver group, approves: it runs.
	if resp := f.click(t, bob, "bob", root.TS, "approve", id, "bob-click"); resp.status != http.StatusOK {
		t.Fatalf("click answered %d", resp.status)
	}
	f.threadWith(t, root.TS, "All up on gitlab-sim")
	eventually(t, "the request to succeed", func() bool {
		req, err := f.stack.Approvals.Request(ctx, id)
		return err == nil && req.State == approvals.StateSucceeded
	})
	eventually(t, "the root to show success", func() bool {
		m, _ := f.fake.message(root.TS)
		return strings.Contains(blockTexts(m.Blocks), "succeeded")
	})
	final, _ := f.fake.message(root.TS)
	if len(buttons(final.Blocks)) != 0 || strings.Contains(string(final.Blocks), `"actions"`) {
		t.Errorf("buttons left on the decided request: %s", final.Blocks)
	}
	// The buttons were removed by chat.update of the root itself.
	removed := false
	for _, c := range f.fake.callsTo("chat.update") {
		if c.Form.Get("ts") == root.TS && c.Form.Get("blocks") != "" && len(buttons([]byte(c.Form.Get("blocks")))) == 0 && strings.Contains(c.Form.Get("blocks"), "Approved") {
			removed = true
		}
	}
	if !removed {
		t.Error("no chat.update of the root removed the buttons")
	}
	migrated := f.threadWith(t, root.TS, "db:migrate on gitlab-sim succeeded")
	if migrated.ThreadTS != root.TS {
		t.Errorf("result threaded under %s", migrated.ThreadTS)
	}
	// The last reply is the follow-up status: the thread ends with All up.
	replies := f.fake.replies(root.TS)
	if last := blockTexts(replies[len(replies)-1].Blocks); !strings.Contains(last, "All up on gitlab-sim") {
		t.Errorf("thread ends with %q", last)
	}
	if len(f.fake.callsTo("usergroups.users.list")) == 0 {
		t.Error("approver group never resolved through usergroups.users.list")
	}
	if got := len(f.rec.List()); got != 0 {
		t.Errorf("%d inbound requests refused: %v", got, f.rec.List())
	}
	f.checkThreads(t)
}

// TestFlowNotInChannelSaysInviteMe: the bot is not in the channel, so its
// root post fails with not_in_channel; the person who asked is told, through
// their response_url, what to do, in a sentence without Slack's error code
// or any Go error text.
func TestFlowNotInChannelSaysInviteMe(t *testing.T) {
	f := startFlow(t, approvals.Policy{}, commands.Options{})
	f.fake.failNext("chat.postMessage", fakeFailure{slackErr: "not_in_channel"})
	// Slack refuses the ephemeral message there too: the user's recent
	// response_url carries it (respond.go).
	f.fake.failNext("chat.postEphemeral", fakeFailure{slackErr: "not_in_channel"})
	resp := f.slash(t, alice, "alice", "status", "status")
	if resp.status != http.StatusOK {
		t.Fatalf("slash command answered %d %q", resp.status, resp.body)
	}
	var text string
	eventually(t, "the notice via response_url", func() bool {
		for _, r := range f.fake.allResponses() {
			if r.Path == "/response/status" {
				text, _ = r.Body["text"].(string)
				return true
			}
		}
		return false
	})
	if !strings.Contains(text, "I could not post in the channel where you asked") || !strings.Contains(text, "/invite @gitlab-chatops") {
		t.Errorf("notice = %q, want the reason and the /invite step", text)
	}
	checkNoRawError(t, "the notice", text+resp.body)
}
