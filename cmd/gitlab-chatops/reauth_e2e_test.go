package main

import (
	"fmt"
	"net/http"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pquerna/otp/totp"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
)

// TestServeReauthSlackModal: serve with policy.reauth on Slack, as an
// approver lives it: enrol (the secret in the ephemeral answer, the QR
// code by DM); a click on Approve opens a modal (views.open) and approves
// nothing; a wrong code submitted in it is refused on the field; the
// right one approves, and migrate runs once.
func TestServeReauthSlackModal(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	fs := newFakeSlackAPI(t)
	port, agentPort := freePort(t), freePort(t)
	agentDir := filepath.Join(dir, "agent")
	startAgentSpeed(t, agentDir, agentPort, "0")
	store := filepath.Join(dir, "chatops.db")
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
  reauth: {migrate: totp, restart: none}
slack:
  mode: http
  api_url: %s
  bot_token: xoxb-reauth-test
  signing_secret: %s
`, store, port, writeAuditKey(t, dir), reauthKeyFile(t, dir), filepath.Join(agentDir, agent.ApprovalKeyFile), agentPort, r1SlackBob, fs.apiURL(), shutSlackSecret)
	cfg, _ := writeServeConfig(t, dir, "bot.yaml", yaml)
	logs := &lockedBuffer{}
	stop := startServe(t, cfg, logs)
	defer stop()
	waitListening(t, port)
	base := fmt.Sprintf("http://127.0.0.1:%d", port)
	post := func(path, body string) answer {
		t.Helper()
		req := mustRequest(t, http.MethodPost, base+path, "application/x-www-form-urlencoded", body)
		signSlack(req, shutSlackSecret, time.Now(), body)
		a := sendWith(http.DefaultClient, req)
		if a.err != nil || a.status != http.StatusOK {
			t.Fatalf("POST %s: %+v\n%s", path, a, logs.String())
		}
		return a
	}
	entries := func() []string {
		var out []string
		for _, e := range auditThroughBot(t, store) {
			out = append(out, e.Action)
		}
		return out
	}
	waitFor := func(what string, ok func([]approvals.AuditEntry) bool) []approvals.AuditEntry {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Millisecond) {
			if es := auditThroughBot(t, store); ok(es) {
				return es
			}
			if time.Now().After(deadline) {
				t.Fatalf("no %s in the audit trail: %v\n%s", what, entries(), logs.String())
			}
		}
	}

	start := time.Now()
	enrolled := post(slack.PathCommands, slackSlash(r1SlackBob, "enroll"))
	m := regexp.MustCompile(`secret=([A-Z2-7]+)`).FindStringSubmatch(enrolled.body)
	if m == nil || !strings.Contains(enrolled.body, `"response_type":"ephemeral"`) {
		t.Fatalf("the enrolment answer is not an ephemeral one with the secret:\n%s", enrolled.body)
	}
	secret := m[1]
	waitFor("the enrolment", func(es []approvals.AuditEntry) bool {
		return slices.ContainsFunc(es, func(e approvals.AuditEntry) bool { return e.Action == approvals.ActionReauthEnrolled })
	})

	post(slack.PathCommands, slackSlash("U0R1ALICE1", "migrate -- reauth e2e"))
	es := waitFor("the request", func(es []approvals.AuditEntry) bool {
		return slices.ContainsFunc(es, func(e approvals.AuditEntry) bool { return e.Action == approvals.ActionRequestOpened })
	})
	id := es[slices.IndexFunc(es, func(e approvals.AuditEntry) bool { return e.Action == approvals.ActionRequestOpened })].RequestID

	post(slack.PathInteractions, slackClick(r1SlackBob, "approve", id))
	opened := func() bool { return slices.Contains(fs.since(start), "POST /api/views.open") }
	for deadline := time.Now().Add(10 * time.Second); !opened() && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
	}
	if !opened() {
		t.Fatalf("a click on Approve opened no modal; Slack was called with %v", fs.since(start))
	}
	if slices.Contains(entries(), approvals.ActionRequestApproved) {
		t.Fatal("a click without a code approved the request")
	}

	wrong := "000000"
	if c, _ := totp.GenerateCode(secret, time.Now()); c == wrong {
		wrong = "111111"
	}
	refused := post(slack.PathInteractions, slackSubmission(r1SlackBob, id, wrong))
	if !strings.Contains(refused.body, `"response_action":"errors"`) || !strings.Contains(refused.body, "not the current code") {
		t.Fatalf("a wrong code in the modal: %s; want the error on its field", refused.body)
	}
	code, err := totp.GenerateCode(secret, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	post(slack.PathInteractions, slackSubmission(r1SlackBob, id, code))
	es = waitFor("the migrate's end", func(es []approvals.AuditEntry) bool {
		return slices.ContainsFunc(es, func(e approvals.AuditEntry) bool {
			return e.RequestID == id && e.Action == approvals.ActionRequestFinished
		})
	})
	var got []string
	for _, e := range es {
		if strings.HasPrefix(e.Action, "reauth.") || e.RequestID == id && e.Action != approvals.ActionRequestJob && e.Action != approvals.ActionReadOnlyRun && !strings.HasPrefix(e.Action, "job.") {
			got = append(got, e.Action+" "+e.Outcome)
		}
	}
	want := []string{"reauth.enrolled ", "request.opened pending", "reauth.failed refused", "reauth.verified accepted", "request.approved approved", "request.started running", "request.finished succeeded"}
	if !slices.Equal(got, want) {
		t.Fatalf("audit trail of the request:\n got %q\nwant %q", got, want)
	}
}
