package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	slackgo "github.com/slack-go/slack"
	"github.com/slack-go/slack/socketmode"
)

// FuzzSlackSocketMode sends any frame to the adapter over a real Socket
// Mode WebSocket (a loopback fake of Slack's side), followed by a marker
// envelope, and holds the adapter to Socket Mode's promises: nothing
// panics and the connection keeps serving (the marker is acked, after a
// reconnect if the frame asked for one); a slash command or interaction
// envelope is acked, and handled once per envelope ID however often it is
// delivered; what reaches the handler is what the frame carried, read as
// slack-go reads it.
//
//	scripts/fuzz 60s 'FuzzSlackSocketMode$'
func FuzzSlackSocketMode(f *testing.F) {
	click := clickPayload(bob, "approve", "r7k2qxa9")
	for _, frame := range []string{
		envelope("env-1", "slash_commands", slashPayload("status")),
		envelope("env-2", "slash_commands", slashPayload("  migrate &amp; -- why ")),
		envelope("env-1", "slash_commands", slashPayload("hosts")), // a redelivery of env-1
		envelope("env-3", "interactive", click),
		envelope("env-4", "interactive", map[string]any{"type": "block_actions", "user": map[string]any{"id": ""}}),
		envelope("env-5", "interactive", map[string]any{"type": "view_submission", "user": map[string]any{"id": bob},
			"view": map[string]any{"callback_id": ModalCallbackID, "private_metadata": `{"a":"approve","v":"x","u":"` + bob + `"}`}}),
		envelope("env-6", "events_api", map[string]any{"type": "event_callback", "event": map[string]any{"type": "app_mention"}}),
		envelope("", "slash_commands", slashPayload("status")),
		`{"type":"hello","num_connections":1}`,
		`{"type":"disconnect","reason":"refresh_requested"}`,
		`{"type":"slash_commands","envelope_id":"env-7","payload":"not an object"}`,
		`{"type":"interactive","envelope_id":"env-8","payload":{"type":1}}`,
		`{"type":"unknown","envelope_id":"env-9"}`,
		`not json`, ``, `[]`, `null`,
	} {
		f.Add(frame)
	}
	s := newFuzzSocket(f)
	f.Fuzz(func(t *testing.T, frame string) {
		s.check(t, frame)
	})
}

func clickPayload(user, actionID, value string) map[string]any {
	return map[string]any{
		"type": "block_actions", "user": map[string]any{"id": user, "name": "u"},
		"container": map[string]any{"type": "message", "message_ts": "1700000000.1", "channel_id": testChannel},
		"channel":   map[string]any{"id": testChannel}, "trigger_id": "1.2.3",
		"actions": []map[string]any{{"type": "button", "action_id": actionID, "value": value}},
	}
}

// fuzzSocket is the adapter in Socket Mode against a loopback fake of
// Slack's side: apps.connections.open and the WebSocket, whose frames the
// test writes and whose acks it reads.
type fuzzSocket struct {
	a   *Adapter
	h   *stubHandler
	srv *httptest.Server

	mu       sync.Mutex
	conn     *websocket.Conn // the adapter's current connection
	acks     map[string]int  // envelope ID -> acks seen
	changed  *sync.Cond
	handled  map[string]bool // envelope IDs the test expects handled already
	markers  int
	upgrader websocket.Upgrader
}

func newFuzzSocket(f *testing.F) *fuzzSocket {
	s := &fuzzSocket{h: &stubHandler{}, acks: map[string]int{}, handled: map[string]bool{}}
	s.changed = sync.NewCond(&s.mu)
	// slack-go's dialer sends an Origin that is not this host.
	s.upgrader.CheckOrigin = func(*http.Request) bool { return true }
	mux := http.NewServeMux()
	mux.HandleFunc("/api/apps.connections.open", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"ok":true,"url":"ws://%s/ws"}`, r.Host)
	})
	mux.HandleFunc("/ws", s.serveWS)
	s.srv = httptest.NewServer(mux)
	f.Cleanup(s.srv.Close)

	a, err := New(Config{Mode: ModeSocket, BotToken: "xoxb-fuzz", AppToken: "xapp-1-fuzz"},
		WithAPIURL(s.srv.URL+"/api/"), WithLogger(testLogger(f)), WithRetry(1, time.Millisecond))
	if err != nil {
		f.Fatal(err)
	}
	a.opt.socketRetryBase = 10 * time.Millisecond
	s.a = a
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx, s.h) }()
	f.Cleanup(func() {
		cancel()
		s.srv.CloseClientConnections()
		if err := <-done; err != nil {
			f.Errorf("RunSocketMode: %v", err)
		}
	})
	return s
}

// serveWS takes the adapter's connection and records every ack on it.
func (s *fuzzSocket) serveWS(w http.ResponseWriter, r *http.Request) {
	c, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	s.mu.Lock()
	s.conn = c
	s.changed.Broadcast()
	s.mu.Unlock()
	// Slack pings every few seconds; slack-go reconnects after 30 s
	// without one, and a frame sent meanwhile would be lost.
	done := make(chan struct{})
	defer close(done)
	go func() {
		t := time.NewTicker(5 * time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = c.WriteControl(websocket.PingMessage, nil, time.Now().Add(time.Second))
			}
		}
	}()
	for {
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		var ack socketmode.Response
		if json.Unmarshal(msg, &ack) != nil {
			continue
		}
		s.mu.Lock()
		s.acks[ack.EnvelopeID]++
		s.changed.Broadcast()
		s.mu.Unlock()
	}
}

// send writes frame on the adapter's current connection, waiting for
// one, and returns that connection. A write to a connection the adapter is
// leaving is lost: waitAcks sends it again.
func (s *fuzzSocket) send(t *testing.T, frame string) *websocket.Conn {
	t.Helper()
	s.mu.Lock()
	for s.conn == nil {
		s.changed.Wait()
	}
	c := s.conn
	s.mu.Unlock()
	_ = c.WriteMessage(websocket.TextMessage, []byte(frame))
	return c
}

// waitAcks waits until envelope id was acked at least n times, sending
// frame again on a new connection when the one it went on was left, and
// every half second when always (the marker, which may be lost in a
// reconnection that its own frame asked for).
func (s *fuzzSocket) waitAcks(t *testing.T, id string, n int, frame string, on *websocket.Conn, always bool) {
	t.Helper()
	deadline := time.Now().Add(patience)
	for i := 1; ; i++ {
		s.mu.Lock()
		got, cur := s.acks[id], s.conn
		s.mu.Unlock()
		if got >= n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("envelope %q acked %d times, want %d", id, got, n)
		}
		if cur != on || (always && i%500 == 0) {
			on = s.send(t, frame)
		}
		time.Sleep(time.Millisecond)
	}
}

func (s *fuzzSocket) check(t *testing.T, frame string) {
	cmds, acts := len(s.h.commands()), len(s.h.actions())
	var req socketmode.Request
	parsed := json.Unmarshal([]byte(frame), &req) == nil
	var (
		sc       slackgo.SlashCommand
		ic       slackgo.InteractionCallback
		takes    bool // an envelope the adapter must ack and may handle
		isCmd    bool
		ackedYet int
	)
	if parsed {
		switch req.Type {
		case socketmode.RequestTypeSlashCommands:
			takes, isCmd = json.Unmarshal(req.Payload, &sc) == nil, true
		case socketmode.RequestTypeInteractive:
			takes = json.Unmarshal(req.Payload, &ic) == nil
		}
	}
	s.mu.Lock()
	ackedYet = s.acks[req.EnvelopeID]
	first := !s.handled[req.EnvelopeID]
	if takes {
		s.handled[req.EnvelopeID] = true
	}
	s.markers++
	marker := fmt.Sprintf("marker-%d", s.markers)
	s.mu.Unlock()

	on := s.send(t, frame)
	if takes {
		// Acked whether handled or a redelivery.
		s.waitAcks(t, req.EnvelopeID, ackedYet+1, frame, on, false)
	}
	// The marker follows the frame on the same connection: once it is
	// acked, the read loop has dispatched the frame.
	m := envelope(marker, "events_api", map[string]any{"type": "event_callback", "event": map[string]any{"type": "app_mention"}})
	s.waitAcks(t, marker, 1, m, s.send(t, m), true)
	// Nothing is read between the marker and the next frame, so the
	// adapter's background work can be waited for.
	s.a.bg.Wait()
	gotCmds, gotActs := s.h.commands()[cmds:], s.h.actions()[acts:]

	var wantCmds, wantActs int
	switch {
	case !takes || !first:
	case isCmd && sc.Command == DefaultCommand && sc.UserID != "" && sc.ChannelID != "":
		wantCmds = 1
	case !isCmd && ic.Type == slackgo.InteractionTypeBlockActions && ic.User.ID != "":
		for _, ba := range ic.ActionCallback.BlockActions {
			if ba != nil {
				wantActs++
			}
		}
	case !isCmd && ic.Type == slackgo.InteractionTypeViewSubmission:
		var meta formMeta
		if ic.View.CallbackID == ModalCallbackID && ic.User.ID != "" && json.Unmarshal([]byte(ic.View.PrivateMetadata), &meta) == nil &&
			meta.Action != "" && meta.Value != "" && meta.User == ic.User.ID {
			wantActs = 1
		}
	}
	if len(gotCmds) != wantCmds || len(gotActs) != wantActs {
		t.Fatalf("frame %q: %d commands and %d actions handled, want %d and %d (first delivery: %v)", frame, len(gotCmds), len(gotActs), wantCmds, wantActs, first)
	}
	if wantCmds == 1 {
		c := gotCmds[0]
		want := strings.TrimSpace(unescapeText(sc.Text))
		if c.User.ID != sc.UserID || c.Channel != sc.ChannelID || c.Text != want {
			t.Fatalf("frame %q became %+v", frame, c)
		}
	}
	for _, a := range gotActs {
		if a.User.ID != ic.User.ID {
			t.Fatalf("frame %q: %+v is not by %q", frame, a, ic.User.ID)
		}
	}
}
