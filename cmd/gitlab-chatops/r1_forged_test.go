package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/mattermost"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

const (
	r1Channel  = "C0R1OPS"
	r1SlackBob = "U0R1BOBBY1" // a Slack approver
	r1Mallory  = "U0MALLORY1" // a Slack user who approves nothing
)

// forgedInput is one row of R1: a request that must be refused, sent
// from its own loopback address so that its audit entry (one per source
// and minute) is its own.
type forgedInput struct {
	name     string
	platform string
	// send delivers the forgery through c (bound to the row's address)
	// and returns the answer; it may first deliver the genuine request
	// that it replays, through the default client (127.0.0.1).
	send func(t *testing.T, c *http.Client) answer
	// status is the refusal's HTTP status; with body, the answer must
	// also say it (Mattermost answers a refused callback with 200 and an
	// ephemeral text, as it shows nothing else to the user).
	status int
	body   string
	// reason is what the audit entry's first reason must contain.
	reason string
}

// TestR1ForgedInputRefused is fault R1 of issue 15: forged input is
// refused, one table across both adapters as serve wires them (Slack on
// serve's listener, Mattermost beside it, the real router, approvals and
// bbolt audit, a real agent over the simulator). A migrate request waits
// for approval, and every row tries to approve it or to run something:
// forged, missing and stale Slack signatures, replayed Slack requests
// (commands, clicks, form submissions), a wrong or missing Mattermost
// token, forged and replayed button contexts, forged, altered and
// replayed dialog submissions (a genuine dialog, opened by an approval
// that needs a code), oversized and malformed bodies. Each is refused with the platform's
// answer, audited (its own auth.refused entry, counting it once, with its
// reason), and nothing runs: the request is still pending and the agent
// was asked for no job meanwhile.
func TestR1ForgedInputRefused(t *testing.T) {
	dir := t.TempDir()
	fs := newFakeSlackAPI(t)
	fm := newFakeMattermostAPI(t)
	mmChannel, mmAlice, mmBob := model.NewId(), model.NewId(), model.NewId()
	port, agentPort := freePort(t), freePort(t)
	agentDir := filepath.Join(dir, "agent")
	startAgentSpeed(t, agentDir, agentPort, "0")
	// Two approvers, one approval needed: any accepted forgery below
	// would start the migrate. Mattermost callbacks are accepted from all
	// of 127.0.0.0/8, so that each row may come from an address of its own
	// and still reach the check under test.
	store := filepath.Join(dir, "chatops.db")
	yaml := mmServeYAML("store: "+store, port, writeAuditKey(t, dir), agentDir, agentPort, fm,
		fmt.Sprintf("slack:%s, mattermost:%s", r1SlackBob, mmBob), fmt.Sprintf(`  reauth: {restart: totp}
reauth: {key_file: %s}
slack:
  mode: http
  api_url: %s
  bot_token: xoxb-r1-test
  signing_secret: %s
`, reauthKeyFile(t, dir), fs.apiURL(), shutSlackSecret))
	const callbacks = "/mattermost/actions\n"
	if !strings.Contains(yaml, callbacks) {
		t.Fatalf("no mattermost.callback_url to add callback_sources after:\n%s", yaml)
	}
	yaml = strings.Replace(yaml, callbacks, callbacks+"  callback_sources: [127.0.0.0/8]\n", 1)
	cfg, _ := writeServeConfig(t, dir, "bot.yaml", yaml)
	stop := startServe(t, cfg, &lockedBuffer{})
	waitListening(t, port)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)

	// The request every row tries to approve, opened as Mattermost users
	// open one; its card's Approve button is the genuine context.
	form := url.Values{"token": {shutMMToken}, "user_id": {mmAlice}, "user_name": {"alice"}, "channel_id": {mmChannel}, "text": {"migrate -- R1"}}
	if a := send(mustRequest(t, http.MethodPost, base+"/mattermost/command", "application/x-www-form-urlencoded", form.Encode())); a.err != nil || a.status != http.StatusOK {
		t.Fatalf("opening the request: %+v", a)
	}
	post, actx := fm.approveContext(t)
	id, _ := actx["request_id"].(string)
	if id == "" {
		t.Fatalf("the Approve button carries no request ID: %v", actx)
	}
	// A second request, a restart, whose approval needs an authenticator
	// code (policy.reauth): bob, enrolled, clicks its Approve and the bot
	// opens a dialog, whose genuine state the dialog rows replay or alter.
	form.Set("text", "restart puma -- R1 dialog")
	if a := send(mustRequest(t, http.MethodPost, base+"/mattermost/command", "application/x-www-form-urlencoded", form.Encode())); a.err != nil || a.status != http.StatusOK {
		t.Fatalf("opening the restart request: %+v", a)
	}
	post2, actx2 := post, actx
	for actx2["request_id"] == id {
		post2, actx2 = fm.approveContext(t)
	}
	enrol := url.Values{"token": {shutMMToken}, "user_id": {mmBob}, "user_name": {"bob"}, "channel_id": {mmChannel}, "text": {"enroll"}}
	if a := send(mustRequest(t, http.MethodPost, base+"/mattermost/command", "application/x-www-form-urlencoded", enrol.Encode())); a.err != nil || a.status != http.StatusOK || !strings.Contains(a.body, "otpauth://") {
		t.Fatalf("enrolling bob: %+v", a)
	}
	approve2, _ := json.Marshal(model.PostActionIntegrationRequest{UserId: mmBob, UserName: "bob", ChannelId: mmChannel, PostId: post2.Id, TriggerId: "r1-trigger", Context: actx2})
	if a := send(mustRequest(t, http.MethodPost, base+"/mattermost/actions", "application/json", string(approve2))); a.err != nil || a.status != http.StatusOK {
		t.Fatalf("bob's Approve of the restart: %+v", a)
	}
	var opened model.OpenDialogRequest
	select {
	case opened = <-fm.dialogs:
	case <-time.After(30 * time.Second):
		t.Fatal("bob's Approve of the restart opened no dialog")
	}
	// A wrong code: the genuine submission is refused by the router, so
	// that its replay is refused as a replay, not as a second approval.
	submission := func(user, state string) model.SubmitDialogRequest {
		return model.SubmitDialogRequest{Type: "dialog_submission", UserId: user, ChannelId: mmChannel, CallbackId: opened.Dialog.CallbackId, State: state, Submission: map[string]any{"code": "000000"}}
	}
	genuine := submission(mmBob, opened.Dialog.State)
	altered := []byte(opened.Dialog.State)
	altered[5] ^= 1 // in the signed JSON, after "v1."
	jobsBefore := agentJobs(t, agentDir)

	slackAt := func(path, body, secret string, ts time.Time) *http.Request {
		req := mustRequest(t, http.MethodPost, base+path, "application/x-www-form-urlencoded", body)
		signSlack(req, secret, ts, body)
		return req
	}
	signed := func(path, body string) *http.Request { return slackAt(path, body, shutSlackSecret, time.Now()) }
	forgedSig := func(path, body string) *http.Request {
		return slackAt(path, body, "not-the-signing-secret", time.Now())
	}
	via := func(c *http.Client, req *http.Request) answer { return sendWith(c, req) }
	approveBySlackBob := slackSlash(r1SlackBob, "approve "+id)
	// replay delivers the genuine request once from 127.0.0.1, where it
	// must be accepted, then again, byte for byte, through c.
	replay := func(t *testing.T, c *http.Client, path, body string) answer {
		at := time.Now()
		if a := send(slackAt(path, body, shutSlackSecret, at)); a.err != nil || a.status != http.StatusOK {
			t.Fatalf("the genuine request was not accepted: %+v", a)
		}
		return via(c, slackAt(path, body, shutSlackSecret, at)) // the same bytes and signature
	}
	mmJSON := func(path string, v any) func(*testing.T, *http.Client) answer {
		return func(t *testing.T, c *http.Client) answer {
			b, err := json.Marshal(v)
			if err != nil {
				t.Fatal(err)
			}
			return via(c, mustRequest(t, http.MethodPost, base+path, "application/json", string(b)))
		}
	}
	click := func(ctxv map[string]any, postID string) model.PostActionIntegrationRequest {
		return model.PostActionIntegrationRequest{UserId: mmBob, UserName: "bob", ChannelId: mmChannel, PostId: postID, Context: ctxv}
	}
	withCtx := func(k string, v any) map[string]any {
		out := map[string]any{}
		for key, val := range actx {
			out[key] = val
		}
		out[k] = v
		return out
	}
	mmCommand := func(token, body string) func(*testing.T, *http.Client) answer {
		return func(t *testing.T, c *http.Client) answer {
			req := mustRequest(t, http.MethodPost, base+"/mattermost/command", "application/x-www-form-urlencoded", body)
			if token != "" {
				req.Header.Set("Authorization", "Token "+token)
			}
			return via(c, req)
		}
	}
	dialog := func(callbackID, state string) model.SubmitDialogRequest {
		return model.SubmitDialogRequest{Type: "dialog_submission", UserId: mmBob, ChannelId: mmChannel, CallbackId: callbackID, State: state, Submission: map[string]any{"code": "123456"}}
	}
	approveByMMBob := url.Values{"user_id": {mmBob}, "user_name": {"bob"}, "channel_id": {mmChannel}, "text": {"approve " + id}}.Encode()
	big := strings.Repeat("x", 200<<10)

	rows := []forgedInput{
		{name: "slack slash command with a forged signature", platform: "slack", status: 401, reason: "signature",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, forgedSig(slack.PathCommands, approveBySlackBob))
			}},
		{name: "slack slash command without a signature", platform: "slack", status: 401, reason: "signature",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, mustRequest(t, http.MethodPost, base+slack.PathCommands, "application/x-www-form-urlencoded", approveBySlackBob))
			}},
		{name: "slack slash command with a stale signature", platform: "slack", status: 401, reason: "signature",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, slackAt(slack.PathCommands, approveBySlackBob, shutSlackSecret, time.Now().Add(-2*slack.SignatureWindow)))
			}},
		{name: "slack slash command replayed", platform: "slack", status: 401, reason: "replay",
			send: func(t *testing.T, c *http.Client) answer {
				return replay(t, c, slack.PathCommands, slackSlash(r1Mallory, "help"))
			}},
		{name: "slack button click with a forged signature", platform: "slack", status: 401, reason: "signature",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, forgedSig(slack.PathInteractions, slackClick(r1SlackBob, bot.ActionApprove, id)))
			}},
		{name: "slack button click with another click's signature", platform: "slack", status: 401, reason: "signature",
			send: func(t *testing.T, c *http.Client) answer {
				genuine := signed(slack.PathInteractions, slackClick(r1Mallory, bot.ActionApprove, id))
				body := slackClick(r1SlackBob, bot.ActionApprove, id)
				req := mustRequest(t, http.MethodPost, base+slack.PathInteractions, "application/x-www-form-urlencoded", body)
				req.Header.Set(slack.HeaderTimestamp, genuine.Header.Get(slack.HeaderTimestamp))
				req.Header.Set(slack.HeaderSignature, genuine.Header.Get(slack.HeaderSignature))
				return via(c, req)
			}},
		{name: "slack button click replayed", platform: "slack", status: 401, reason: "replay",
			send: func(t *testing.T, c *http.Client) answer {
				return replay(t, c, slack.PathInteractions, slackClick(r1Mallory, bot.ActionApprove, id))
			}},
		{name: "slack form submission with a forged signature", platform: "slack", status: 401, reason: "signature",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, forgedSig(slack.PathInteractions, slackSubmission(r1SlackBob, id, "123456")))
			}},
		{name: "slack form submission replayed", platform: "slack", status: 401, reason: "replay",
			send: func(t *testing.T, c *http.Client) answer {
				return replay(t, c, slack.PathInteractions, slackSubmission(r1Mallory, id, "123456"))
			}},
		{name: "slack oversized body", platform: "slack", status: 413, reason: "larger than the limit",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, signed(slack.PathCommands, approveBySlackBob+"&pad="+big))
			}},
		{name: "slack malformed command, signed", platform: "slack", status: 400, reason: "unreadable form",
			send: func(t *testing.T, c *http.Client) answer { return via(c, signed(slack.PathCommands, "%zz&&=text={{{")) }},
		{name: "slack malformed command, unsigned", platform: "slack", status: 401, reason: "signature",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, forgedSig(slack.PathCommands, "%zz&&=text={{{"))
			}},
		{name: "slack malformed interaction, signed", platform: "slack", status: 400, reason: "unreadable payload",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, signed(slack.PathInteractions, url.Values{"payload": {`{"type": "block_actions", "actions": [`}}.Encode()))
			}},
		{name: "slack wrong content type", platform: "slack", status: 415, reason: "content type",
			send: func(t *testing.T, c *http.Client) answer {
				req := signed(slack.PathCommands, approveBySlackBob)
				req.Header.Set("Content-Type", "application/json")
				return via(c, req)
			}},
		{name: "mattermost slash command with a wrong token", platform: "mattermost", status: 401, reason: "command token",
			send: mmCommand("", approveByMMBob+"&token=not-the-token")},
		{name: "mattermost slash command without a token", platform: "mattermost", status: 401, reason: "command token",
			send: mmCommand("", approveByMMBob)},
		{name: "mattermost malformed command", platform: "mattermost", status: 400, reason: "unreadable form",
			send: mmCommand(shutMMToken, "%zz&&=text={{{")},
		{name: "mattermost oversized command", platform: "mattermost", status: 400, reason: "unreadable form",
			send: mmCommand(shutMMToken, approveByMMBob+"&pad="+big)},
		{name: "mattermost button context with a forged signature", platform: "mattermost", status: 200, body: "could not verify", reason: "signature does not match",
			send: mmJSON("/mattermost/actions", click(withCtx("sig", strings.Repeat("0", 64)), post.Id))},
		{name: "mattermost button context altered to another request", platform: "mattermost", status: 200, body: "could not verify", reason: "signature does not match",
			send: mmJSON("/mattermost/actions", click(withCtx("request_id", "r0ther000"), post.Id))},
		{name: "mattermost button context replayed onto another post", platform: "mattermost", status: 200, body: "could not verify", reason: "signature does not match",
			send: mmJSON("/mattermost/actions", click(actx, model.NewId()))},
		{name: "mattermost button context without a signature", platform: "mattermost", status: 200, body: "could not verify", reason: "without a signature",
			send: mmJSON("/mattermost/actions", click(map[string]any{"request_id": id, "action": bot.ActionApprove}, post.Id))},
		{name: "mattermost malformed button callback", platform: "mattermost", status: 400, reason: "unreadable body",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, mustRequest(t, http.MethodPost, base+"/mattermost/actions", "application/json", `{"post_id": 7`))
			}},
		{name: "mattermost oversized button callback", platform: "mattermost", status: 400, reason: "unreadable body",
			send: mmJSON("/mattermost/actions", click(withCtx("pad", big), post.Id))},
		{name: "mattermost dialog submission with a forged state", platform: "mattermost", status: 200, body: "could not verify", reason: "state does not match its signature",
			send: mmJSON("/mattermost/dialog", dialog(mattermost.DialogCallbackID, "v1.eyJhIjoiYXBwcm92ZSJ9.AAAA"))},
		{name: "mattermost dialog submission of a dialog the bot did not open", platform: "mattermost", status: 200, body: "could not verify", reason: "did not open",
			send: mmJSON("/mattermost/dialog", dialog("approve", "v1.eyJhIjoiYXBwcm92ZSJ9.AAAA"))},
		{name: "mattermost dialog submission replayed", platform: "mattermost", status: 200, body: "already submitted", reason: "replayed",
			send: func(t *testing.T, c *http.Client) answer {
				first := mmJSON("/mattermost/dialog", genuine)(t, http.DefaultClient)
				if first.err != nil || first.status != http.StatusOK || !strings.Contains(first.body, "not the current code") {
					t.Fatalf("the genuine submission was not refused for its wrong code: %+v", first)
				}
				return mmJSON("/mattermost/dialog", genuine)(t, c)
			}},
		{name: "mattermost dialog state altered", platform: "mattermost", status: 200, body: "could not verify", reason: "state does not match its signature",
			send: mmJSON("/mattermost/dialog", submission(mmBob, string(altered)))},
		{name: "mattermost dialog submitted by another user", platform: "mattermost", status: 200, body: "could not verify", reason: "submitted by",
			send: mmJSON("/mattermost/dialog", submission(mmAlice, opened.Dialog.State))},
		{name: "mattermost malformed dialog submission", platform: "mattermost", status: 400, reason: "unreadable body",
			send: func(t *testing.T, c *http.Client) answer {
				return via(c, mustRequest(t, http.MethodPost, base+"/mattermost/dialog", "application/json", `{"state": 7`))
			}},
	}
	sources := map[string]forgedInput{}
	for i, row := range rows {
		source := fmt.Sprintf("127.0.0.%d", 20+i)
		sources[row.platform+" "+source] = row
		t.Run(row.name, func(t *testing.T) {
			c := fromAddress(t, source)
			a := row.send(t, c)
			if a.err != nil {
				t.Fatal(a.err)
			}
			if a.status != row.status || !strings.Contains(a.body, row.body) {
				t.Errorf("answered %d %q; want %d refusing it (%q)", a.status, a.body, row.status, row.body)
			}
		})
	}
	stop() // the refusal counter writes what it counted; anything started has been asked of the agent
	if got := agentJobs(t, agentDir); got != jobsBefore {
		t.Errorf("the agent was asked for %d jobs while the forgeries came in", got-jobsBefore)
	}
	db, err := storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	req, err := db.Request(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if req.State != approvals.StatePending || len(req.Approvals()) != 0 {
		t.Errorf("request %s is %s with approvals %v; the forgeries must leave it pending", id, req.State, req.Approvals())
	}
	entries, err := db.TailAudit(context.Background(), 500)
	if err != nil {
		t.Fatal(err)
	}
	audited := map[string]bool{}
	for _, e := range entries {
		switch {
		case e.Action == approvals.ActionRequestApproved || e.Action == approvals.ActionRequestStarted:
			t.Errorf("audit has %s %s: a forgery was acted on", e.Action, e.RequestID)
			continue
		case e.Action != approvals.ActionAuthRefused:
			continue
		}
		key := ""
		for k := range sources {
			if strings.Contains(e.Detail, "from "+k+" ") {
				key = k
			}
		}
		row, ok := sources[key]
		if !ok {
			t.Errorf("an auth.refused entry from a source that sent nothing forged (a genuine request refused?): %s", e.Detail)
			continue
		}
		if audited[key] || e.Outcome != "1" || !strings.Contains(e.Detail, row.reason) {
			t.Errorf("%s: audit entry %q counting %s; want one entry counting 1 with the reason %q", row.name, e.Detail, e.Outcome, row.reason)
		}
		audited[key] = true
	}
	for key, row := range sources {
		if !audited[key] {
			t.Errorf("%s: refused but not audited (no auth.refused entry from %s)", row.name, key)
		}
	}
}

// agentJobs counts the job runs the agent was asked for (its own
// requests.log, one line per HTTP request).
func agentJobs(t *testing.T, stateDir string) int {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(stateDir, "requests.log"))
	if err != nil && !os.IsNotExist(err) {
		t.Fatal(err)
	}
	n := 0
	for _, line := range strings.Split(string(data), "\n") {
		var e struct{ Method, Path string }
		if json.Unmarshal([]byte(line), &e) == nil && e.Method == http.MethodPost && e.Path == "/v1/jobs" {
			n++
		}
	}
	return n
}

// fromAddress is a client whose connections come from addr (a loopback
// address other than 127.0.0.1), closed at the test's end.
func fromAddress(t *testing.T, addr string) *http.Client {
	tr := &http.Transport{DialContext: (&net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(addr)}}).DialContext}
	t.Cleanup(tr.CloseIdleConnections)
	return &http.Client{Transport: tr, Timeout: 30 * time.Second}
}

// slackSlash is a slash command's form body as Slack sends it.
func slackSlash(user, text string) string {
	return url.Values{"command": {"/gitlab-migrations"}, "text": {text}, "user_id": {user}, "user_name": {strings.ToLower(user)},
		"channel_id": {r1Channel}, "team_id": {"T0R1"}, "trigger_id": {"1.2.3"}}.Encode()
}

// slackClick is a block_actions payload for one button, form-wrapped as
// Slack sends it.
func slackClick(user, actionID, value string) string {
	p, _ := json.Marshal(map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "username": user, "team_id": "T0R1"},
		"team": map[string]any{"id": "T0R1"}, "channel": map[string]any{"id": r1Channel},
		"container": map[string]any{"type": "message", "message_ts": "1700000000.000100", "channel_id": r1Channel},
		"message":   map[string]any{"type": "message", "ts": "1700000000.000100"}, "trigger_id": "1.2.3",
		"actions": []map[string]any{{"type": "button", "action_id": actionID, "block_id": "b", "value": value, "action_ts": "1700000000.1"}},
	})
	return url.Values{"payload": {string(p)}}.Encode()
}

// slackSubmission is a view_submission of the approve form for request
// id, opened for user, with code typed.
func slackSubmission(user, id, code string) string {
	meta, _ := json.Marshal(map[string]string{"a": bot.ActionApprove, "v": id, "c": r1Channel, "u": user, "f": "code"})
	p, _ := json.Marshal(map[string]any{
		"type": "view_submission", "user": map[string]any{"id": user, "username": user, "team_id": "T0R1"},
		"team": map[string]any{"id": "T0R1"}, "trigger_id": "1.2.4",
		"view": map[string]any{"id": "V0R1", "type": "modal", "callback_id": slack.ModalCallbackID, "private_metadata": string(meta),
			"state": map[string]any{"values": map[string]any{"code": map[string]any{"code": map[string]any{"type": "plain_text_input", "value": code}}}}},
	})
	return url.Values{"payload": {string(p)}}.Encode()
}

// reauthKeyFile writes a re-authentication key (reauth.key_file) in dir.
func reauthKeyFile(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "reauth.key")
	if err := os.WriteFile(p, []byte(strings.Repeat("ab", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
