package console

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

var approval = bot.Message{
	Title: bot.Plain("Approval needed: migrate on gitlab-1"),
	Text:  bot.Plain("Someone other than alice must approve before anything runs."),
	Fields: []bot.Field{
		{Label: "Command", Value: bot.Code("gitlab-rake db:migrate")},
		{Label: "Requested by", Value: bot.Plain("alice"), Short: true},
	},
	Tone:     bot.ToneWarning,
	Mentions: []string{"bob", "carol"},
	Buttons: []bot.Button{
		{ActionID: bot.ActionApprove, Label: "Approve", Value: "r7k2qxa9", Style: bot.StylePrimary},
		{ActionID: bot.ActionDeny, Label: "Deny", Value: "r7k2qxa9", Style: bot.StyleDanger},
	},
	Context: bot.Plain("request r7k2qxa9"),
}

func TestRenderGolden(t *testing.T) {
	cases := map[string]bot.Message{
		"approval": approval,
		"status": {Title: bot.Plain("Migration status on gitlab-1"), Tone: bot.ToneWarning,
			Text: bot.Textf("%s: 1,523 up, 2 down\n    • %s Create project compliance violations\n%s: all 908 up", bot.Bold("main (gitlabhq_production)"), bot.Code("20250611093054"), bot.Bold("ci (gitlabhq_production_ci)"))},
		"failure": {Title: bot.Plain("db:migrate on gitlab-1 failed"), Tone: bot.ToneDanger, Text: bot.Plain("Stopped at 20250612101733."), Code: "PG::DuplicateColumn: ERROR:  column \"x\" already exists\n", Context: bot.Plain("took 3.1s · exit 1")},
		"plain":   {Text: bot.Plain("No requests are waiting for approval.")},
	}
	for name, m := range cases {
		golden.Check(t, "render-"+name, []byte(Render(m, "  ")))
	}
}

// fakeHandler records what the console hands to the router.
type fakeHandler struct {
	cmds    []bot.Command
	actions []bot.Action
	refuse  error
}

func (h *fakeHandler) HandleCommand(_ context.Context, c bot.Command) bot.Reply {
	h.cmds = append(h.cmds, c)
	return bot.ReplyFor(h.refuse)
}

func (h *fakeHandler) HandleAction(_ context.Context, a bot.Action) bot.Reply {
	h.actions = append(h.actions, a)
	return bot.ReplyFor(h.refuse)
}

func TestRunParsesLines(t *testing.T) {
	var out bytes.Buffer
	c := New(&out, "#ops")
	ctx := context.Background()
	root, _ := c.PostRoot(ctx, "#ops", approval)
	h := &fakeHandler{}
	in := strings.Join([]string{
		"# a comment",
		"",
		"alice: /gitlab-migrations status --db ci",
		"Bob: approve $LAST",
		"carol: click deny r7k2qxa9",
		"dave: click approve nope",
		"no colon here",
	}, "\n")
	waits := 0
	if err := c.Feed(ctx, strings.NewReader(in), h, func() { waits++ }); err != nil {
		t.Fatal(err)
	}
	if len(h.cmds) != 2 || h.cmds[0].Text != "status --db ci" || h.cmds[0].User != (bot.User{ID: "alice", Name: "alice"}) {
		t.Fatalf("commands: %+v", h.cmds)
	}
	if h.cmds[1].Text != "approve r7k2qxa9" || h.cmds[1].User.ID != "bob" {
		t.Errorf("$LAST was not replaced by the latest request ID: %+v", h.cmds[1])
	}
	if len(h.actions) != 1 || h.actions[0].ActionID != bot.ActionDeny || h.actions[0].Value != "r7k2qxa9" || h.actions[0].Message != root {
		t.Errorf("click: %+v, want a deny on %v", h.actions, root)
	}
	if waits != 7 {
		t.Errorf("wait called %d times, want once per line", waits)
	}
	for _, want := range []string{"no button carries request nope", "console: type NAME: /gitlab-migrations SUBCOMMAND"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}

func TestRefusalIsShownToThatUserOnly(t *testing.T) {
	var out bytes.Buffer
	c := New(&out, "#ops")
	h := &fakeHandler{refuse: &testRefusal{"unknown subcommand"}}
	if err := c.Feed(context.Background(), strings.NewReader("alice: stauts\n"), h, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "(only alice sees this)\n  │ ✖ unknown subcommand") {
		t.Errorf("refusal not shown to alice alone:\n%s", out.String())
	}
}

// TestGoErrorsAreNotShown: a handler error not written for people
// (bot.Readable) reads as bot.FailedText; its text goes to the log.
func TestGoErrorsAreNotShown(t *testing.T) {
	var out, logs bytes.Buffer
	c := New(&out, "#ops")
	c.SetLogger(slog.New(slog.NewTextHandler(&logs, nil)))
	h := &fakeHandler{refuse: fmt.Errorf("reading requests: %w", errors.New(`Post "http://127.0.0.1:9/v1/jobs": dial tcp 127.0.0.1:9: connect: connection refused`))}
	if err := c.Feed(context.Background(), strings.NewReader("alice: pending\n"), h, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), bot.FailedText) || strings.Contains(out.String(), "dial tcp") || strings.Contains(out.String(), `Post "http`) {
		t.Errorf("the terminal should show bot.FailedText only:\n%s", out.String())
	}
	if !strings.Contains(logs.String(), "dial tcp") {
		t.Errorf("the log lost the error: %s", logs.String())
	}
}

type testRefusal struct{ s string }

func (e *testRefusal) Error() string { return e.s }

func (e *testRefusal) UserText() string { return e.s }

func TestThreadsAndEdits(t *testing.T) {
	var out bytes.Buffer
	c := NewTagged(&out, "#ops", "k.")
	ctx := context.Background()
	root, _ := c.PostRoot(ctx, "#ops", bot.Message{Text: bot.Plain("root")})
	reply, err := c.Reply(ctx, root, bot.Message{Text: bot.Plain("reply")})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Reply(ctx, reply, bot.Message{Text: bot.Plain("nested")}); err == nil {
		t.Error("a reply under a reply was accepted; threads hang under the root only")
	}
	if err := c.Update(ctx, root, bot.Message{Text: bot.Plain("edited")}); err != nil {
		t.Fatal(err)
	}
	// A root of an earlier run (restart recovery) can be replied to.
	if _, err := c.Reply(ctx, bot.Ref{Channel: "#ops", ID: "old.3"}, bot.Message{Text: bot.Plain("recovered")}); err != nil {
		t.Errorf("reply under an earlier run's post: %v", err)
	}
	golden.Check(t, "thread", []byte(out.String()))
}

// TestRunCommentsAndPlaceholder: the README's example lines work verbatim:
// trailing comments are dropped, a literal <id> stands for the latest
// request ID with a note saying what to put there.
func TestRunCommentsAndPlaceholder(t *testing.T) {
	cases := []struct {
		line, text, says string
	}{
		{"alice: /gitlab-migrations approve <id>      # refused: a requester never approves their own request", "approve r7k2qxa9", "<id> stands for the request ID shown on the approval message; using the latest one, r7k2qxa9"},
		{"bob: /gitlab-migrations deny <request-id>\t# veto", "deny r7k2qxa9", "using the latest one, r7k2qxa9"},
		{"bob: /gitlab-migrations migrate -- ticket #123 and #124", "migrate -- ticket #123 and #124", ""},
		{"  # an indented comment", "", ""},
		// #42 is an issue number, not a comment, even after two blanks.
		{"alice: restart puma -- fix  #42 asap", "restart puma -- fix  #42 asap", ""},
		// A comment after a reason is dropped, but never silently.
		{"alice: restart puma -- fix it  # note to self", "restart puma -- fix it", `"# note to self" after two blanks is a console comment, so it is not part of the reason`},
		{"alice: migrate \u2014 upgrade\t# why", "migrate \u2014 upgrade", "is not part of the reason"},
		{"alice: status  #", "status", ""},
	}
	for _, tc := range cases {
		var out bytes.Buffer
		c := New(&out, "#ops")
		if _, err := c.PostRoot(context.Background(), "#ops", approval); err != nil {
			t.Fatal(err)
		}
		h := &fakeHandler{}
		if err := c.Feed(context.Background(), strings.NewReader(tc.line+"\n"), h, nil); err != nil {
			t.Fatal(err)
		}
		switch {
		case tc.text == "" && len(h.cmds) != 0:
			t.Errorf("%q: a comment reached the bot: %+v", tc.line, h.cmds)
		case tc.text != "" && (len(h.cmds) != 1 || h.cmds[0].Text != tc.text):
			t.Errorf("%q: the bot got %+v, want %q", tc.line, h.cmds, tc.text)
		}
		if tc.says != "" && !strings.Contains(out.String(), tc.says) {
			t.Errorf("%q: output lacks %q:\n%s", tc.line, tc.says, out.String())
		}
		if tc.says == "" && strings.Contains(out.String(), "console comment") {
			t.Errorf("%q: a comment was announced on a line without a reason:\n%s", tc.line, out.String())
		}
	}
	// Before any request was shown, <id> cannot be guessed: say what to put.
	var out bytes.Buffer
	h := &fakeHandler{}
	if err := New(&out, "#ops").Feed(context.Background(), strings.NewReader("bob: approve <id>\n"), h, nil); err != nil {
		t.Fatal(err)
	}
	if len(h.cmds) != 0 || !strings.Contains(out.String(), "put the request ID shown on an approval message where the line says <id>") {
		t.Errorf("<id> with no request shown: %+v\n%s", h.cmds, out.String())
	}
}

func TestRefusalNamesWhoMayApprove(t *testing.T) {
	var out bytes.Buffer
	c := New(&out, "#ops")
	h := &fakeHandler{refuse: &simtest.ApproversRefusal{Msg: "you are not an approver", Who: []string{"bob", "dba"}}}
	if err := c.Feed(context.Background(), strings.NewReader("carol: approve r7k2qxa9\n"), h, nil); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "Who may approve: @bob, @dba") {
		t.Errorf("the refusal should name who may approve:\n%s", out.String())
	}
}
