package slack

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// TestSlashCommandLogHidesTheCode: the "slash command" log line of
// `approve <id> --code NNNNNN` hides the code (a one-time code is never
// logged); the handler still gets it.
func TestSlashCommandLogHidesTheCode(t *testing.T) {
	fake := newFakeSlack(t)
	var logs lockedBuffer
	a := newTestAdapter(t, fake, WithLogger(slog.New(slog.NewTextHandler(&logs, nil))))
	h := &stubHandler{}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()

	body := slashForm("U0ALICE", "alice", testChannel, "approve a1b2c3d4 --code 918273", fake.responseURL("c1"))
	if resp := do(t, signedRequest(t, srv.URL+PathCommands, body, testSecret, time.Now())); resp.status != http.StatusOK {
		t.Fatalf("answer = %d %q", resp.status, resp.body)
	}
	if cmds := h.commands(); len(cmds) != 1 || cmds[0].Text != "approve a1b2c3d4 --code 918273" {
		t.Fatalf("handler got %+v; want the command with its code", cmds)
	}
	deadline := time.Now().Add(patience)
	for !strings.Contains(logs.String(), "slash command") {
		if time.Now().After(deadline) {
			t.Fatalf("no slash command log line:\n%s", logs.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := logs.String(); strings.Contains(got, "918273") || !strings.Contains(got, "--code ******") {
		t.Fatalf("the log shows the code, or not the command with it hidden:\n%s", got)
	}
}
