package mattermost

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// The flows below run the real router, approvals service, bbolt store and
// agent over the simulated GitLab; only Mattermost is faked, and the
// adapter talks to it through the real model.Client4.

func TestStatusRepliesInTheBotsOwnThread(t *testing.T) {
	e := newEnv(t, envOpts{attachOver: 5})
	status, resp, raw := e.command(alice, "status")
	if status != http.StatusOK || resp.Text != "" || len(resp.Attachments) != 0 {
		t.Fatalf("status should be acknowledged with an empty response, got %d %s", status, raw)
	}
	e.settle()

	root := e.lastRoot()
	if root.UserId != e.mm.bot.Id || root.RootId != "" {
		t.Fatalf("the root post must be the bot's own top-level post: %+v", root)
	}
	if !strings.Contains(attachmentText(root), "**status** on **gitlab-sim**") {
		t.Errorf("the root post should render *bold* as Mattermost **bold**: %q", attachmentText(root))
	}
	replies := e.mm.thread(root.Id)
	var summaryIdx, fileIdx = -1, -1
	for i, p := range replies {
		if attachmentTitle(p) == "Migration status on gitlab-sim" {
			summaryIdx = i
		}
		if len(p.FileIds) == 1 {
			fileIdx = i
		}
	}
	if summaryIdx < 0 {
		t.Fatalf("no status summary in the thread: %s", e.dump())
	}
	if fileIdx < 0 {
		t.Fatalf("the long output was not uploaded into the thread: %s", e.dump())
	}
	for _, p := range e.mm.channelPosts(channelID) {
		if p.Id != root.Id && p.RootId != root.Id {
			t.Errorf("post %s is not a reply under the root %s (root_id %q)", p.Id, root.Id, p.RootId)
		}
	}
	e.mm.mu.Lock()
	upload := string(e.mm.uploads[0])
	e.mm.mu.Unlock()
	if !strings.Contains(upload, "20250422043041") {
		t.Errorf("the uploaded file is not the status output: %.200q", upload)
	}
	if n := e.h.Commands.Load(); n != 1 {
		t.Errorf("the router saw %d commands, want 1", n)
	}
	e.golden("status_root", viewOf(root))
	e.golden("status_summary", viewOf(replies[summaryIdx]))
	e.golden("status_file_post", viewOf(replies[fileIdx]))
}

func TestMigrateRunsAfterASecondPersonApproves(t *testing.T) {
	e := newEnv(t, envOpts{policy: approvals.Policy{Approvers: []string{bob.ID, carol.ID}}})
	root := e.openMigrate(alice, "migrate -- upgrade to 18.0")
	if !strings.Contains(root.Message, "@bob") || !strings.Contains(root.Message, "@carol") {
		t.Errorf("the approval post should mention the approvers by username: %q", root.Message)
	}
	e.golden("approval_pending", viewOf(root))

	// Clients never see the context: the HMAC stays on the server.
	seen, _, err := e.a.client.GetPost(context.Background(), root.Id, "")
	if err != nil {
		t.Fatal(err)
	}
	if act := seen.GetAction("approve"); act == nil || act.Integration != nil {
		t.Errorf("a client reading the post should see the button without its integration: %+v", act)
	}

	status, resp := e.mm.click(t, root.Id, "approve", bob)
	if status != http.StatusOK || resp.EphemeralText != "" {
		t.Fatalf("bob's approval was refused: %d %q", status, resp.EphemeralText)
	}
	e.settle()

	final := e.mm.post(root.Id)
	if !strings.HasPrefix(attachmentTitle(final), "Done: migrate on gitlab-sim") || hasActions(final) {
		t.Fatalf("the root post should end succeeded without buttons: %q actions=%v", attachmentTitle(final), hasActions(final))
	}
	var running bool
	for _, p := range e.mm.patchesOf(root.Id) {
		if strings.HasPrefix(attachmentTitle(p), "Approved:") {
			if hasActions(p) {
				t.Errorf("the running post still has buttons")
			}
			if !running {
				e.golden("approved_running", viewOf(p))
			}
			running = true
		}
	}
	if !running {
		t.Errorf("the root post was never shown as approved and running")
	}
	e.golden("succeeded", viewOf(final))

	thread := e.mm.thread(root.Id)
	if len(thread) == 0 || attachmentTitle(thread[len(thread)-1]) != "All up on gitlab-sim" {
		t.Fatalf("the thread should end with All up: %s", e.dump())
	}
	if st := e.request(root.Id).State; st != approvals.StateSucceeded {
		t.Errorf("request state %s, want succeeded", st)
	}
	// The simulator really migrated: a new status says every migration is up.
	e.command(carol, "status")
	e.settle()
	after := e.mm.thread(e.lastRoot().Id)
	if len(after) == 0 || !strings.Contains(attachmentText(after[0]), "all") || strings.Contains(attachmentText(after[0]), "down") {
		t.Errorf("status after migrate is not all up: %s", e.dump())
	}
}

func TestSelfApprovalIsRefusedToTheRequesterAlone(t *testing.T) {
	e := newEnv(t, envOpts{})
	root := e.openMigrate(alice, "migrate")
	before := len(e.mm.patchesOf(root.Id))

	status, resp := e.mm.click(t, root.Id, "approve", alice)
	if status != http.StatusOK || !strings.Contains(resp.EphemeralText, "yourself") {
		t.Fatalf("self-approval should be refused ephemerally: %d %q", status, resp.EphemeralText)
	}
	e.settle()
	if n := len(e.mm.patchesOf(root.Id)); n != before {
		t.Errorf("the approval post changed after a refused self-approval (%d patches, was %d)", n, before)
	}
	if !hasActions(e.mm.post(root.Id)) {
		t.Errorf("the buttons disappeared after a refused self-approval")
	}
	if st := e.request(root.Id).State; st != approvals.StatePending {
		t.Errorf("request state %s, want pending", st)
	}
	if n := len(e.mm.thread(root.Id)); n != 0 {
		t.Errorf("a refused click posted %d replies in the thread; refusals are for the clicker alone", n)
	}
	e.golden("self_approval_refused", resp)
}

func TestDenyEndsTheRequestAndRemovesTheButtons(t *testing.T) {
	e := newEnv(t, envOpts{})
	root := e.openMigrate(alice, "migrate")
	status, resp := e.mm.click(t, root.Id, "deny", bob)
	if status != http.StatusOK || resp.EphemeralText != "" {
		t.Fatalf("bob's deny was refused: %d %q", status, resp.EphemeralText)
	}
	e.settle()
	final := e.mm.post(root.Id)
	if !strings.HasPrefix(attachmentTitle(final), "Denied:") || hasActions(final) {
		t.Fatalf("the root post should show the denial without buttons: %q", attachmentTitle(final))
	}
	thread := e.mm.thread(root.Id)
	if len(thread) != 1 || !strings.Contains(attachmentText(thread[0]), "Denied by bob") || !strings.Contains(attachmentText(thread[0]), "Nothing ran") {
		t.Errorf("the thread should say who denied and that nothing ran: %s", e.dump())
	}
	req := e.request(root.Id)
	if req.State != approvals.StateDenied || !req.StartedAt.IsZero() {
		t.Errorf("request %s started=%v, want denied and never started", req.State, req.StartedAt)
	}
	e.golden("denied", viewOf(final))
	e.golden("denied_reply", viewOf(thread[0]))
}

func TestExpiredRequestLosesItsButtonsAndRefusesLateClicks(t *testing.T) {
	e := newEnv(t, envOpts{})
	root := e.openMigrate(alice, "migrate")
	oldContext := root.GetAction("approve").Integration.Context

	e.clock.Advance(approvals.DefaultTTL + time.Minute)
	e.stack.Router.ExpireNow(context.Background())
	e.settle()
	final := e.mm.post(root.Id)
	if !strings.HasPrefix(attachmentTitle(final), "Expired:") || hasActions(final) {
		t.Fatalf("the root post should show the expiry without buttons: %q", attachmentTitle(final))
	}
	e.golden("expired", viewOf(final))

	// A client that still shows the old buttons clicks one.
	status, resp := e.mm.callback(t, e.actionsURL(), callbackFor(root, bob, oldContext))
	if status != http.StatusOK || !strings.Contains(resp.EphemeralText, "expired") {
		t.Fatalf("a click on an expired request should be refused: %d %q", status, resp.EphemeralText)
	}
	e.settle()
	if st := e.request(root.Id).State; st != approvals.StateExpired {
		t.Errorf("request state %s, want expired", st)
	}
}

func TestApproverChannelMembersMayApprove(t *testing.T) {
	e := newEnv(t, envOpts{policy: approvals.Policy{ApproverGroups: []string{approverCh}}})
	e.mm.addMember(approverCh, carol.ID)
	root := e.openMigrate(alice, "migrate")
	// With approver groups alone, the post still names who may approve.
	if root.Message != "cc ~db-approvers" {
		t.Errorf("the approval post should name the approvers' channel: %q", root.Message)
	}
	e.golden("approval_pending_group", viewOf(root))

	status, resp := e.mm.click(t, root.Id, "approve", dave)
	if status != http.StatusOK || !strings.Contains(resp.EphemeralText, "not an approver") || !strings.Contains(resp.EphemeralText, "Who may approve: ~db-approvers") {
		t.Fatalf("dave is not in the approvers channel and must be refused, told who may approve: %d %q", status, resp.EphemeralText)
	}
	e.golden("not_an_approver_click", resp)
	if status, resp, _ := e.command(dave, "approve "+e.request(root.Id).ID); status != http.StatusOK || len(resp.Attachments) != 1 ||
		!strings.Contains(resp.Attachments[0].Text, "Who may approve: ~db-approvers") {
		t.Fatalf("dave's typed approval must be refused, naming who may approve: %d %+v", status, resp)
	}
	status, resp = e.mm.click(t, root.Id, "approve", carol)
	if status != http.StatusOK || resp.EphemeralText != "" {
		t.Fatalf("carol is in the approvers channel: %d %q", status, resp.EphemeralText)
	}
	e.settle()
	if st := e.request(root.Id).State; st != approvals.StateSucceeded {
		t.Errorf("request state %s, want succeeded", st)
	}
	if n := e.mm.countCalls("GET /api/v4/channels/{id}/members/{id}"); n < 2 {
		t.Errorf("membership was asked %d times; it must be asked at each click", n)
	}
}

func TestRefusedCommandIsAnEphemeralErrorNotice(t *testing.T) {
	e := newEnv(t, envOpts{})
	status, resp, _ := e.command(alice, "status --host nosuchhost")
	if status != http.StatusOK || resp.ResponseType != "ephemeral" || len(resp.Attachments) != 1 || resp.Attachments[0].Color != "danger" {
		t.Fatalf("an unknown host should be refused with an ephemeral danger notice: %d %+v", status, resp)
	}
	if !strings.Contains(resp.Attachments[0].Text, "nosuchhost") {
		t.Errorf("the notice should say what was wrong: %q", resp.Attachments[0].Text)
	}
	e.settle()
	if n := len(e.mm.channelPosts(channelID)); n != 0 {
		t.Errorf("a refused command posted %d messages in the channel", n)
	}
	e.golden("error_notice", resp)
}

func TestHelpIsAnsweredInTheCommandResponse(t *testing.T) {
	e := newEnv(t, envOpts{})
	status, resp, raw := e.command(alice, "help")
	if status != http.StatusOK || resp.ResponseType != "ephemeral" || len(resp.Attachments) == 0 {
		t.Fatalf("help should come back in the ephemeral command response: %d %s", status, raw)
	}
	e.settle()
	if n := len(e.mm.channelPosts(channelID)); n != 0 {
		t.Errorf("help posted %d messages in the channel", n)
	}
	if n := len(e.mm.ephemeralPosts()); n != 0 {
		t.Errorf("help used %d ephemeral posts; the command response needs no permission", n)
	}
}

// TestCouldNotPostArrivesAsANamedDirectMessage: with Mattermost's default
// roles the bot may not post ephemeral messages, so a background notice
// (here: the bot may not post in the channel) arrives as a DM. It names
// the channel, and its sentences end with one period.
func TestCouldNotPostArrivesAsANamedDirectMessage(t *testing.T) {
	e := newEnv(t, envOpts{})
	e.mm.set(func(f *fakeMM) { f.noEphemeral = true; f.readOnly[channelID] = true })
	for _, text := range []string{"status", "migrate"} {
		if status, _, raw := e.command(alice, text); status != http.StatusOK {
			t.Fatalf("%s: %d %s", text, status, raw)
		}
		e.settle()
	}
	e.mm.mu.Lock()
	dmID := e.mm.dms[model.GetDMNameFromIds(e.mm.bot.Id, alice.ID)]
	e.mm.mu.Unlock()
	posts := e.mm.channelPosts(dmID)
	if dmID == "" || len(posts) != 2 {
		t.Fatalf("want two DMs to alice, got %d", len(posts))
	}
	for _, p := range posts {
		all := p.Message + "\n" + attachmentText(p)
		if !strings.Contains(p.Message, "in ~upgrades;") || !strings.Contains(all, "I could not post in the channel where you asked. ") ||
			!strings.Contains(all, "/invite @gitlab-chatops") || strings.Contains(all, "mattermost create post") ||
			strings.Contains(all, "..") || strings.Contains(all, "this channel") {
			t.Errorf("the DM should name ~upgrades and read cleanly: %q", all)
		}
	}
	e.golden("could_not_post_dm", viewOf(posts[0]))
}

// TestApprovalPostNamesApproversAndTheirChannel: users as @name, the
// approver channel as ~name.
func TestApprovalPostNamesApproversAndTheirChannel(t *testing.T) {
	e := newEnv(t, envOpts{policy: approvals.Policy{Approvers: []string{bob.ID}, ApproverGroups: []string{approverCh}}})
	root := e.openMigrate(alice, "migrate")
	if root.Message != "cc @bob ~db-approvers" {
		t.Errorf("approval post message %q, want the approver and the approvers' channel", root.Message)
	}
	status, resp := e.mm.click(t, root.Id, "approve", dave)
	if status != http.StatusOK || !strings.Contains(resp.EphemeralText, "Who may approve: @bob, ~db-approvers") {
		t.Fatalf("dave's refusal should name who may approve: %d %q", status, resp.EphemeralText)
	}
}
