package slack

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
			status, body, err := post(PathCommands, slashForm(user.ID, user.Name, "C0OPS", text, fake.responseURL("cmd")), testSecret)
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
		Forgeries: []bottest.Forgery{
			{Name: "slash command with a bad signature", Send: forge(PathCommands, slashForm(user.ID, user.Name, "C0OPS", "status", fake.responseURL("x")))},
			{Name: "button click with a bad signature", Send: forge(PathInteractions, clickForm(user.ID, user.Name, "C0OPS", "1700000000.000001", bot.ActionApprove, "r7k2qxa9", fake.responseURL("y")))},
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
			files = append(files, bottest.Post{ID: file.ID, Channel: file.Channel, Root: file.ThreadTS, File: file.Name, Size: int64(len(file.Content)), Content: file.Content, Text: file.Comment})
		}
	}
	f.mu.Unlock()
	sort.Slice(files, func(i, j int) bool { return strings.Compare(files[i].ID, files[j].ID) < 0 })
	return append(out, files...)
}
