package bottest

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
)

// What the suite asks of forms (a Reply's Form opened for one user, its
// submission back as an Action with Fields) and of files sent to one user
// (a Reply's Files by direct message).

// ReauthForm is the form the router opens to ask an approver for the
// current code of their authenticator app, with text people typed in it
// (escaped by every adapter). The adapters' own form tests use it too.
func ReauthForm() bot.Form {
	return bot.Form{
		ActionID: bot.ActionApprove, Value: "r7k2qxa9", Title: "Approve r7k2qxa9",
		Intro:  bot.Join(bot.Plain("Approving "), bot.Code("migrate"), bot.Plain(" on gitlab-1 (reason: upgrade *now* <!here> @all) needs the current code of your authenticator app.")),
		Fields: []bot.FormField{{Name: "code", Label: "Code", Hint: "Six digits, from the app you enrolled with.", MinLength: 6, MaxLength: 6}},
		Submit: "Approve",
	}
}

// fallbackText is what a Reply with a Form says to type instead.
const fallbackText = "Type /gitlab-migrations approve r7k2qxa9 --code NNNNNN to approve."

func formReply() bot.Reply {
	f := ReauthForm()
	return bot.Reply{Message: &bot.Message{Text: bot.Plain(fallbackText)}, Form: &f}
}

// testFormGolden renders the form through the adapter into
// testdata/bottest/form-reauth.golden.
func testFormGolden(t *testing.T, h Harness) {
	if h.RenderForm == nil {
		t.Skip("the platform has no forms; the Reply's Message is shown instead (FormOrMessage)")
	}
	got, err := h.RenderForm(ReauthForm())
	if err != nil {
		t.Fatalf("rendering the form: %v", err)
	}
	if len(got) > 0 && got[len(got)-1] != '\n' {
		got = append(got, '\n')
	}
	golden.Check(t, "bottest/form-reauth", got)
}

// testForm: a Reply with a Form opens it for the user who typed, instead
// of showing its Message; its submission reaches the handler as an Action
// with the form's action and value, the typed fields and that user; a
// refusal is shown in the open form, an accepted submission's answer to
// that user alone; a forged submission is refused and reaches nobody. A
// platform without forms shows the Message, which says what to type.
func testForm(t *testing.T, h Harness) {
	hd := &handler{}
	c := h.Start(t, hd)
	hd.onCommand(func(bot.Command) bot.Reply { return formReply() })
	forms := c.Adapter != nil && c.Adapter.Capabilities().Forms
	if c.Adapter != nil && forms != (c.Submit != nil) {
		t.Errorf("Capabilities.Forms is %v, but the platform takes form submissions: %v", forms, c.Submit != nil)
	}
	answer, err := c.Command("approve r7k2qxa9")
	if err != nil {
		t.Fatalf("command: %v", err)
	}
	if !forms {
		if strings.Contains(answer, fallbackText) {
			return
		}
		if _, ok := waitFor(c, func(p Post) bool { return strings.Contains(p.Text, fallbackText) }); !ok {
			t.Fatalf("the platform has no forms and the Reply's message was not shown: answer %q, platform %+v", answer, c.Seen())
		}
		return
	}
	var open []OpenForm
	deadline := time.Now().Add(patience)
	for len(open) == 0 && time.Now().Before(deadline) {
		open = c.Forms()
		time.Sleep(5 * time.Millisecond)
	}
	if len(open) != 1 {
		t.Fatalf("%d forms opened, want 1", len(open))
	}
	f := open[0]
	if f.User != c.User.ID || !strings.Contains(f.Title, "r7k2qxa9") {
		t.Errorf("the form opened is %+v; want %q for %s", f, ReauthForm().Title, c.User.ID)
	}
	if strings.Contains(answer, fallbackText) {
		t.Errorf("the form opened and the message was shown too: %q", answer)
	}

	const wrong, accepted = "That code is not valid; 4 tries left.", "Approved r7k2qxa9."
	hd.onAction(func(a bot.Action) bot.Reply {
		if a.Fields["code"] != "123456" {
			return bot.ReplyFor(&commands.Refusal{Msg: wrong})
		}
		return bot.Say(bot.Message{Text: bot.Plain(accepted)})
	})
	if c.ForgeSubmit != nil {
		refused, err := c.ForgeSubmit(f)
		if err != nil {
			t.Fatalf("forged submission: %v", err)
		}
		if !refused {
			t.Errorf("a forged submission of the form was not refused as forged")
		}
		if _, acts := hd.calls(); len(acts) != 0 {
			t.Fatalf("a forged submission reached the handler: %+v", acts)
		}
	}
	answer, err = c.Submit(f, map[string]string{"code": "000000"})
	if err != nil {
		t.Fatalf("submit: %v", err)
	}
	if !strings.Contains(answer, wrong) {
		t.Errorf("a refused submission was answered %q; want the refusal shown in the form", answer)
	}
	if _, err := c.Submit(f, map[string]string{"code": "123456"}); err != nil {
		t.Fatalf("submit: %v", err)
	}
	_, acts := hd.calls()
	if len(acts) != 2 {
		t.Fatalf("the handler got %d submissions, want 2", len(acts))
	}
	a := acts[1]
	if a.ActionID != bot.ActionApprove || a.Value != "r7k2qxa9" || a.User.ID != c.User.ID || a.Fields["code"] != "123456" || a.Platform != c.Chat.Platform() {
		t.Errorf("the handler got %+v; want approve of r7k2qxa9 by %s with code 123456", a, c.User.ID)
	}
	p, ok := waitFor(c, func(p Post) bool { return strings.Contains(p.Text, accepted) })
	if !ok {
		t.Fatalf("the answer to the submission was never shown: %+v", c.Seen())
	}
	if !p.Ephemeral && !p.Direct || p.User != c.User.ID {
		t.Errorf("the answer to the submission was shown as %+v; want it to %s alone", p, c.User.ID)
	}
}

// testDirectFiles: a Reply's Files reach the user who typed alone (a
// direct message), whole, after its Message; a platform without
// DirectFiles shows the Message and sends the files nowhere.
func testDirectFiles(t *testing.T, h Harness) {
	hd := &handler{}
	c := h.Start(t, hd)
	png := []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR not really a QR code")
	const text = "Scan the QR code I sent you in a direct message."
	hd.onCommand(func(bot.Command) bot.Reply {
		return bot.Reply{Message: &bot.Message{Text: bot.Plain(text)}, Files: []bot.File{bot.BytesFile("enroll.png", "Your authenticator QR code", png)}}
	})
	answer, err := c.Command("enroll")
	if err != nil {
		t.Fatalf("command: %v", err)
	}
	if !strings.Contains(answer, text) {
		if _, ok := waitFor(c, func(p Post) bool { return strings.Contains(p.Text, text) && p.User == c.User.ID }); !ok {
			t.Errorf("the Reply's message was not shown to the user: answer %q, platform %+v", answer, c.Seen())
		}
	}
	direct := c.Adapter != nil && c.Adapter.Capabilities().DirectFiles
	if !direct {
		if d, ok := c.Adapter.(bot.Drainer); ok {
			d.Wait()
		}
		for _, p := range c.Seen() {
			if p.File == "enroll.png" {
				t.Errorf("the platform claims no DirectFiles, yet the file was posted: %+v", p)
			}
		}
		return
	}
	p, ok := waitFor(c, func(p Post) bool { return p.File == "enroll.png" })
	if !ok {
		t.Fatalf("the file never reached the user: %+v", c.Seen())
	}
	if !p.Direct || p.User != c.User.ID {
		t.Errorf("the file was posted as %+v; want it in a direct message to %s alone", p, c.User.ID)
	}
	if p.Content != nil && !bytes.Equal(p.Content, png) || p.Size != 0 && p.Size != int64(len(png)) {
		t.Errorf("the file has %d bytes (size %d), want the %d sent", len(p.Content), p.Size, len(png))
	}
	for _, q := range c.Seen() {
		if q.File == "enroll.png" && q.ID != p.ID {
			t.Errorf("the file was posted twice: %+v and %+v", p, q)
		}
	}
}

// onCommand and onAction make the handler answer with fn's Reply.
func (h *handler) onCommand(fn func(bot.Command) bot.Reply) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.cmdReply = fn
}

func (h *handler) onAction(fn func(bot.Action) bot.Reply) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.actReply = fn
}
