package mattermost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/bottest"
)

// TestConformance runs the adapter conformance suite on Mattermost over
// fakeMM (API v4, and the server's slash command and button callbacks),
// with the adapter's endpoints on loopback.
func TestConformance(t *testing.T) {
	signer, _ := newAdapterOnly(t, Options{})
	bottest.RunAdapterSuite(t, bottest.Harness{
		// Mattermost waits 30 s for a slash command's answer by default.
		Caps: bottest.Caps{AckBudget: 30 * time.Second, Edits: true, Uploads: true},
		Render: func(m bot.Message) ([]byte, error) {
			// Mentions are shown as the IDs they are: resolving them to
			// usernames is an API call, tested in adapter_test.go.
			p := people{cc: make([]string, len(m.Mentions))}
			for i, id := range m.Mentions {
				p.cc[i] = "@" + id
			}
			var actions []*model.PostAction
			if len(m.Buttons) > 0 {
				actions = signer.actions(m.Buttons, binding{postID: fixedID("post"), channelID: channelID})
			}
			r := renderMessage(m, p, actions)
			b, err := json.MarshalIndent(map[string]any{"message": r.message, "attachments": r.attachments}, "", "  ")
			if err != nil {
				return nil, fmt.Errorf("mattermost render: %w", err)
			}
			return b, nil
		},
		RenderForm: func(f bot.Form) ([]byte, error) {
			// The state is sealed afresh with a nonce each time; a fixed
			// one keeps the golden stable.
			d, err := Dialog(f, "https://chatops.internal:8443"+DialogPath, "v1.STATE.MAC")
			if err != nil {
				return nil, err
			}
			return json.MarshalIndent(d, "", "  ")
		},
		Start: startMattermost,
	})
}

func startMattermost(t *testing.T, h bot.Handler) *bottest.Conn {
	mm := newFakeMM(t)
	mm.addUser(alice.ID, alice.Name)
	mm.addUser(bob.ID, bob.Name)
	mm.addChannel(channelID, "upgrades", string(model.ChannelTypeOpen))
	// The buttons carry the callback URL, so the listener comes first.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	const token = "conformance-command-token"
	a, err := NewAdapter(Config{
		URL: mm.URL(), BotToken: mm.token, CommandTokens: []string{token}, ActionSecret: actionSecret,
		CallbackURL: "http://" + ln.Addr().String() + ActionsPath,
	}, bot.Setup{Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	base := bottest.Serve(t, a, h, ln)
	send := func(path, contentType, auth, body string) (int, string, error) {
		req, err := http.NewRequest(http.MethodPost, base+path, strings.NewReader(body))
		if err != nil {
			return 0, "", err
		}
		req.Header.Set("Content-Type", contentType)
		if auth != "" {
			req.Header.Set("Authorization", "Token "+auth)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return 0, "", fmt.Errorf("posting to the adapter: %w", err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		_, err = b.ReadFrom(resp.Body)
		return resp.StatusCode, b.String(), err
	}
	slash := func(text string) string {
		return "team_id=" + teamID + "&channel_id=" + channelID + "&user_id=" + alice.ID + "&user_name=alice&command=%2Fgitlab-migrations&text=" + urlEscape(text) +
			"&trigger_id=" + mm.newTrigger(alice.ID)
	}
	dialogs := func() []fakeDialog { return mm.openedDialogs() }
	dialogOf := func(f bottest.OpenForm) (fakeDialog, error) {
		ds := dialogs()
		i, err := strconv.Atoi(f.ID)
		if err != nil || i < 0 || i >= len(ds) {
			return fakeDialog{}, fmt.Errorf("no dialog %q was opened", f.ID)
		}
		return ds[i], nil
	}
	forgedState, _ := newStateSigner("not-the-action-secret-but-as-long-as-it").seal(dialogState{
		Action: bot.ActionApprove, Value: "r7k2qxa9", Channel: channelID, User: alice.ID, Field: "code", Expires: time.Now().Add(time.Hour).Unix(),
	})
	forgedDialog, _ := json.Marshal(&model.SubmitDialogRequest{
		Type: "dialog_submission", CallbackId: DialogCallbackID, State: forgedState, UserId: alice.ID, ChannelId: channelID, TeamId: teamID,
		Submission: map[string]any{"code": "123456"},
	})
	callback, _ := json.Marshal(&model.PostActionIntegrationRequest{
		UserId: alice.ID, UserName: alice.Name, ChannelId: channelID, TeamId: teamID, PostId: fixedID("post"),
		Type: model.PostActionTypeButton, Context: map[string]any{ctxRequest: "r7k2qxa9", ctxAction: "approve", ctxSig: "v1.AAAA"},
	})
	return &bottest.Conn{
		Adapter: a, Chat: a.Chat(), Channel: channelID, User: bot.User{ID: alice.ID, Name: alice.Name}, Approver: bot.User{ID: bob.ID, Name: bob.Name},
		Command: func(text string) (string, error) {
			status, body, err := send(CommandPath, "application/x-www-form-urlencoded", token, slash(text))
			if err == nil && status != http.StatusOK {
				err = fmt.Errorf("slash command answered %d: %s", status, body)
			}
			return body, err
		},
		Click: func(ref bot.Ref, actionID string) (string, error) {
			status, resp := mm.click(t, ref.ID, actionID, alice)
			if status != http.StatusOK {
				return "", fmt.Errorf("click answered %d", status)
			}
			return resp.EphemeralText, nil
		},
		StallAPI: func() {
			for _, r := range []string{"POST /api/v4/posts", "POST /api/v4/posts/ephemeral", "PUT /api/v4/posts/{id}/patch"} {
				mm.stallRoute(r) // until the test ends
			}
		},
		Seen: func() []bottest.Post { return mattermostSeen(mm) },
		Forms: func() []bottest.OpenForm {
			var out []bottest.OpenForm
			for i, d := range dialogs() {
				out = append(out, bottest.OpenForm{ID: strconv.Itoa(i), User: d.User, Title: d.Req.Dialog.Title})
			}
			return out
		},
		Submit: func(f bottest.OpenForm, fields map[string]string) (string, error) {
			d, err := dialogOf(f)
			if err != nil {
				return "", err
			}
			status, resp := mm.submitDialog(t, d, alice, fields)
			if status != http.StatusOK {
				return "", fmt.Errorf("dialog submission answered %d", status)
			}
			answer := resp.Error
			for _, e := range resp.Errors {
				answer += "\n" + e
			}
			return answer, nil
		},
		ForgeSubmit: func(f bottest.OpenForm) (bool, error) {
			d, err := dialogOf(f)
			if err != nil {
				return false, err
			}
			d.Req.Dialog.State = forgedState
			status, resp := mm.submitDialog(t, d, alice, map[string]string{"code": "123456"})
			return status == http.StatusOK && strings.Contains(resp.Error, "could not verify"), nil
		},
		Forgeries: []bottest.Forgery{
			{Name: "slash command with a wrong token", Send: func(garbage bool) (bool, error) {
				body := slash("status")
				if garbage {
					body = "%zz&&={{{"
				}
				status, _, err := send(CommandPath, "application/x-www-form-urlencoded", "not-the-token", body)
				return status == http.StatusUnauthorized, err
			}},
			// The HMAC travels in the callback's JSON body, so an
			// unparseable body can only be refused as unreadable.
			{Name: "button callback with a forged HMAC", Send: func(garbage bool) (bool, error) {
				body := string(callback)
				if garbage {
					body = `{"post_id": 7`
				}
				status, resp, err := send(ActionsPath, "application/json", "", body)
				if garbage {
					return status == http.StatusBadRequest, err
				}
				return status == http.StatusOK && strings.Contains(resp, "could not verify"), err
			}},
			// The state travels in the submission's JSON body, as a
			// button's HMAC does.
			{Name: "dialog submission with a forged state", Send: func(garbage bool) (bool, error) {
				body := string(forgedDialog)
				if garbage {
					body = `{"state": 7`
				}
				status, resp, err := send(DialogPath, "application/json", "", body)
				if garbage {
					return status == http.StatusBadRequest, err
				}
				return status == http.StatusOK && strings.Contains(resp, "could not verify"), err
			}},
		},
	}
}

func urlEscape(s string) string {
	var b strings.Builder
	for _, c := range []byte(s) {
		if c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.' {
			b.WriteByte(c)
		} else {
			fmt.Fprintf(&b, "%%%02X", c)
		}
	}
	return b.String()
}

// mattermostSeen is what fakeMM shows: posts (message, then each
// attachment's title, text and fields) in creation order, files as the
// posts that carry them, then ephemerals.
func mattermostSeen(f *fakeMM) []bottest.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	edits := map[string]int{}
	for _, p := range f.patches {
		edits[p.PostID]++
	}
	var out []bottest.Post
	text := func(p *model.Post) (string, int) {
		parts := []string{p.Message}
		buttons := 0
		for _, at := range p.Attachments() {
			parts = append(parts, at.Pretext, at.Title, at.Text)
			for _, fl := range at.Fields {
				parts = append(parts, fmt.Sprintf("%s: %v", fl.Title, fl.Value))
			}
			parts = append(parts, at.Footer)
			buttons += len(at.Actions)
		}
		return strings.Join(parts, "\n"), buttons
	}
	dmUser := map[string]string{} // DM channel ID -> the user the bot talks to there
	for name, id := range f.dms {
		a, b, _ := strings.Cut(name, "__")
		if a == f.bot.Id {
			a = b
		}
		dmUser[id] = a
	}
	for _, id := range f.order {
		p := f.posts[id]
		t, buttons := text(p)
		post := bottest.Post{ID: p.Id, Channel: p.ChannelId, Root: p.RootId, Text: t, Buttons: buttons, Edits: edits[p.Id]}
		if u, ok := dmUser[p.ChannelId]; ok {
			post.Direct, post.User = true, u
		}
		for _, fid := range p.FileIds {
			if info, ok := f.files[fid]; ok {
				post.File, post.Size = info.Name, info.Size
			}
		}
		out = append(out, post)
	}
	for _, e := range f.ephemerals {
		t, _ := text(e.Post)
		out = append(out, bottest.Post{Channel: e.Post.ChannelId, Root: e.Post.RootId, Ephemeral: true, User: e.UserID, Text: t})
	}
	return out
}
