package mattermost

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

func TestMain(m *testing.M) {
	simtest.RunSimIfAsked()
	flag.Parse()
	os.Exit(m.Run())
}

// The adapter is the approvals group resolver of the wiring.
var _ approvals.GroupResolver = (*Adapter)(nil)

// fixedID pads a readable name to a 26-character Mattermost ID, so golden
// files read "alice000…" rather than random letters.
func fixedID(name string) string { return name + strings.Repeat("0", 26-len(name)) }

var (
	teamID     = fixedID("team")
	channelID  = fixedID("upgrades")
	approverCh = fixedID("approvers")
	alice      = mmUser{ID: fixedID("alice"), Name: "alice"}
	bob        = mmUser{ID: fixedID("bob"), Name: "bob"}
	carol      = mmUser{ID: fixedID("carol"), Name: "carol"}
	dave       = mmUser{ID: fixedID("dave"), Name: "dave"}
)

const actionSecret = "0123456789abcdef0123456789abcdef-test-secret"

// env is a full stack: the fake Mattermost, the adapter behind its own
// 127.0.0.1 listener, and the real router, approvals, bbolt and agent over
// the simulated GitLab.
type env struct {
	t        *testing.T
	mm       *fakeMM
	a        *Adapter
	srv      *httptest.Server
	stack    *simtest.Stack
	clock    *approvalstest.Clock
	h        *simtest.CountingHandler
	refusals *simtest.Refusals
	tokens   []string
}

type envOpts struct {
	policy     approvals.Policy
	attachOver int
	// config, if set, changes the adapter's configuration before New.
	config func(*Config)
}

func testLogger(t testing.TB) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newAdapterOnly is an adapter against a fresh fake, without a router.
func newAdapterOnly(t *testing.T, opt Options) (*Adapter, *fakeMM) {
	t.Helper()
	mm := newFakeMM(t)
	if opt.Logger == nil {
		opt.Logger = testLogger(t)
	}
	a, err := New(Config{
		URL: mm.URL(), BotToken: mm.token, CommandTokens: []string{"cmdtoken"},
		ActionSecret: actionSecret, CallbackURL: "http://127.0.0.1:1" + ActionsPath,
	}, opt)
	if err != nil {
		t.Fatal(err)
	}
	return a, mm
}

func newEnv(t *testing.T, o envOpts) *env {
	t.Helper()
	e := &env{t: t, mm: newFakeMM(t), clock: approvalstest.NewClock(time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC)), refusals: &simtest.Refusals{},
		tokens: []string{model.NewId(), model.NewId()}}
	for _, u := range []mmUser{alice, bob, carol, dave} {
		e.mm.addUser(u.ID, u.Name)
	}
	e.mm.addChannel(channelID, "upgrades", string(model.ChannelTypeOpen))
	e.mm.addChannel(approverCh, "db-approvers", string(model.ChannelTypePrivate))
	// The adapter's listener must exist before the adapter, whose buttons
	// carry its URL; its handler needs the router, built after.
	e.srv = httptest.NewUnstartedServer(nil)
	t.Cleanup(e.srv.Close)
	cfg := Config{
		URL: e.mm.URL(), BotToken: e.mm.token, CommandTokens: e.tokens, ActionSecret: actionSecret,
		CallbackURL: "http://" + e.srv.Listener.Addr().String() + ActionsPath,
	}
	if o.config != nil {
		o.config(&cfg)
	}
	var err error
	e.a, err = New(cfg, Options{Logger: testLogger(t), OnRefused: e.refusals.Hook})
	if err != nil {
		t.Fatal(err)
	}
	so := simtest.Options{Policy: o.policy, Clock: e.clock.Now, Groups: e.a}
	so.Router.AttachOver = o.attachOver
	e.stack = simtest.Start(t, so)
	e.stack.Router.Register(e.a)
	e.h = &simtest.CountingHandler{H: e.stack.Router}
	e.srv.Config.Handler = e.a.HTTPHandler(e.h)
	e.srv.Start()
	e.stack.Run(t)
	t.Cleanup(func() {
		e.mm.mu.Lock()
		defer e.mm.mu.Unlock()
		if e.mm.nullProps != 0 {
			t.Errorf("%d patches sent props: null, which keeps the old buttons", e.mm.nullProps)
		}
	})
	return e
}

func (e *env) commandURL() string { return e.srv.URL + CommandPath }
func (e *env) actionsURL() string { return e.srv.URL + ActionsPath }

// command types text as u and returns the bot's answer.
func (e *env) command(u mmUser, text string) (int, *model.CommandResponse, []byte) {
	e.t.Helper()
	status, raw := e.mm.command(e.t, e.commandURL(), e.tokens[0], u, channelID, text)
	var resp model.CommandResponse
	if status == http.StatusOK {
		if err := json.Unmarshal(raw, &resp); err != nil {
			e.t.Fatalf("command answer is not a CommandResponse: %v: %s", err, raw)
		}
	}
	return status, &resp, raw
}

// settle waits for the router's background work (posting, running,
// following up) to finish, with a generous deadline instead of a sleep.
func (e *env) settle() {
	e.t.Helper()
	done := make(chan struct{})
	go func() { e.stack.Router.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(90 * time.Second):
		e.t.Fatalf("the router's background work did not finish within 90 s; posts: %s", e.dump())
	}
}

// eventually polls cond with a generous deadline.
func (e *env) eventually(what string, cond func() bool) {
	e.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			e.t.Fatalf("gave up waiting for %s; posts: %s", what, e.dump())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (e *env) dump() string {
	var b strings.Builder
	for _, p := range e.mm.channelPosts(channelID) {
		fmt.Fprintf(&b, "\n[%s root=%s] %q %s", p.Id, p.RootId, p.Message, attachmentTitle(p))
	}
	return b.String()
}

// lastRoot is the newest root post in the test channel.
func (e *env) lastRoot() *model.Post {
	e.t.Helper()
	roots := e.mm.roots(channelID)
	if len(roots) == 0 {
		e.t.Fatalf("no root post in the channel")
	}
	return roots[len(roots)-1]
}

// request returns the request whose thread is root.
func (e *env) request(root string) *approvals.Request {
	e.t.Helper()
	rs, err := e.stack.DB.Requests(context.Background(), approvals.RequestFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	for _, r := range rs {
		if r.Thread == root {
			return r
		}
	}
	e.t.Fatalf("no request in thread %s", root)
	return nil
}

// openMigrate has alice ask for a migrate and returns its root post once it
// carries the Approve and Deny buttons.
func (e *env) openMigrate(u mmUser, text string) *model.Post {
	e.t.Helper()
	status, resp, raw := e.command(u, text)
	if status != http.StatusOK || resp.Text != "" || len(resp.Attachments) != 0 {
		e.t.Fatalf("migrate was not accepted silently: %d %s", status, raw)
	}
	e.settle()
	root := e.lastRoot()
	// In strict mode (approve_by: command) the post shows the commands
	// to type instead of buttons.
	if strict := e.a.cfg.ApproveBy == ApproveByCommand; hasActions(root) == strict {
		e.t.Fatalf("the approval post has buttons %v in strict mode %v: %s", hasActions(root), strict, e.dump())
	}
	return root
}

func attachmentTitle(p *model.Post) string {
	if as := p.Attachments(); len(as) > 0 {
		return as[0].Title
	}
	return ""
}

func attachmentText(p *model.Post) string {
	if as := p.Attachments(); len(as) > 0 {
		return as[0].Text
	}
	return ""
}

func hasActions(p *model.Post) bool {
	for _, a := range p.Attachments() {
		if len(a.Actions) > 0 {
			return true
		}
	}
	return false
}

// --- golden files ---

// postView is what a golden file holds of a post: what the server stored
// and clients render.
type postView struct {
	ChannelID string                `json:"channel_id"`
	RootID    string                `json:"root_id,omitempty"`
	Message   string                `json:"message"`
	FileIDs   []string              `json:"file_ids,omitempty"`
	Props     model.StringInterface `json:"props,omitempty"`
}

func viewOf(p *model.Post) postView {
	return postView{ChannelID: p.ChannelId, RootID: p.RootId, Message: p.Message, FileIDs: p.FileIds, Props: p.GetProps()}
}

var (
	sigRE      = regexp.MustCompile(`v1\.[A-Za-z0-9_-]{43}`)
	durationRE = regexp.MustCompile(`took [0-9.]+s`)
	takenRE    = regexp.MustCompile(`taken at [0-9]{2}:[0-9]{2}:[0-9]{2} UTC`) // the agent's wall clock
)

// normalize replaces what changes from run to run (IDs the fake hands
// out, request IDs, the listener's port, HMACs, job durations) by stable
// placeholders.
func (e *env) normalize(s string) string {
	for i, id := range e.mm.allPostIDs() {
		s = strings.ReplaceAll(s, id, fmt.Sprintf("<post-%d>", i+1))
	}
	e.mm.mu.Lock()
	var files []string
	for id := range e.mm.files {
		files = append(files, id)
	}
	e.mm.mu.Unlock()
	for _, id := range files {
		s = strings.ReplaceAll(s, id, "<file>")
	}
	e.mm.mu.Lock()
	for _, id := range e.mm.dms {
		s = strings.ReplaceAll(s, id, "<direct-channel>")
	}
	e.mm.mu.Unlock()
	rs, err := e.stack.DB.Requests(context.Background(), approvals.RequestFilter{})
	if err != nil {
		e.t.Fatal(err)
	}
	slices.SortFunc(rs, func(a, b *approvals.Request) int { return strings.Compare(a.Thread, b.Thread) })
	for _, r := range rs {
		s = strings.ReplaceAll(s, r.ID, "<request>")
	}
	s = strings.ReplaceAll(s, e.actionsURL(), "<callback-url>")
	s = strings.ReplaceAll(s, e.mm.bot.Id, "<bot>")
	s = sigRE.ReplaceAllString(s, "<hmac>")
	s = takenRE.ReplaceAllString(s, "taken at <time>")
	return durationRE.ReplaceAllString(s, "took <duration>")
}

// golden compares v, as indented JSON and normalized, with
// testdata/name.golden (rewritten with -update).
func (e *env) golden(name string, v any) {
	e.t.Helper()
	for _, s := range serverRewrites(e.t, v) {
		e.t.Errorf("%s: Mattermost would rewrite %q as a Slack link", name, s)
	}
	var b strings.Builder
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false) // keep <placeholders> readable
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		e.t.Fatal(err)
	}
	golden.Check(e.t, name, []byte(e.normalize(b.String())))
}
