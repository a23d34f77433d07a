package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

const (
	shutSlackSecret = "slack-signing-secret-for-the-shutdown-test"
	shutMMToken     = "mattermost-command-token-0123456789"
	shutMMSecret    = "0123456789abcdef0123456789abcdef0123456789"
	shutSlackGroup  = "S0APPROVE1"
	shutSlackUser   = "U0SLACKBOB"
)

// shutdownConfig is a bot with Slack on serve's listener (slackPort) and
// Mattermost on a listener of its own (mmPort), both loopback, approvals
// by group membership (so that every approval asks the chat APIs), and
// three approvals required (so that no approval here starts a run). It
// is written to dir/bot.yaml and loaded as serve loads it.
func shutdownConfig(t *testing.T, dir, agentURL, slackURL, mmURL, mmChannel string, slackPort, mmPort int) (config, string) {
	t.Helper()
	return writeServeConfig(t, dir, "bot.yaml", shutdownYAML(t, dir, agentURL, slackURL, mmURL, mmChannel, slackPort, mmPort))
}

func noEnv(string) string { return "" }

// writeServeConfig writes yaml to dir/name (mode 0600, as an operator
// would) and loads it as serve does, with no environment; it returns the
// configuration and the file's path.
func writeServeConfig(t testing.TB, dir, name, yaml string) (config, string) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := loadConfig(p, use{serve: true}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	return cfg, p
}

func shutdownYAML(t *testing.T, dir, agentURL, slackURL, mmURL, mmChannel string, slackPort, mmPort int) string {
	t.Helper()
	if err := agent.GenerateApprovalKeys(dir); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf(`store: %s
listen: 127.0.0.1:%d
audit: {key_file: %s}
approval_key: %s
hosts:
  - name: gitlab-1
    agent: %s
policy:
  approver_groups: [slack:%s, mattermost:%s]
  approvals_required: 3
slack:
  mode: http
  api_url: %s
  bot_token: xoxb-shutdown-test
  signing_secret: %s
mattermost:
  url: %s
  bot_token: mm-bot-token
  command_tokens: [%s]
  action_secret: %s
  callback_url: http://127.0.0.1:%d/mattermost/actions
  listen: 127.0.0.1:%d
`, filepath.Join(dir, "chatops.db"), slackPort, writeAuditKey(t, dir), filepath.Join(dir, agent.ApprovalKeyFile), agentURL,
		shutSlackGroup, mmChannel, slackURL, shutSlackSecret, mmURL, shutMMToken, shutMMSecret, mmPort, mmPort)
}

func waitListening(t *testing.T, port int) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", port))
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("nothing listens on port %d: %v", port, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// signedSlackCommand is a slash command as Slack sends it, signed.
func signedSlackCommand(t *testing.T, port int, user, text string) *http.Request {
	t.Helper()
	body := url.Values{"command": {"/gitlab-migrations"}, "text": {text}, "user_id": {user}, "user_name": {"bob"},
		"channel_id": {"C0SHUT"}, "team_id": {"T0SHUT"}, "trigger_id": {"1.2.3"}}.Encode()
	req, err := http.NewRequest(http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", port, slack.PathCommands), strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	signSlack(req, shutSlackSecret, time.Now(), body)
	return req
}

// signSlack signs req (whose body is body) as Slack signs with secret at
// ts: X-Slack-Request-Timestamp and X-Slack-Signature = "v0=" +
// hex(HMAC-SHA256(secret, "v0:" + timestamp + ":" + body)).
func signSlack(req *http.Request, secret string, ts time.Time, body string) {
	unix := strconv.FormatInt(ts.Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + unix + ":" + body))
	req.Header.Set(slack.HeaderTimestamp, unix)
	req.Header.Set(slack.HeaderSignature, "v0="+hex.EncodeToString(m.Sum(nil)))
}

type answer struct {
	status int
	body   string
	err    error
}

func send(req *http.Request) answer { return sendWith(http.DefaultClient, req) }

// sendWith is send through c.
func sendWith(c *http.Client, req *http.Request) answer {
	resp, err := c.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return answer{status: resp.StatusCode, body: string(b)}
}

// TestServeDrainsInFlightHandlersOnShutdown: SIGTERM arrives while a Mattermost
// button callback and a Slack slash command are both inside the bot,
// waiting on a chat API. serve waits for both to finish before closing the
// router and the store: both get their answer, both approvals are in the
// audit trail, nothing reaches a chat API or the store after serve
// returned, and the store holds nothing for the next start to recover.
func TestServeDrainsInFlightHandlersOnShutdown(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "chatops.db")
	fs := newFakeSlackAPI(t, shutSlackUser)
	fm := newFakeMattermostAPI(t)
	mmChannel, mmAlice, mmBob := model.NewId(), model.NewId(), model.NewId()
	slackPort, mmPort := freePort(t), freePort(t)
	// A real agent over the simulator: opening a restart request asks it
	// which services there are.
	agentPort := freePort(t)
	startAgent(t, filepath.Join(dir, "agent"), agentPort)
	cfg, _ := shutdownConfig(t, dir, fmt.Sprintf("http://127.0.0.1:%d", agentPort), fs.apiURL(), fm.srv.URL, mmChannel, slackPort, mmPort)

	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// As main does: SIGTERM ends serve's context.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	done := make(chan error, 1)
	go func() {
		done <- serve(ctx, cfg, log, noEnv)
	}()
	waitListening(t, slackPort)
	waitListening(t, mmPort)

	// alice opens a restart request on Mattermost.
	form := url.Values{"token": {shutMMToken}, "user_id": {mmAlice}, "user_name": {"alice"}, "channel_id": {mmChannel},
		"text": {"restart puma -- shutdown test"}}
	if a := send(mustRequest(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/mattermost/command", mmPort), "application/x-www-form-urlencoded", form.Encode())); a.err != nil || a.status != http.StatusOK {
		t.Fatalf("slash command: %+v", a)
	}
	post, actx := fm.approveContext(t)
	id, _ := actx["request_id"].(string)

	// bob clicks Approve on Mattermost and another bob types approve on
	// Slack; both handlers stop inside, each asking its own platform who
	// is an approver (a platform is asked about its own groups only).
	fs.groups.close()
	fm.members.close()
	click, _ := json.Marshal(model.PostActionIntegrationRequest{UserId: mmBob, UserName: "bob", ChannelId: mmChannel, PostId: post.Id, Context: actx})
	answers := make(chan answer, 2)
	go func() {
		answers <- send(mustRequest(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/mattermost/actions", mmPort), "application/json", string(click)))
	}()
	go func() { answers <- send(signedSlackCommand(t, slackPort, shutSlackUser, "approve "+id)) }()
	waitHeld(t, "the Slack approval at the Slack group check", &fs.groups, 1, logs)
	waitHeld(t, "the Mattermost click at the Mattermost member check", &fm.members, 1, logs)

	if err := syscall.Kill(os.Getpid(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	stillServing := func(what string) {
		t.Helper()
		select {
		case err := <-done:
			t.Fatalf("serve returned (%v) while %s", err, what)
		case <-time.After(300 * time.Millisecond):
		}
	}
	stillServing("two handlers were in flight")
	fs.groups.open()
	// The Slack command finishes; the click still waits at Mattermost's
	// member check, and serve must still wait for it.
	stillServing("the Mattermost click was in flight")
	fm.members.open()
	for range 2 {
		a := <-answers
		if a.err != nil || a.status != http.StatusOK {
			t.Errorf("an in-flight request did not get its answer: %+v", a)
		}
		if refusal.MatchString(a.body) {
			t.Errorf("an in-flight approval was refused: %s", a.body)
		}
	}
	var err error
	select {
	case err = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not return after its handlers finished")
	}
	closed := time.Now()
	if err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}

	time.Sleep(300 * time.Millisecond) // anything late would show now
	if late := append(fs.since(closed), fm.since(closed)...); len(late) > 0 {
		t.Errorf("chat API calls after serve returned: %v", late)
	}
	for _, bad := range []string{"database not open", "audit append failed", "panicked"} {
		if strings.Contains(logs.String(), bad) {
			t.Errorf("the log says %q:\n%s", bad, logs.String())
		}
	}

	db, err := storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	left, err := db.Requests(context.Background(), approvals.RequestFilter{States: []approvals.State{approvals.StateRunning, approvals.StateApproved}})
	if err != nil {
		t.Fatal(err)
	}
	if len(left) != 0 {
		t.Errorf("the next start would have %d requests to recover, though nothing ran: %+v", len(left), left)
	}
	entries, err := db.TailAudit(context.Background(), 100)
	if err != nil {
		t.Fatal(err)
	}
	decided := map[string]string{}
	for _, e := range entries {
		if e.RequestID == id && (e.Action == approvals.ActionRequestApproved || e.Action == approvals.ActionRequestRefused) {
			decided[e.Actor] = e.Action + ": " + e.Detail
		}
	}
	for _, who := range []string{"mattermost:" + mmBob, "slack:" + shutSlackUser} {
		if decided[who] == "" {
			t.Errorf("no audit entry for %s's approval in flight at shutdown; audit: %+v", who, entries)
		}
	}
	t.Logf("decisions: %v", decided)
}

// refusal matches an answer that tells the user why nothing was done
// (Slack's ephemeral text, Mattermost's ephemeral_text).
var refusal = regexp.MustCompile(`"(ephemeral_)?text":"[^"]`)

func waitHeld(t *testing.T, what string, g *gate, n int, logs *lockedBuffer) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for g.held() < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s (%d of %d)\n%s", what, g.held(), n, logs.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func mustRequest(t testing.TB, method, target, contentType, body string) *http.Request {
	t.Helper()
	req, err := http.NewRequest(method, target, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return req
}

// TestServeStopsTheOthersWhenOneAdapterFails: an adapter that cannot
// serve (its port is taken) stops the other one, and serve exits non-zero
// with the reason.
func TestServeStopsTheOthersWhenOneAdapterFails(t *testing.T) {
	dir := t.TempDir()
	fm := newFakeMattermostAPI(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	slackPort := freePort(t)
	fs := newFakeSlackAPI(t)
	_, p := shutdownConfig(t, dir, "http://127.0.0.1:1", fs.apiURL(), fm.srv.URL, model.NewId(), slackPort, taken.Addr().(*net.TCPAddr).Port)
	var stderr lockedBuffer
	done := make(chan int, 1)
	go func() { done <- run(context.Background(), []string{"serve", "--config", p}, nil, io.Discard, &stderr) }()
	var code int
	select {
	case code = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve kept running with one adapter failed")
	}
	last := strings.TrimSpace(stderr.String())
	if i := strings.LastIndex(last, "\n"); i >= 0 {
		last = last[i+1:]
	}
	if code == 0 || !strings.Contains(last, "mattermost") || !strings.Contains(last, "address already in use") {
		t.Fatalf("serve exited %d, last line %q; want non-zero and the Mattermost listener's failure", code, last)
	}
	if c, derr := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", slackPort)); derr == nil {
		c.Close()
		t.Error("the Slack listener still accepts connections after serve returned")
	}
}

// TestServeShutdownIsBoundedByGrace: a handler that never finishes (its
// chat API call hangs) does not keep serve from stopping: past
// shutdown_grace serve returns, non-zero, saying so.
func TestServeShutdownIsBoundedByGrace(t *testing.T) {
	dir := t.TempDir()
	fs := newFakeSlackAPI(t, shutSlackUser)
	fm := newFakeMattermostAPI(t)
	mmChannel, mmAlice := model.NewId(), model.NewId()
	slackPort, mmPort, agentPort := freePort(t), freePort(t), freePort(t)
	startAgent(t, filepath.Join(dir, "agent"), agentPort)
	yaml := shutdownYAML(t, dir, fmt.Sprintf("http://127.0.0.1:%d", agentPort), fs.apiURL(), fm.srv.URL, mmChannel, slackPort, mmPort) + "shutdown_grace: 1s\n"
	cfg, _ := writeServeConfig(t, dir, "bot.yaml", yaml)
	logs := &lockedBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(slog.NewJSONHandler(logs, nil)), noEnv) }()
	waitListening(t, slackPort)
	waitListening(t, mmPort)
	form := url.Values{"token": {shutMMToken}, "user_id": {mmAlice}, "user_name": {"alice"}, "channel_id": {mmChannel},
		"text": {"restart puma -- grace test"}}
	if a := send(mustRequest(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/mattermost/command", mmPort), "application/x-www-form-urlencoded", form.Encode())); a.err != nil || a.status != http.StatusOK {
		t.Fatalf("slash command: %+v", a)
	}
	_, actx := fm.approveContext(t)
	id, _ := actx["request_id"].(string)
	fs.groups.close() // opened again only when the test ends
	go send(signedSlackCommand(t, slackPort, shutSlackUser, "approve "+id))
	waitHeld(t, "the approval at the Slack group check", &fs.groups, 1, logs)

	stopping := time.Now()
	cancel()
	var err error
	select {
	case err = <-done:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve kept waiting for a hung handler past shutdown_grace (1s)\n%s", logs.String())
	}
	took := time.Since(stopping)
	if err == nil || !strings.Contains(err.Error(), "shutdown_grace (1s) passed") {
		t.Fatalf("serve returned %v; want the error that shutdown_grace passed", err)
	}
	if took > 10*time.Second {
		t.Errorf("serve took %s to stop with shutdown_grace 1s\n%s", took, logs.String())
	}
	t.Logf("stopped %s after the signal: %v", took.Round(time.Millisecond), err)
}
