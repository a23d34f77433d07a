package bottest

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
)

// patience bounds every wait for something asynchronous; the machines
// running the tests are shared and noisy.
const patience = 30 * time.Second

// RunAdapterSuite runs the conformance suite against one adapter.
func RunAdapterSuite(t *testing.T, h Harness) {
	t.Run("Goldens", func(t *testing.T) { testGoldens(t, h) })
	t.Run("AdapterSaysWhatItIs", func(t *testing.T) { testAdapter(t, h) })
	t.Run("AckWithinBudget", func(t *testing.T) { testAck(t, h) })
	t.Run("DeliverReply", func(t *testing.T) { testReply(t, h) })
	t.Run("ClickReachesHandler", func(t *testing.T) { testClick(t, h) })
	t.Run("RootAndThread", func(t *testing.T) { testThread(t, h) })
	t.Run("UpdateOrDegrade", func(t *testing.T) { testUpdate(t, h) })
	t.Run("UploadOrDegrade", func(t *testing.T) { testUpload(t, h) })
	t.Run("ForgedInputRefusedBeforeParsing", func(t *testing.T) { testForged(t, h) })
	t.Run("FormGolden", func(t *testing.T) { testFormGolden(t, h) })
	t.Run("FormOrMessage", func(t *testing.T) { testForm(t, h) })
	t.Run("DirectFilesToThatUserAlone", func(t *testing.T) { testDirectFiles(t, h) })
}

// testGoldens renders every message the router builds with the adapter's
// renderer into testdata/bottest/<fixture>.golden.
func testGoldens(t *testing.T, h Harness) {
	fs := commands.Fixtures()
	if len(fs) == 0 {
		t.Fatal("commands.Fixtures returned no messages")
	}
	for _, f := range fs {
		t.Run(f.Name, func(t *testing.T) {
			got, err := h.Render(f.Message)
			if err != nil {
				t.Fatalf("rendering %s: %v", f.Name, err)
			}
			if len(bytes.TrimSpace(got)) == 0 {
				t.Fatalf("rendering %s gave nothing", f.Name)
			}
			if len(got) > 0 && got[len(got)-1] != '\n' {
				got = append(got, '\n')
			}
			golden.Check(t, "bottest/"+f.Name, got)
		})
	}
}

// testAdapter: the bot.Adapter names its platform as its Chat does, and
// its Capabilities are what the platform was seen to do, so the router
// degrades exactly where it must.
func testAdapter(t *testing.T, h Harness) {
	c := h.Start(t, &handler{})
	if c.Adapter == nil {
		t.Skipf("%s does not implement bot.Adapter yet", c.Chat.Platform())
	}
	a := c.Adapter
	if a.Name() != c.Chat.Platform() || a.Chat().Platform() != a.Name() {
		t.Errorf("Name %q, Chat().Platform() %q, the Chat used %q: want one name", a.Name(), a.Chat().Platform(), c.Chat.Platform())
	}
	caps := a.Capabilities()
	if got := bot.CapabilitiesOf(a.Chat()); got != caps {
		t.Errorf("the Chat tells the router %+v, the Adapter %+v", got, caps)
	}
	if caps.Edits != h.Caps.Edits || caps.Uploads != h.Caps.Uploads || caps.Buttons != (c.Click != nil) {
		t.Errorf("Capabilities %+v, but the platform edits: %v, takes files: %v, has buttons: %v", caps, h.Caps.Edits, h.Caps.Uploads, c.Click != nil)
	}
}

// handler records what reaches it and answers with err as its Reply.
type handler struct {
	mu      sync.Mutex
	cmds    []bot.Command
	actions []bot.Action
	err     error
	// cmdReply and actReply, when set, answer instead of err.
	cmdReply func(bot.Command) bot.Reply
	actReply func(bot.Action) bot.Reply
}

func (h *handler) HandleCommand(_ context.Context, cmd bot.Command) bot.Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cmds = append(h.cmds, cmd)
	if h.cmdReply != nil {
		return h.cmdReply(cmd)
	}
	return bot.ReplyFor(h.err)
}

func (h *handler) HandleAction(_ context.Context, act bot.Action) bot.Reply {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.actions = append(h.actions, act)
	if h.actReply != nil {
		return h.actReply(act)
	}
	return bot.ReplyFor(h.err)
}

func (h *handler) answer(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.err = err
}

func (h *handler) calls() ([]bot.Command, []bot.Action) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]bot.Command(nil), h.cmds...), append([]bot.Action(nil), h.actions...)
}

// commandText has the characters platforms escape or mangle.
const commandText = `status --db ci -- "quoted" <tag> & *bold*`

// testAck: a command reaches the handler as typed, by the user and in the
// channel it came from, and the platform has the adapter's answer, with
// the handler's Reply in it, within its budget even while the platform's
// API hangs (the Reply is delivered in the answer, not by a later call).
func testAck(t *testing.T, h Harness) {
	const text = "Unknown option --db ci; try /gitlab-migrations help status."
	hd := &handler{}
	c := h.Start(t, hd)
	hd.answer(&commands.Refusal{Msg: text})
	if c.StallAPI != nil {
		c.StallAPI()
	}
	start := time.Now()
	answer, err := c.Command(commandText)
	if err != nil {
		t.Fatalf("command: %v", err)
	}
	took := time.Since(start)
	if b := h.Caps.AckBudget; b > 0 && took > b {
		t.Errorf("the platform had the answer after %s, past its budget of %s", took, b)
	}
	if c.StallAPI != nil && !strings.Contains(answer, text) {
		t.Errorf("with the platform's API hanging, the answer %q does not carry the Reply %q", answer, text)
	}
	cmds, _ := hd.calls()
	if len(cmds) != 1 {
		t.Fatalf("the handler got %d commands, want 1", len(cmds))
	}
	got := cmds[0]
	if got.User.ID != c.User.ID || got.Channel != c.Channel || got.Text != commandText || got.Platform != c.Chat.Platform() {
		t.Errorf("the handler got %+v; want user %s, channel %s, platform %s, text %q", got, c.User.ID, c.Channel, c.Chat.Platform(), commandText)
	}
}

// testReply: what the handler answers reaches the user who typed, and
// only them, with the approvers it names.
func testReply(t *testing.T, h Harness) {
	const text = "You may not approve request r7k2qxa9: you asked for it yourself."
	hd := &handler{}
	c := h.Start(t, hd)
	hd.answer(&commands.Refusal{Msg: text, Who: []string{c.Approver.ID}})
	answer, err := c.Command("approve r7k2qxa9")
	if err != nil {
		t.Fatalf("command: %v", err)
	}
	names := func(s string) bool {
		return strings.Contains(s, c.Approver.ID) || strings.Contains(s, "@"+c.Approver.Name)
	}
	if strings.Contains(answer, text) {
		if !names(answer) {
			t.Errorf("the reply does not name the approver %+v: %q", c.Approver, answer)
		}
		return
	}
	p, ok := waitFor(c, func(p Post) bool { return strings.Contains(p.Text, text) })
	if !ok {
		t.Fatalf("the user never saw the reply %q; the answer was %q and the platform shows %+v", text, answer, c.Seen())
	}
	if !p.Ephemeral || p.User != c.User.ID {
		t.Errorf("the reply was shown as %+v; want it to %s alone", p, c.User.ID)
	}
	if !names(p.Text) {
		t.Errorf("the reply does not name the approver %+v: %q", c.Approver, p.Text)
	}
}

// testClick: a click on a button the bot posted reaches the handler as
// the button carried it (action, opaque request ID), with the clicking
// user and the message it sits on, and the handler's answer reaches that
// user alone.
func testClick(t *testing.T, h Harness) {
	hd := &handler{}
	c := h.Start(t, hd)
	if c.Click == nil {
		t.Skipf("%s has no buttons; its messages show the command to type instead (Goldens)", c.Chat.Platform())
	}
	const text = "Request r7k2qxa9 is no longer waiting for approval: it expired at 10:15 UTC."
	hd.answer(&commands.Refusal{Msg: text})
	root, err := c.Chat.PostRoot(context.Background(), c.Channel, bot.Message{Text: bot.Plain("Approval needed"), Buttons: []bot.Button{
		{ActionID: bot.ActionApprove, Label: "Approve", Value: "r7k2qxa9", Style: bot.StylePrimary},
		{ActionID: bot.ActionDeny, Label: "Deny", Value: "r7k2qxa9", Style: bot.StyleDanger},
	}})
	if err != nil {
		t.Fatalf("PostRoot: %v", err)
	}
	answer, err := c.Click(root, bot.ActionDeny)
	if err != nil {
		t.Fatalf("click: %v", err)
	}
	var acts []bot.Action
	deadline := time.Now().Add(patience)
	for len(acts) == 0 && time.Now().Before(deadline) {
		_, acts = hd.calls()
		time.Sleep(5 * time.Millisecond)
	}
	if len(acts) != 1 {
		t.Fatalf("the handler got %d clicks, want 1", len(acts))
	}
	a := acts[0]
	if a.ActionID != bot.ActionDeny || a.Value != "r7k2qxa9" || a.User.ID != c.User.ID || a.Message.ID != root.ID || a.Platform != c.Chat.Platform() {
		t.Errorf("the handler got %+v; want deny of r7k2qxa9 by %s on message %s", a, c.User.ID, root.ID)
	}
	if strings.Contains(answer, text) {
		return
	}
	p, ok := waitFor(c, func(p Post) bool { return strings.Contains(p.Text, text) })
	if !ok {
		t.Fatalf("the user never saw the answer to the click; the answer was %q and the platform shows %+v", answer, c.Seen())
	}
	if !p.Ephemeral || p.User != c.User.ID {
		t.Errorf("the answer to the click was shown as %+v; want it to %s alone", p, c.User.ID)
	}
}

// testThread: a root post, replies in its thread, and no reply under a
// reply (a thread has one level).
func testThread(t *testing.T, h Harness) {
	c := h.Start(t, &handler{})
	ctx := context.Background()
	// As the router posts: degraded where the platform lacks something.
	rc := commands.Degrade(c.Chat)
	root, err := rc.PostRoot(ctx, c.Channel, bot.Message{Title: bot.Plain("Root title"), Text: bot.Plain("root text")})
	if err != nil {
		t.Fatalf("PostRoot: %v", err)
	}
	var replies []bot.Ref
	for _, s := range []string{"first reply", "second reply"} {
		r, err := rc.Reply(ctx, root, bot.Message{Text: bot.Plain(s)})
		if err != nil {
			t.Fatalf("Reply: %v", err)
		}
		replies = append(replies, r)
	}
	seen := c.Seen()
	rp, ok := byID(seen, root.ID)
	if !ok || rp.Root != "" || !strings.Contains(rp.Text, "root text") || rp.Channel != c.Channel {
		t.Fatalf("the root post is %+v (found %v); want a root in %s saying %q", rp, ok, c.Channel, "root text")
	}
	for i, r := range replies {
		p, ok := byID(seen, r.ID)
		if !ok || p.Root != root.ID || !strings.Contains(p.Text, []string{"first reply", "second reply"}[i]) {
			t.Errorf("reply %d is %+v (found %v); want it in the thread of %s", i, p, ok, root.ID)
		}
	}
	// A thread has one level: a reply under a reply is refused (and
	// posts nothing) or goes into the root's thread.
	before := len(c.Seen())
	nested, err := rc.Reply(ctx, replies[0], bot.Message{Text: bot.Plain("nested")})
	if err != nil {
		if n := len(c.Seen()); n != before {
			t.Errorf("a refused nested reply still posted (%d posts, was %d)", n, before)
		}
		return
	}
	if p, ok := byID(c.Seen(), nested.ID); !ok || p.Root != root.ID {
		t.Errorf("a reply under a reply is %+v (found %v); want it refused or in the thread of %s", p, ok, root.ID)
	}
}

// testUpdate: an update replaces a post's content and buttons in place,
// or, where the platform cannot edit, the router shows the new content in
// the thread.
func testUpdate(t *testing.T, h Harness) {
	c := h.Start(t, &handler{})
	ctx := context.Background()
	// As the router posts: degraded where the platform lacks something.
	rc := commands.Degrade(c.Chat)
	root, err := rc.PostRoot(ctx, c.Channel, bot.Message{Text: bot.Plain("⏳ waiting for approval"), Buttons: []bot.Button{
		{ActionID: bot.ActionApprove, Label: "Approve", Value: "r7k2qxa9", Style: bot.StylePrimary},
		{ActionID: bot.ActionDeny, Label: "Deny", Value: "r7k2qxa9", Style: bot.StyleDanger},
	}})
	if err != nil {
		t.Fatalf("PostRoot: %v", err)
	}
	before := len(c.Seen())
	if err := rc.Update(ctx, root, bot.Message{Text: bot.Plain("approved by bob"), Tone: bot.ToneSuccess}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	seen := c.Seen()
	if h.Caps.Edits {
		p, _ := byID(seen, root.ID)
		if !strings.Contains(p.Text, "approved by bob") || strings.Contains(p.Text, "waiting for approval") || p.Buttons != 0 {
			t.Errorf("after the update the post is %+v; want the new text and no buttons", p)
		}
		if len(seen) != before {
			t.Errorf("an in-place update added posts (%d, was %d)", len(seen), before)
		}
		return
	}
	p, ok := waitFor(c, func(p Post) bool { return strings.Contains(p.Text, "approved by bob") })
	if !ok {
		t.Fatalf("the platform cannot edit, and the update's content was shown nowhere: %+v", seen)
	}
	if p.Root != root.ID {
		t.Errorf("the update was shown as %+v; want it in the thread of %s", p, root.ID)
	}
	// Called anyway, the adapter's own Update refuses or shows it: it
	// never drops a message silently.
	before = len(c.Seen())
	if err := c.Chat.Update(ctx, root, bot.Message{Text: bot.Plain("denied by carol")}); err == nil {
		if _, ok := waitFor(c, func(p Post) bool { return strings.Contains(p.Text, "denied by carol") }); !ok {
			t.Errorf("the adapter's Update returned nil and showed nothing (%d posts, was %d)", len(c.Seen()), before)
		}
	}
}

// testUpload: a file goes into the thread whole, or, where the platform
// takes no files, the router posts an excerpt of it there.
func testUpload(t *testing.T, h Harness) {
	c := h.Start(t, &handler{})
	ctx := context.Background()
	// As the router posts: degraded where the platform lacks something.
	rc := commands.Degrade(c.Chat)
	root, err := rc.PostRoot(ctx, c.Channel, bot.Message{Text: bot.Plain("status")})
	if err != nil {
		t.Fatalf("PostRoot: %v", err)
	}
	var content bytes.Buffer
	for i := range 200 {
		fmt.Fprintf(&content, "   up     2025050419%04d  Migration number %d\n", i, i)
	}
	if err := rc.Upload(ctx, root, bot.BytesFile("status-gitlab-1.txt", "db:migrate:status", content.Bytes()), "full output"); err != nil {
		t.Fatalf("Upload: %v", err)
	}
	if h.Caps.Uploads {
		p, ok := waitFor(c, func(p Post) bool { return p.File == "status-gitlab-1.txt" })
		if !ok {
			t.Fatalf("the file was not shown: %+v", c.Seen())
		}
		if p.Root != root.ID {
			t.Errorf("the file is in %q, want the thread of %s", p.Root, root.ID)
		}
		if p.Content != nil && !bytes.Equal(p.Content, content.Bytes()) {
			t.Errorf("the file has %d bytes, want the %d uploaded", len(p.Content), content.Len())
		}
		if p.Size != 0 && p.Size != int64(content.Len()) {
			t.Errorf("the file has %d bytes, want the %d uploaded", p.Size, content.Len())
		}
		return
	}
	first := strings.SplitN(content.String(), "\n", 2)[0]
	p, ok := waitFor(c, func(p Post) bool { return p.Root == root.ID && strings.Contains(p.Text, strings.TrimSpace(first)) })
	if !ok {
		t.Fatalf("the platform takes no files, and no excerpt was posted in the thread: %+v", c.Seen())
	}
	if !strings.Contains(p.Text, "status-gitlab-1.txt") {
		t.Errorf("the excerpt does not name the file it comes from: %q", p.Text)
	}
}

// testForged: a request with bad credentials never reaches the handler,
// posts nothing, and is refused alike whether its body parses or not (so
// the credentials were checked before the body was parsed).
func testForged(t *testing.T, h Harness) {
	hd := &handler{}
	c := h.Start(t, hd)
	if len(c.Forgeries) == 0 {
		t.Skipf("%s takes no input over a network, so nothing can be forged", c.Chat.Platform())
	}
	before := len(c.Seen())
	for _, f := range c.Forgeries {
		t.Run(f.Name, func(t *testing.T) {
			for _, garbage := range []bool{false, true} {
				refused, err := f.Send(garbage)
				if err != nil {
					t.Fatal(err)
				}
				if !refused {
					t.Errorf("forged request (unparseable body: %v) was not refused as forged", garbage)
				}
			}
		})
	}
	cmds, acts := hd.calls()
	if len(cmds)+len(acts) != 0 {
		t.Errorf("forged input reached the handler: %+v %+v", cmds, acts)
	}
	if n := len(c.Seen()); n != before {
		t.Errorf("forged input made the bot post (%d posts, was %d): %+v", n, before, c.Seen())
	}
}

func byID(ps []Post, id string) (Post, bool) {
	for _, p := range ps {
		if p.ID == id {
			return p, true
		}
	}
	return Post{}, false
}

// waitFor polls the platform until a post matches or patience runs out.
func waitFor(c *Conn, match func(Post) bool) (Post, bool) {
	deadline := time.Now().Add(patience)
	for {
		for _, p := range c.Seen() {
			if match(p) {
				return p, true
			}
		}
		if time.Now().After(deadline) {
			return Post{}, false
		}
		time.Sleep(10 * time.Millisecond)
	}
}
