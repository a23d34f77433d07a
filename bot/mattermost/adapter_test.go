package mattermost

import (
	"context"
	"strings"
	"testing"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

func contains(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}

var approveButtons = []bot.Button{
	{ActionID: bot.ActionApprove, Label: "Approve", Value: "r7k2qxa9", Style: bot.StylePrimary},
	{ActionID: bot.ActionDeny, Label: "Deny", Value: "r7k2qxa9", Style: bot.StyleDanger},
}

// A post created with buttons gets them in a second step, signed for the
// post ID the server handed out.
func TestButtonsOnANewPostAreBoundToIt(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	ref, err := a.PostRoot(context.Background(), channelID, bot.Message{Title: bot.Plain("Approve?"), Buttons: approveButtons})
	if err != nil {
		t.Fatal(err)
	}
	p := mm.post(ref.ID)
	for _, id := range []string{bot.ActionApprove, bot.ActionDeny} {
		act := p.GetAction(id)
		if act == nil || act.Integration == nil {
			t.Fatalf("post has no %s button: %+v", id, p.GetProps())
		}
		c := act.Integration.Context
		sig, _ := c[ctxSig].(string)
		if c[ctxRequest] != "r7k2qxa9" || c[ctxAction] != id || !a.signer.verify(sig, "r7k2qxa9", id, ref.ID, channelID) {
			t.Errorf("%s context is not bound to post %s: %v", id, ref.ID, c)
		}
		if act.Integration.URL != a.cfg.CallbackURL {
			t.Errorf("callback URL %q", act.Integration.URL)
		}
	}
	if first := mm.created()[0]; hasActions(first) {
		t.Errorf("the post was created with buttons before its ID was known")
	}
}

func TestUpdateReplacesPropsSoButtonsGoAndTheBotBadgeStays(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	ctx := context.Background()
	ref, err := a.PostRoot(ctx, channelID, bot.Message{Title: bot.Plain("Approve?"), Buttons: approveButtons})
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Update(ctx, ref, bot.Message{Title: bot.Plain("Approved"), Tone: bot.ToneSuccess}); err != nil {
		t.Fatal(err)
	}
	p := mm.post(ref.ID)
	if hasActions(p) || attachmentTitle(p) != "Approved" {
		t.Errorf("the update should replace the attachment and drop the buttons: %+v", p.GetProps())
	}
	if p.GetProp(model.PostPropsFromBot) != "true" {
		t.Errorf("from_bot was lost in the patch: %+v", p.GetProps())
	}
	// An update to a plain message removes the attachment altogether.
	if err := a.Update(ctx, ref, bot.Message{Text: bot.Plain("plain")}); err != nil {
		t.Fatal(err)
	}
	if p := mm.post(ref.ID); len(p.Attachments()) != 0 || p.Message != "plain" {
		t.Errorf("plain update: message %q props %+v", p.Message, p.GetProps())
	}
}

// With PostEditTimeLimit passed, a message may no longer change, but props
// may: the update goes into the attachment and the buttons still go.
func TestUpdateAfterTheEditTimeLimit(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	ctx := context.Background()
	ref, err := a.PostRoot(ctx, channelID, bot.Message{Title: bot.Plain("Approve?"), Buttons: approveButtons})
	if err != nil {
		t.Fatal(err)
	}
	mm.set(func(f *fakeMM) { f.noMsgEdits = true })
	if err := a.Update(ctx, ref, bot.Message{Title: bot.Plain("Denied"), Tone: bot.ToneDanger}); err != nil {
		t.Fatal(err)
	}
	if p := mm.post(ref.ID); hasActions(p) || attachmentTitle(p) != "Denied" {
		t.Errorf("the attachment should carry the update: %+v", p.GetProps())
	}
	if err := a.Update(ctx, ref, bot.Message{Text: bot.Plain("plain now")}); err != nil {
		t.Fatal(err)
	}
	if p := mm.post(ref.ID); attachmentText(p) != "plain now" {
		t.Errorf("a plain update should become an attachment: %+v", p.GetProps())
	}
}

// A post the adapter does not remember (made before a restart) is looked
// up once, for its root and for the props a patch must keep.
func TestPostsFromBeforeARestart(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	ctx := context.Background()
	root, err := a.PostRoot(ctx, channelID, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	reply, err := a.Reply(ctx, root, bot.Message{Text: bot.Plain("reply")})
	if err != nil {
		t.Fatal(err)
	}
	fresh, err := New(a.cfg, Options{Logger: a.log})
	if err != nil {
		t.Fatal(err)
	}
	// Replying "under" a reply threads under its root: Mattermost refuses a
	// reply's ID as RootId.
	again, err := fresh.Reply(ctx, reply, bot.Message{Text: bot.Plain("second")})
	if err != nil {
		t.Fatal(err)
	}
	if p := mm.post(again.ID); p.RootId != root.ID {
		t.Errorf("root_id %q, want the thread's root %q", p.RootId, root.ID)
	}
	if err := fresh.Update(ctx, root, bot.Message{Text: bot.Plain("edited")}); err != nil {
		t.Fatal(err)
	}
	if p := mm.post(root.ID); p.GetProp(model.PostPropsFromBot) != "true" || p.Message != "edited" {
		t.Errorf("after a restart the patch must still keep from_bot: %+v", p.GetProps())
	}
	if n := mm.countCalls("GET /api/v4/posts/{id} 200"); n != 2 {
		t.Errorf("%d post look-ups, want one per unknown post", n)
	}
}

func TestUploadGoesIntoTheThread(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	ctx := context.Background()
	root, err := a.PostRoot(ctx, channelID, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte(strings.Repeat("== 20250101000000 Migrating\n", 100))
	if err := a.Upload(ctx, root, bot.BytesFile("../../etc/migrate.txt", "Full output of migrate", content), "100 lines of output"); err != nil {
		t.Fatal(err)
	}
	thread := mm.thread(root.ID)
	if len(thread) != 1 || len(thread[0].FileIds) != 1 {
		t.Fatalf("want one file post in the thread: %+v", thread)
	}
	mm.mu.Lock()
	info := mm.files[thread[0].FileIds[0]]
	data := mm.uploads[0]
	mm.mu.Unlock()
	if info.Name != "migrate.txt" || info.ChannelId != channelID || string(data) != string(content) {
		t.Errorf("uploaded %q in %s (%d bytes)", info.Name, info.ChannelId, len(data))
	}
	if err := a.Upload(ctx, root, bot.File{Name: "empty.txt"}, ""); err == nil {
		t.Error("an empty file should be an error, not a silent no-op")
	}
}

func TestMentionsAreUsernamesFromACache(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	ctx := context.Background()
	mm.addUser(bob.ID, "bob")
	mm.addUser(carol.ID, "carol")
	m := bot.Message{Title: bot.Plain("Approval needed"), Mentions: []string{bob.ID, carol.ID, bob.ID, fixedID("ghost")}}
	for range 3 {
		ref, err := a.PostRoot(ctx, channelID, m)
		if err != nil {
			t.Fatal(err)
		}
		if got := mm.post(ref.ID).Message; got != "cc @bob @carol `"+fixedID("ghost")+"`" {
			t.Errorf("mentions rendered as %q", got)
		}
	}
	mm.mu.Lock()
	defer mm.mu.Unlock()
	if mm.userGets[bob.ID] != 1 || mm.userGets[carol.ID] != 1 {
		t.Errorf("usernames should be cached: %v", mm.userGets)
	}
}

func TestNotifyOutsideARequest(t *testing.T) {
	ctx := context.Background()
	m := bot.Message{Text: bot.Plain("I could not post in this channel"), Tone: bot.ToneDanger}

	t.Run("ephemeral post", func(t *testing.T) {
		a, mm := newAdapterOnly(t, Options{})
		if err := a.Notify(ctx, channelID, bot.User{ID: alice.ID}, m); err != nil {
			t.Fatal(err)
		}
		eph := mm.ephemeralPosts()
		if len(eph) != 1 || eph[0].UserID != alice.ID || eph[0].Post.ChannelId != channelID || attachmentText(eph[0].Post) != m.Text.String() {
			t.Errorf("want one ephemeral post for alice: %+v", eph)
		}
	})
	t.Run("direct message when ephemeral posts are not allowed", func(t *testing.T) {
		a, mm := newAdapterOnly(t, Options{})
		mm.addChannel(channelID, "upgrades", string(model.ChannelTypeOpen))
		mm.set(func(f *fakeMM) { f.noEphemeral = true })
		if err := a.Notify(ctx, channelID, bot.User{ID: alice.ID}, m); err != nil {
			t.Fatal(err)
		}
		dm := model.GetDMNameFromIds(mm.bot.Id, alice.ID)
		mm.mu.Lock()
		dmID := mm.dms[dm]
		mm.mu.Unlock()
		posts := mm.channelPosts(dmID)
		if dmID == "" || len(posts) != 1 || attachmentText(posts[0]) != m.Text.String() || !strings.Contains(posts[0].Message, "Only you were meant to see this, in ~upgrades;") {
			t.Errorf("want the message as a DM from the bot, naming the channel: %+v", posts)
		}
	})
	t.Run("a clear error when neither is possible", func(t *testing.T) {
		a, mm := newAdapterOnly(t, Options{})
		a.cfg.NotifyFallback = "none"
		mm.set(func(f *fakeMM) { f.noEphemeral = true })
		err := a.Notify(ctx, channelID, bot.User{ID: alice.ID}, m)
		if err == nil || !strings.Contains(err.Error(), "create_post_ephemeral") {
			t.Errorf("want an error naming the missing permission, got %v", err)
		}
	})
}

func TestIsMemberOfTheApproversChannel(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	ctx := context.Background()
	mm.addMember(approverCh, carol.ID)
	if ok, err := a.IsMember(ctx, approverCh, carol.ID); err != nil || !ok {
		t.Errorf("carol: %v %v", ok, err)
	}
	if ok, err := a.IsMember(ctx, approverCh, dave.ID); err != nil || ok {
		t.Errorf("dave: %v %v", ok, err)
	}
	if ok, err := a.IsMember(ctx, approverCh, "not-an-id"); err != nil || ok {
		t.Errorf("a malformed user ID is nobody: %v %v", ok, err)
	}
	if _, err := a.IsMember(ctx, "approvers", carol.ID); err == nil {
		t.Error("a group that is not a channel ID should be a configuration error")
	}
}

func TestChatRefusesWhatMattermostWouldNot(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	ctx := context.Background()
	bad := []bot.Button{{ActionID: "approve_1", Label: "Approve", Value: "x"}}
	if _, err := a.PostRoot(ctx, channelID, bot.Message{Text: bot.Plain("x"), Buttons: bad}); err == nil {
		t.Error("an action ID with an underscore would 404 on click and must be refused")
	}
	if _, err := a.PostRoot(ctx, "general", bot.Message{Text: bot.Plain("x")}); err == nil {
		t.Error("a channel name is not a channel ID")
	}
	if _, err := a.Reply(ctx, bot.Ref{}, bot.Message{Text: bot.Plain("x")}); err == nil {
		t.Error("a reply needs a root")
	}
	if n := len(mm.allPostIDs()); n != 0 {
		t.Errorf("%d posts made", n)
	}
}

// TestUploadOverTheLimitIsCut: a file larger than MaxUploadBytes is
// uploaded cut to the limit, ending with a note that says so, instead of
// failing; it streams, so the size is declared before the data.
func TestUploadOverTheLimitIsCut(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{MaxUploadBytes: 300})
	ctx := context.Background()
	root, err := a.PostRoot(ctx, channelID, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte(strings.Repeat("0123456789", 100))
	if err := a.Upload(ctx, root, bot.BytesFile("big.txt", "Full output", content), "100 lines"); err != nil {
		t.Fatal(err)
	}
	mm.mu.Lock()
	data := string(mm.uploads[0])
	mm.mu.Unlock()
	if len(data) != 300 || !strings.HasPrefix(data, "0123456789") || !strings.Contains(data, "the full output is 1000 bytes") {
		t.Errorf("uploaded %d bytes: %q", len(data), data)
	}
}
