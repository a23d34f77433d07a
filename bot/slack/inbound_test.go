package slack

import (
	"context"
	"encoding/json"
	"fmt"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

func TestSlashCommandIsTranslatedAndAcked(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	h := &stubHandler{}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()

	body := slashForm("U0ALICE", "alice", testChannel, "  status --db ci  ", fake.responseURL("c1"))
	resp := do(t, signedRequest(t, srv.URL+PathCommands, body, testSecret, time.Now()))
	if resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("answer = %d %q, want an empty 200", resp.status, resp.body)
	}
	cmds := h.commands()
	want := bot.Command{Platform: Platform, User: bot.User{ID: "U0ALICE", Name: "alice"}, Channel: testChannel, Text: "status --db ci"}
	if len(cmds) != 1 || cmds[0] != want {
		t.Fatalf("handler got %+v, want %+v", cmds, want)
	}
}

func TestRefusalInTimeIsTheEphemeralAnswer(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	h := &stubHandler{cmdErr: refusalText("unknown subcommand \"stauts\"")}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()
	resp := do(t, signedRequest(t, srv.URL+PathCommands, slashForm("U0ALICE", "alice", testChannel, "stauts", fake.responseURL("c1")), testSecret, time.Now()))
	if resp.status != http.StatusOK {
		t.Fatalf("status %d", resp.status)
	}
	var got struct {
		ResponseType string          `json:"response_type"`
		Text         string          `json:"text"`
		Blocks       json.RawMessage `json:"blocks"`
	}
	if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
		t.Fatalf("answer is not JSON: %q", resp.body)
	}
	if got.ResponseType != "ephemeral" || !strings.Contains(got.Text, "unknown subcommand") {
		t.Errorf("answer = %+v", got)
	}
	if len(fake.callsTo("chat.postMessage")) != 0 || len(fake.allResponses()) != 0 {
		t.Errorf("a refusal was shown in the channel or twice")
	}
}

// TestAckBeforeSlowHandler: the handler does not return until the test
// lets it, yet Slack gets its 200 first; the late refusal then reaches
// the user through response_url.
func TestAckBeforeSlowHandler(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake, WithAckBudget(50*time.Millisecond))
	gate := make(chan struct{})
	h := &stubHandler{gate: gate, cmdErr: refusalText("too late but still shown")}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()

	resp := do(t, signedRequest(t, srv.URL+PathCommands, slashForm("U0ALICE", "alice", testChannel, "status", fake.responseURL("slow")), testSecret, time.Now()))
	if resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("answer = %d %q, want an empty 200 while the handler still works", resp.status, resp.body)
	}
	if len(h.commands()) != 1 {
		t.Fatal("handler not called")
	}
	close(gate)
	eventually(t, "the late refusal via response_url", func() bool { return len(fake.allResponses()) == 1 })
	r := fake.allResponses()[0]
	if r.Path != "/response/slow" || r.Body["response_type"] != "ephemeral" || !strings.Contains(r.Body["text"].(string), "too late but still shown") {
		t.Errorf("response = %+v", r)
	}
}

// TestHelpAnswersInTheBody: a handler's Reply (help) is the slash
// command's own ephemeral answer; nothing else is sent.
func TestHelpAnswersInTheBody(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	h := &stubHandler{onCommand: func(context.Context, bot.Command) bot.Reply {
		return bot.Say(bot.Message{Title: bot.Plain("Help"), Text: bot.Plain("usage")})
	}}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()
	resp := do(t, signedRequest(t, srv.URL+PathCommands, slashForm("U0ALICE", "alice", testChannel, "help", fake.responseURL("help")), testSecret, time.Now()))
	if resp.status != http.StatusOK || !strings.Contains(resp.body, `"response_type":"ephemeral"`) || !strings.Contains(resp.body, "usage") {
		t.Fatalf("answer = %d %s", resp.status, resp.body)
	}
	if len(fake.allResponses()) != 0 || len(fake.allEphemerals()) != 0 || len(fake.callsTo("chat.postMessage")) != 0 {
		t.Error("help went somewhere else too")
	}
}

func TestWrongCommandAndPanicsAreRefusedNotFatal(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	h := &stubHandler{onCommand: func(context.Context, bot.Command) bot.Reply { panic("boom") }}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()

	body := strings.Replace(slashForm("U0ALICE", "alice", testChannel, "status", ""), "gitlab-migrations", "deploy", 1)
	resp := do(t, signedRequest(t, srv.URL+PathCommands, body, testSecret, time.Now()))
	if resp.status != http.StatusOK || !strings.Contains(resp.body, "answers /gitlab-migrations") {
		t.Errorf("other command: %d %q", resp.status, resp.body)
	}
	if len(h.commands()) != 0 {
		t.Error("another command reached the handler")
	}
	resp = do(t, signedRequest(t, srv.URL+PathCommands, slashForm("U0ALICE", "alice", testChannel, "status", ""), testSecret, time.Now()))
	if resp.status != http.StatusOK || !strings.Contains(resp.body, "went wrong inside the bot") {
		t.Errorf("panicking handler: %d %q", resp.status, resp.body)
	}
}

func TestClickIsTranslated(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	h := &stubHandler{actErr: refusalText("you opened request r7k2qxa9 yourself")}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()

	body := clickForm("U0BOB", "bob", testChannel, "1700000000.000042", bot.ActionApprove, "r7k2qxa9", fake.responseURL("click"))
	resp := do(t, signedRequest(t, srv.URL+PathInteractions, body, testSecret, time.Now()))
	if resp.status != http.StatusOK || resp.body != "" {
		t.Fatalf("answer = %d %q", resp.status, resp.body)
	}
	eventually(t, "the click handled", func() bool { return len(h.actions()) == 1 })
	want := bot.Action{Platform: Platform, User: bot.User{ID: "U0BOB", Name: "bob"},
		Message: bot.Ref{Channel: testChannel, ID: "1700000000.000042"}, ActionID: bot.ActionApprove, Value: "r7k2qxa9"}
	if got := h.actions()[0]; !reflect.DeepEqual(got, want) {
		t.Errorf("action = %+v, want %+v", got, want)
	}
	eventually(t, "the refusal shown to bob alone", func() bool { return len(fake.allResponses()) == 1 })
	r := fake.allResponses()[0]
	if r.Path != "/response/click" || r.Body["response_type"] != "ephemeral" || r.Body["replace_original"] != false {
		t.Errorf("response = %+v", r)
	}

	// Other interaction types are acknowledged and ignored.
	other := `payload={"type":"view_submission","user":{"id":"U0BOB"}}`
	resp = do(t, signedRequest(t, srv.URL+PathInteractions, other, testSecret, time.Now()))
	if resp.status != http.StatusOK || len(h.actions()) != 1 {
		t.Errorf("view_submission: %d, actions %d", resp.status, len(h.actions()))
	}
}

func TestSSLCheck(t *testing.T) {
	fake := newFakeSlack(t)
	rec := &simtest.Refusals{}
	a := newTestAdapter(t, fake, WithOnRefused(rec.Hook))
	h := &stubHandler{}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()
	req, _ := http.NewRequest(http.MethodGet, srv.URL+PathCommands+"?ssl_check=1", nil)
	if resp := do(t, req); resp.status != http.StatusOK {
		t.Errorf("ssl_check: %d", resp.status)
	}
	if len(h.commands()) != 0 || len(rec.List()) != 0 {
		t.Error("ssl_check did something")
	}
}

// TestRefusalNamesWhoMayApprove: a refusal that knows who may approve
// (bot.ApproversNamer) mentions them, users and user groups.
func TestRefusalNamesWhoMayApprove(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	h := &stubHandler{cmdErr: &simtest.ApproversRefusal{Msg: "you are not an approver", Who: []string{"U0BOB", "S0DBA"}}}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()
	resp := do(t, signedRequest(t, srv.URL+PathCommands, slashForm("U0CAROL", "carol", testChannel, "approve r7k2qxa9", fake.responseURL("c1")), testSecret, time.Now()))
	var got struct {
		Text string `json:"text"`
	}
	if err := json.Unmarshal([]byte(resp.body), &got); err != nil {
		t.Fatalf("answer is not JSON: %q", resp.body)
	}
	if !strings.Contains(got.Text, "you are not an approver") || !strings.Contains(got.Text, "Who may approve: <@U0BOB>, <!subteam^S0DBA>") {
		t.Errorf("the refusal should mention who may approve: %q", got.Text)
	}
}

// TestCommandTextIsUnescaped: Slack sends &, < and > in slash-command text
// as &amp;, &lt; and &gt;. The router gets the text as the user typed it:
// exactly those three entities are undone, each once, and nothing else.
func TestCommandTextIsUnescaped(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	h := &stubHandler{}
	srv := httptest.NewServer(a.HTTPHandler(h))
	defer srv.Close()

	cases := []struct{ name, sent, want string }{
		{"plain", "status --db ci", "status --db ci"},
		{"reason with ampersand", "restart puma -- A &amp; B", "restart puma -- A & B"},
		{"pasted finalize, JSON with & and >",
			`finalize sudo gitlab-rake gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\, ["a&amp;b&gt;c"]]'] -- x &gt; y &lt; z`,
			`finalize sudo gitlab-rake gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,ci_stages,id,'[["id"]\, ["a&b>c"]]'] -- x > y < z`},
		{"an escaped entity is undone once", "status -- &amp;lt; &amp;gt; &amp;amp;", "status -- &lt; &gt; &amp;"},
		{"other entities stay", "status -- &quot;x&quot; &#39;y&#39; &nbsp;", "status -- &quot;x&quot; &#39;y&#39; &nbsp;"},
		{"a bare ampersand stays", "status -- a & b &amp", "status -- a & b &amp"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			body := slashForm("U0ALICE", "alice", testChannel, c.sent, fake.responseURL(fmt.Sprintf("u%d", i)))
			if resp := do(t, signedRequest(t, srv.URL+PathCommands, body, testSecret, time.Now())); resp.status != http.StatusOK {
				t.Fatalf("answer = %d %q", resp.status, resp.body)
			}
			cmds := h.commands()
			if got := cmds[len(cmds)-1].Text; got != c.want {
				t.Fatalf("handler got text\n%q\nwant\n%q", got, c.want)
			}
		})
	}
}
