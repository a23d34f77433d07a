package main

import (
	"bufio"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pquerna/otp/totp"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
)

// The secrets of TestServeLogsNoSecrets, each distinct and long enough
// that finding one in the log cannot be chance.
const (
	secSlackSigning  = "slack-signing-secret-0f3a9c1e7b2d4a6f"
	secSlackBot      = "xoxb-0000000000-1111111111-slackbotsecretvalue"
	secMMBot         = "mattermost-bot-token-secret-7e1d2c3b4a59"
	secMMCommand     = "mattermost-command-token-secret-5b6c7d8e9f"
	secMMAction      = "mattermost-action-secret-0123456789abcdef0123456789abcdef"
	secAuditKey      = "audit-key-secret-a1b2c3d4e5f60718293a4b5c6d7e8f90"
	secReauthKey     = "reauth-key-secret-0a9b8c7d6e5f4a3b2c1d0e9f8a7b6c5d"
	secSlackAlice    = "U0SLACKALI"
	secSlackApprover = "U0SLACKBOB"
)

// slackSigned is a slash command as Slack sends it, signed with secret.
func slackSigned(t *testing.T, port int, secret, user, text string) *http.Request {
	t.Helper()
	body := url.Values{"command": {"/gitlab-migrations"}, "text": {text}, "user_id": {user}, "user_name": {strings.ToLower(user[len(user)-3:])},
		"channel_id": {"C0SECRETS1"}, "team_id": {"T0SECRETS1"}, "trigger_id": {"1.2.3"}}.Encode()
	req := mustRequest(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d%s", port, slack.PathCommands), "application/x-www-form-urlencoded", body)
	ts := strconv.FormatInt(time.Now().Unix(), 10)
	m := hmac.New(sha256.New, []byte(secret))
	m.Write([]byte("v0:" + ts + ":" + body))
	req.Header.Set(slack.HeaderTimestamp, ts)
	req.Header.Set(slack.HeaderSignature, "v0="+hex.EncodeToString(m.Sum(nil)))
	return req
}

// auditThroughBot reads the running bot's audit trail as an operator
// would, with `audit tail` (through its admin socket).
func auditThroughBot(t *testing.T, store string) []approvals.AuditEntry {
	t.Helper()
	r := runCLI(t, "audit", "tail", "--db", store, "-n", "100000")
	if r.code != 0 {
		t.Fatalf("audit tail beside the running bot: %+v", r)
	}
	var out []approvals.AuditEntry
	sc := bufio.NewScanner(strings.NewReader(r.stdout))
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		var e approvals.AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("audit tail line %q: %v", sc.Text(), err)
		}
		out = append(out, e)
	}
	return out
}

// TestServeLogsNoSecrets runs a whole serve (Slack and Mattermost fakes,
// a real agent over the simulator) through a status on each platform, a migrate request,
// its approval and run, a `show`, a Slack call with a bad signature and a
// Mattermost command with a wrong token, and the audit commands beside
// it, at debug level; then greps the entire log for every secret the bot
// holds and finds none. The log is JSON, every line about the request
// carries its request_id, and the lines of its job carry job_id.
func TestServeLogsNoSecrets(t *testing.T) {
	dir := t.TempDir()
	agentDir := filepath.Join(dir, "agent")
	agentPort := freePort(t)
	startAgentSpeed(t, agentDir, agentPort, "0")
	fs := newFakeSlackAPI(t, secSlackApprover)
	fm := newFakeMattermostAPI(t)
	slackPort, mmPort := freePort(t), freePort(t)
	store := filepath.Join(dir, "chatops.db")
	keyFile := filepath.Join(dir, "audit.key")
	if err := os.WriteFile(keyFile, []byte(secAuditKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	reauthKeyFile := filepath.Join(dir, "reauth.key")
	if err := os.WriteFile(reauthKeyFile, []byte(secReauthKey+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	approvalKey := filepath.Join(agentDir, agent.ApprovalKeyFile)
	yaml := fmt.Sprintf(`store: %s
listen: 127.0.0.1:%d
audit: {key_file: %s}
reauth: {key_file: %s}
approval_key: %s
hosts:
  - name: gitlab-sim
    agent: http://127.0.0.1:%d
policy:
  approvers: [slack:%s]
  reauth: {migrate: totp}
slack:
  mode: http
  api_url: %s
  bot_token: %s
  signing_secret: %s
mattermost:
  url: %s
  bot_token: %s
  command_tokens: [%s]
  action_secret: %s
  callback_url: http://127.0.0.1:%d/mattermost/actions
  listen: 127.0.0.1:%d
`, store, slackPort, keyFile, reauthKeyFile, approvalKey, agentPort, secSlackApprover, fs.apiURL(), secSlackBot, secSlackSigning,
		fm.srv.URL, secMMBot, secMMCommand, secMMAction, mmPort, mmPort)
	cfg, p := writeServeConfig(t, dir, "bot.yaml", yaml)
	logs := &lockedBuffer{}
	log := slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, log, noEnv) }()
	waitListening(t, slackPort)
	waitListening(t, mmPort)

	ok := func(what string, a answer) {
		t.Helper()
		if a.err != nil || a.status != http.StatusOK || refusal.MatchString(a.body) {
			t.Fatalf("%s: %+v\n%s", what, a, logs.String())
		}
	}
	ok("status", send(slackSigned(t, slackPort, secSlackSigning, secSlackAlice, "status")))
	ok("migrate", send(slackSigned(t, slackPort, secSlackSigning, secSlackAlice, "migrate -- secrets test")))
	waitAudit := func(what string, match func(approvals.AuditEntry) bool) approvals.AuditEntry {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for {
			for _, e := range auditThroughBot(t, store) {
				if match(e) {
					return e
				}
			}
			if time.Now().After(deadline) {
				t.Fatalf("no audit entry for %s\n%s", what, logs.String())
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	id := waitAudit("the migrate request", func(e approvals.AuditEntry) bool { return e.Action == approvals.ActionRequestOpened }).RequestID
	// migrate needs the approver's authenticator code (policy.reauth):
	// enrol, then approve with the current code.
	enrolled := send(slackSigned(t, slackPort, secSlackSigning, secSlackApprover, "enroll"))
	if enrolled.err != nil || enrolled.status != http.StatusOK {
		t.Fatalf("enroll: %+v", enrolled)
	}
	m := regexp.MustCompile(`secret=([A-Z2-7]+)`).FindStringSubmatch(enrolled.body)
	if m == nil {
		t.Fatalf("the enrolment reply has no otpauth secret:\n%s", enrolled.body)
	}
	totpSecret := m[1]
	code, err := totp.GenerateCode(totpSecret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ok("approve", send(slackSigned(t, slackPort, secSlackSigning, secSlackApprover, "approve "+id+" --code "+code)))
	waitAudit("the migrate's end", func(e approvals.AuditEntry) bool {
		return e.RequestID == id && e.Action == approvals.ActionRequestFinished
	})
	ok("show", send(slackSigned(t, slackPort, secSlackSigning, secSlackApprover, "show "+id)))
	if a := send(slackSigned(t, slackPort, "not-the-signing-secret", secSlackAlice, "status")); a.status != http.StatusUnauthorized {
		t.Errorf("a Slack call with a bad signature: %+v", a)
	}
	// A Mattermost status with the right token (the adapter reads the
	// token, then the router posts through the bot token).
	mmUser := model.NewId()
	good := url.Values{"token": {secMMCommand}, "user_id": {mmUser}, "user_name": {"carol"}, "channel_id": {model.NewId()}, "text": {"status"}}
	ok("mattermost status", send(mustRequest(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/mattermost/command", mmPort), "application/x-www-form-urlencoded", good.Encode())))
	waitAudit("the Mattermost status", func(e approvals.AuditEntry) bool {
		return e.Actor == "mattermost:"+mmUser && e.Action == approvals.ActionReadOnlyRun
	})
	form := url.Values{"token": {"wrong-token-0123456789"}, "user_id": {model.NewId()}, "user_name": {"mallory"}, "channel_id": {model.NewId()}, "text": {"status"}}
	if a := send(mustRequest(t, http.MethodPost, fmt.Sprintf("http://127.0.0.1:%d/mattermost/command", mmPort), "application/x-www-form-urlencoded", form.Encode())); a.status == http.StatusOK && !refusal.MatchString(a.body) {
		t.Errorf("a Mattermost command with a wrong token: %+v", a)
	}
	if r := runCLI(t, "audit", "verify", "--config", p); r.code != 0 || !strings.Contains(r.stdout, "audit trail intact") {
		t.Errorf("audit verify beside the running bot: %+v", r)
	}
	running := runCLI(t, "audit", "export", "--config", p)
	if running.code != 0 || !strings.Contains(running.stdout, `"action":"request.finished","request_id":"`+id+`"`) {
		t.Errorf("audit export beside the running bot: %+v", running)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, logs.String())
	}
	// The refused calls were audited (flushed when serve stopped), and
	// the export on the file begins with what the bot gave before.
	stopped := runCLI(t, "audit", "export", "--config", p)
	if stopped.code != 0 || strings.Count(stopped.stdout, `"action":"auth.refused"`) != 2 || !strings.HasPrefix(stopped.stdout, running.stdout) {
		t.Errorf("audit export after serve stopped: %+v", stopped)
	}
	if !strings.Contains(stopped.stdout, `"action":"request.finished","request_id":"`+id+`","host":"gitlab-sim","operation":"migrate","outcome":"succeeded"`) {
		t.Errorf("the migrate did not succeed:\n%s", stopped.stdout)
	}

	secrets := map[string]string{
		"slack.signing_secret": secSlackSigning, "slack.bot_token": secSlackBot,
		"mattermost.bot_token": secMMBot, "mattermost.command_tokens": secMMCommand, "mattermost.action_secret": secMMAction,
		"audit key": secAuditKey, "reauth key": secReauthKey, "TOTP secret": totpSecret,
	}
	pem, err := os.ReadFile(approvalKey)
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(pem), "\n") {
		if line = strings.TrimSpace(line); line != "" && !strings.HasPrefix(line, "-----") {
			secrets[fmt.Sprintf("approval key line %d", i)] = line
		}
	}
	all := logs.String()
	if len(all) < 1000 {
		t.Fatalf("the log is too short to prove anything:\n%s", all)
	}
	for name, s := range secrets {
		if strings.Contains(all, s) {
			t.Errorf("the log contains the %s", name)
		}
		// Nor a recognisable part of it (a secret cut short for
		// display): any 16 characters of it in a row.
		for i := 0; i+16 <= len(s); i++ {
			if strings.Contains(all, s[i:i+16]) {
				t.Errorf("the log contains part of the %s: %q", name, s[i:i+16])
				break
			}
		}
	}
	jobs := 0
	for _, line := range strings.Split(strings.TrimSpace(all), "\n") {
		var l map[string]any
		if err := json.Unmarshal([]byte(line), &l); err != nil {
			t.Fatalf("serve logged a line that is not JSON: %q", line)
		}
		// The adapters log each inbound command as typed ("slash
		// command", text "approve ID"): the command's line, before any
		// request is looked up. Every other line naming the request is
		// the router's, and carries request_id.
		if strings.Contains(line, id) && l["request_id"] != id && l["msg"] != "slash command" {
			t.Errorf("a line about request %s lacks its request_id: %s", id, line)
		}
		if _, ok := l["job_id"]; ok && l["request_id"] == id {
			jobs++
		}
	}
	if jobs == 0 {
		t.Errorf("no line of request %s's job carries job_id:\n%s", id, all)
	}
}
