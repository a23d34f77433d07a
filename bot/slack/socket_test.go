package slack

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"reflect"
	"strings"
	"testing"

	"github.com/slack-go/slack/slacktest"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// startSocket runs the adapter in Socket Mode against slacktest, which
// serves apps.connections.open and a WebSocket on 127.0.0.1.
func startSocket(t *testing.T, h bot.Handler, opts ...Option) *slacktest.Server {
	t.Helper()
	s := slacktest.NewTestServer()
	s.Start()
	t.Cleanup(s.Stop)
	ctx, cancel := context.WithCancel(context.Background())
	// slacktest reports every frame we send on an unbuffered channel;
	// drain it or its WebSocket reader stalls after the first ack.
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-s.SeenFeed:
			}
		}
	}()
	a, err := New(Config{Mode: ModeSocket, BotToken: "xoxb-test", AppToken: "xapp-1-test"},
		append([]Option{WithAPIURL(s.GetAPIURL()), WithLogger(testLogger(t))}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, h) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("RunSocketMode: %v", err)
		}
	})
	return s
}

// ackFor waits for the ack of envelope id and returns it.
func ackFor(t *testing.T, s *slacktest.Server, id string) map[string]any {
	t.Helper()
	var ack map[string]any
	eventually(t, "the ack of "+id, func() bool {
		for _, m := range s.GetSeenInboundMessages() {
			var v map[string]any
			if json.Unmarshal([]byte(m), &v) == nil && v["envelope_id"] == id {
				ack = v
				return true
			}
		}
		return false
	})
	return ack
}

func envelope(id, typ string, payload any) string {
	b, _ := json.Marshal(map[string]any{"envelope_id": id, "type": typ, "payload": payload, "accepts_response_payload": typ == "slash_commands"})
	return string(b)
}

func slashPayload(text string) map[string]any {
	return map[string]any{
		"token": "legacy", "team_id": "T0TEAM", "channel_id": testChannel, "channel_name": "ops",
		"user_id": alice, "user_name": "alice", "command": DefaultCommand, "text": text,
		"response_url": "http://127.0.0.1:1/response/refused-by-the-default-check", "trigger_id": "1.2.3", "api_app_id": "A0APP",
	}
}

func TestSocketModeSlashCommandAck(t *testing.T) {
	h := &stubHandler{}
	s := startSocket(t, h)
	// Queued until the client connects: slacktest hands frames to the
	// next WebSocket connection.
	s.SendToWebsocket(envelope("env-1", "slash_commands", slashPayload("status")))
	ack := ackFor(t, s, "env-1")
	if _, has := ack["payload"]; has {
		t.Errorf("accepted command acked with a payload: %v", ack)
	}
	cmds := h.commands()
	want := bot.Command{Platform: Platform, User: bot.User{ID: alice, Name: "alice"}, Channel: testChannel, Text: "status"}
	if len(cmds) != 1 || cmds[0] != want {
		t.Errorf("handler got %+v, want %+v", cmds, want)
	}
}

func TestSocketModeRefusalInAck(t *testing.T) {
	h := &stubHandler{cmdErr: refusalText("you may not migrate in this channel")}
	s := startSocket(t, h)
	s.SendToWebsocket(envelope("env-2", "slash_commands", slashPayload("migrate")))
	ack := ackFor(t, s, "env-2")
	p, _ := ack["payload"].(map[string]any)
	if p["response_type"] != "ephemeral" || !strings.Contains(p["text"].(string), "may not migrate") {
		t.Errorf("ack = %v, want the refusal as an ephemeral payload", ack)
	}
}

// TestSocketModeGoErrorInAck: over Socket Mode too, an error not written
// for people is acked as bot.FailedText, never as its text.
func TestSocketModeGoErrorInAck(t *testing.T) {
	h := &stubHandler{cmdErr: fmt.Errorf("listing requests: %w", errors.New(`Post "http://127.0.0.1:9/x": dial tcp 127.0.0.1:9: connect: connection refused`))}
	s := startSocket(t, h)
	s.SendToWebsocket(envelope("env-5", "slash_commands", slashPayload("pending")))
	ack := ackFor(t, s, "env-5")
	p, _ := ack["payload"].(map[string]any)
	text, _ := p["text"].(string)
	if p["response_type"] != "ephemeral" || !strings.Contains(text, bot.FailedText) {
		t.Errorf("ack = %v, want bot.FailedText as an ephemeral payload", ack)
	}
	checkNoRawError(t, "the socket ack", fmt.Sprint(ack))
}

func TestSocketModeClickAck(t *testing.T) {
	h := &stubHandler{}
	s := startSocket(t, h)
	click := map[string]any{
		"type": "block_actions", "user": map[string]any{"id": bob, "name": "bob"},
		"container":    map[string]any{"type": "message", "message_ts": "1700000000.000007", "channel_id": testChannel},
		"channel":      map[string]any{"id": testChannel},
		"response_url": "http://127.0.0.1:1/response/refused-by-the-default-check",
		"actions":      []map[string]any{{"type": "button", "block_id": "b1", "action_id": "deny", "value": "r7k2qxa9"}},
	}
	s.SendToWebsocket(envelope("env-3", "interactive", click))
	ackFor(t, s, "env-3")
	eventually(t, "the click handled", func() bool { return len(h.actions()) == 1 })
	want := bot.Action{Platform: Platform, User: bot.User{ID: bob, Name: "bob"}, Message: bot.Ref{Channel: testChannel, ID: "1700000000.000007"}, ActionID: "deny", Value: "r7k2qxa9"}
	if got := h.actions()[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("action = %+v, want %+v", got, want)
	}
}

func TestSocketModeRedeliveryRunsOnce(t *testing.T) {
	h := &stubHandler{}
	s := startSocket(t, h)
	s.SendToWebsocket(envelope("env-4", "slash_commands", slashPayload("status")))
	ackFor(t, s, "env-4")
	// Slack retries an envelope whose ack it missed, with the same ID.
	s.SendToWebsocket(envelope("env-4", "slash_commands", slashPayload("status")))
	s.SendToWebsocket(envelope("env-5", "slash_commands", slashPayload("hosts")))
	ackFor(t, s, "env-5")
	eventually(t, "two acks of env-4", func() bool {
		n := 0
		for _, m := range s.GetSeenInboundMessages() {
			if strings.Contains(m, `"env-4"`) {
				n++
			}
		}
		return n == 2
	})
	var texts []string
	for _, c := range h.commands() {
		texts = append(texts, c.Text)
	}
	if strings.Join(texts, ",") != "status,hosts" {
		t.Errorf("handler got %q, want the redelivered status only once", texts)
	}
}

// TestSocketModeFormSubmission: over Socket Mode, a view_submission is
// acked with the handler's refusal as response_action errors on the
// field (the modal stays open), and an accepted one with an empty ack.
func TestSocketModeFormSubmission(t *testing.T) {
	h := &stubHandler{onAction: func(_ context.Context, act bot.Action) bot.Reply {
		if act.Fields["code"] != "123456" {
			return bot.ReplyFor(refusalText("That code is not valid."))
		}
		return bot.NoReply
	}}
	s := startSocket(t, h)
	sub := func(value string) map[string]any {
		var p map[string]any
		v, _ := url.ParseQuery(viewSubmissionForm(alice, formMeta{Action: bot.ActionApprove, Value: "r7k2qxa9", Channel: testChannel, User: alice, Field: "code"}, value))
		_ = json.Unmarshal([]byte(v.Get("payload")), &p)
		return p
	}
	s.SendToWebsocket(envelope("env-6", "interactive", sub("000000")))
	ack := ackFor(t, s, "env-6")
	p, _ := ack["payload"].(map[string]any)
	errs, _ := p["errors"].(map[string]any)
	if p["response_action"] != "errors" || !strings.Contains(fmt.Sprint(errs["code"]), "not valid") {
		t.Errorf("a refused submission was acked %v; want response_action errors on the code field", ack)
	}
	s.SendToWebsocket(envelope("env-7", "interactive", sub("123456")))
	if ack := ackFor(t, s, "env-7"); ack["payload"] != nil {
		t.Errorf("an accepted submission was acked %v; want an empty ack (closing the modal)", ack)
	}
	acts := h.actions()
	if len(acts) != 2 || acts[1].Fields["code"] != "123456" || acts[1].Value != "r7k2qxa9" || acts[1].User.ID != alice {
		t.Errorf("the handler got %+v", acts)
	}
}
