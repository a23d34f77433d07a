package slack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/bottest"
)

// TestConformance runs the adapter conformance suite on Slack over
// fakeSlack (the Web API) with the adapter's HTTP endpoints served on
// loopback, signed as Slack signs.
func TestConformance(t *testing.T) {
	bottest.RunAdapterSuite(t, bottest.Harness{
		// Slack shows the user an error when the answer takes over 3 s.
		Caps: bottest.Caps{AckBudget: 3 * time.Second, Edits: true, Uploads: true},
		Render: func(m bot.Message) ([]byte, error) {
			b, err := json.MarshalIndent(Render(m), "", "  ")
			if err != nil {
				return nil, fmt.Errorf("slack render: %w", err)
			}
			return b, nil
		},
		RenderForm: func(f bot.Form) ([]byte, error) {
			v, err := Modal(f, formMeta{Channel: "C0OPS", User: botUser().ID})
			if err != nil {
				return nil, err
			}
			return json.MarshalIndent(v, "", "  ")
		},
		Start: startSlack,
	})
}

func startSlack(t *testing.T, h bot.Handler) *bottest.Conn {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	base := bottest.Serve(t, a, h, nil)
	user := botUser()
	post := func(path, body, secret string) (int, string, error) {
		req := signedRequest(t, base+path, body, secret, time.Now())
		resp, err := (&http.Client{Timeout: patience}).Do(req)
		if err != nil {
			return 0, "", fmt.Errorf("posting to the adapter: %w", err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b), err
	}
	forge := func(path, body string) func(bool) (bool, error) {
		return func(garbage bool) (bool, error) {
			if garbage {
				body = "%zz&&=payload={{{"
			}
			status, _, err := post(path, body, "not-the-signing-secret")
			return status == http.StatusUnauthorized, err
		}
	}
	return &bottest.Conn{
		Adapter: a, Chat: a.Chat(), Channel: "C0OPS", User: user, Approver: bot.User{ID: "U0BOB", Name: "bob"},
		Command: func(text string) (string, error) {
			form, _ := url.ParseQuery(slashForm(user.ID, user.Name, "C0OPS", text, fake.responseURL("cmd")))
			form.Set("trigger_id", fake.newTrigger(user.ID))
			status, body, err := post(PathCommands, form.Encode(), testSecret)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("slash command answered %d: %s", status, body)
			}
			return body, err
		},
		Click: func(ref bot.Ref, actionID string) (string, error) {
			m, ok := fake.message(ref.ID)
			if !ok {
				return "", fmt.Errorf("no message %s to click on", ref.ID)
			}
			for _, b := range buttons(m.Blocks) {
				if b.ActionID == actionID {
					status, body, err := post(PathInteractions, clickForm(user.ID, user.Name, ref.Channel, ref.ID, b.ActionID, b.Value, fake.responseURL("click")), testSecret)
					if err == nil && status != http.StatusOK {
						err = fmt.Errorf("click answered %d: %s", status, body)
					}
					return body, err
				}
			}
			return "", fmt.Errorf("message %s has no button %s", ref.ID, actionID)
		},
		StallAPI: func() {
			for _, m := range []string{"chat.postMessage", "chat.postEphemeral", "chat.update"} {
				fake.hold(m) // released when the fake stops
			}
		},
		Seen: func() []bottest.Post { return slackSeen(fake, user.ID) },
		Forms: func() []bottest.OpenForm {
			var out []bottest.OpenForm
			for _, v := range fake.openedViews() {
				var view struct {
					Title struct{ Text string } `json:"title"`
				}
				_ = json.Unmarshal(v.View, &view)
				out = append(out, bottest.OpenForm{ID: v.ID, User: v.User, Title: view.Title.Text})
			}
			return out
		},
		Submit: func(f bottest.OpenForm, fields map[string]string) (string, error) {
			body, err := fake.submission(f.ID, user.ID, fields)
			if err != nil {
				return "", err
			}
			status, answer, err := post(PathInteractions, body, testSecret)
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("submission answered %d: %s", status, answer)
			}
			return answer, err
		},
		ForgeSubmit: func(f bottest.OpenForm) (bool, error) {
			body, err := fake.submission(f.ID, user.ID, map[string]string{"code": "123456"})
			if err != nil {
				return false, err
			}
			status, _, err := post(PathInteractions, body, "not-the-signing-secret")
			return status == http.StatusUnauthorized, err
		},
		Forgeries: []bottest.Forgery{
			{Name: "slash command with a bad signature", Send: forge(PathCommands, slashForm(user.ID, user.Name, "C0OPS", "status", fake.responseURL("x")))},
			{Name: "button click with a bad signature", Send: forge(PathInteractions, clickForm(user.ID, user.Name, "C0OPS", "1700000000.000001", bot.ActionApprove, "r7k2qxa9", fake.responseURL("y")))},
			{Name: "form submission with a bad signature", Send: forge(PathInteractions, viewSubmissionForm(user.ID, formMeta{Action: bot.ActionApprove, Value: "r7k2qxa9", Channel: "C0OPS", User: user.ID, Field: "code"}, "123456"))},
		},
	}
}

func botUser() bot.User { return bot.User{ID: "U0ALICE", Name: "alice"} }

// slackSeen is what fakeSlack shows: messages (text and block texts) in
// posting order, then ephemerals and response_url answers (both to the
// one user who typed), then completed files.
func slackSeen(f *fakeSlack, user string) []bottest.Post {
	f.mu.Lock()
	var out []bottest.Post
	for _, ts := range f.order {
		m := f.msgs[ts]
		out = append(out, bottest.Post{ID: m.TS, Channel: m.Channel, Root: m.ThreadTS, Text: m.Text + "\n" + blockTexts(m.Blocks),
			Buttons: len(buttons(m.Blocks)), Edits: m.Updates})
	}
	for _, e := range f.ephemerals {
		out = append(out, bottest.Post{Channel: e.Channel, Ephemeral: true, User: e.User, Text: e.Text + "\n" + blockTexts(e.Blocks)})
	}
	for _, r := range f.responses {
		b, _ := json.Marshal(r.Body)
		out = append(out, bottest.Post{Ephemeral: true, User: user, Text: string(b)})
	}
	var files []bottest.Post
	for _, file := range f.files {
		if file.Completed {
			p := bottest.Post{ID: file.ID, Channel: file.Channel, Root: file.ThreadTS, File: file.Name, Size: int64(len(file.Content)), Content: file.Content, Text: file.Comment}
			if owner, ok := f.ims[file.Channel]; ok {
				p.Direct, p.User = true, owner
			}
			files = append(files, p)
		}
	}
	f.mu.Unlock()
	sort.Slice(files, func(i, j int) bool { return strings.Compare(files[i].ID, files[j].ID) < 0 })
	return append(out, files...)
}
