package main

import (
	"bytes"
	"context"
	"github.com/gitlab-chatops/gitlab-chatops/sim"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/internal/golden"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// clearChatEnv keeps secrets of the developer's environment out of tests
// that expect them missing.
func clearChatEnv(t *testing.T) {
	t.Helper()
	for _, k := range []string{"SLACK_BOT_TOKEN", "SLACK_SIGNING_SECRET", "SLACK_APP_TOKEN",
		"MATTERMOST_BOT_TOKEN", "MATTERMOST_COMMAND_TOKENS", "MATTERMOST_ACTION_SECRET"} {
		t.Setenv(k, "")
	}
	// The audit key is required everywhere; tests about other keys get one.
	t.Setenv(envAuditKey, "test-audit-key-0123456789abcdef0123456789")
}

// testApprovalKey writes an approval key pair into dir and returns the
// signing key's path, for configurations about other keys.
func testApprovalKey(t *testing.T, dir string) string {
	t.Helper()
	if err := agent.GenerateApprovalKeys(dir); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, agent.ApprovalKeyFile)
}

// TestConfigCheckGolden: every mistake of testdata/bad-bot.yaml is reported
// at once, each with its line and key path, exit 2, and no secret of the
// file appears in the output.
func TestConfigCheckGolden(t *testing.T) {
	clearChatEnv(t)
	t.Setenv(envAuditKey, "")
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), []string{"config", "check", "testdata/bad-bot.yaml"}, nil, &stdout, &stderr)
	if code != 2 {
		t.Errorf("exit %d, want 2", code)
	}
	out := stderr.String()
	golden.Check(t, "bad-bot", []byte(out))
	for _, want := range []string{
		`hosts[1].agent: "gitlab-2:8443" is not an https URL`,
		`policy.request_ttl: "15" needs a unit, e.g. 15m`,
		`slack.signing_secret: missing (set it or SLACK_SIGNING_SECRET)`,
		`hosts[1].name: gitlab-1 appears twice (hosts[0] is gitlab-1 too)`,
		`policy.requesters.migarte: "migarte" is not a subcommand that needs approval; use finalize, migrate, restart`,
		`policy.aprovers: unknown key`,
		`hosts[0].ca: /nonexistent/ca.pem does not exist`,
		`listen: "8080" is not an address to listen on`,
		`shutdown_grace: "30" needs a unit, e.g. 30s`,
		`slack.listen: moved: the Slack endpoints are served on the top-level listen:`,
		`slack.api_url: "http://slack-proxy.example.com/api" is plain http; use https`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if strings.Contains(out, "LEAK") {
		t.Errorf("a secret was echoed:\n%s", out)
	}
	if n := strings.Count(out, "\n"); n < 9 {
		t.Errorf("only %d lines; want every problem", n)
	}
}

// TestPolicyFailsClosed: the policy rules of serve and the console.
func TestPolicyFailsClosed(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	store := "store: " + filepath.Join(dir, "bot.db") + "\napproval_key: " + testApprovalKey(t, dir) + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n"
	const (
		slackOK = "slack: {bot_token: xoxb-1, signing_secret: s}\n"
		mmOK    = "mattermost: {url: https://mm.example.com, bot_token: t, command_tokens: [c], action_secret: 0123456789abcdef0123456789abcdef, callback_url: https://bot.internal/mattermost/actions}\n"
		mmUser  = "8j3n5pzm1fbq7c6yy9qfg5w4xr"
	)
	cases := []struct {
		name  string
		for_  string // serve or console
		yaml  string
		want  string // "" = accepted
		warns bool
	}{
		{"typo in requesters", "console", "policy: {requesters: {migarte: [alice]}}\n",
			`policy.requesters.migarte: "migarte" is not a subcommand that needs approval; use finalize, migrate, restart`, false},
		{"read-only subcommand in requesters", "console", "policy: {requesters: {status: [alice]}}\n",
			`policy.requesters.status: "status" is not a subcommand that needs approval`, false},
		{"console keeps anyone-else-approves", "console", "policy: {}\n", "", false},
		{"serve without approvers", "serve", slackOK,
			"policy.approvers: missing: serve does not let just anyone approve", false},
		{"serve with anyone_may_approve", "serve", slackOK + "policy: {anyone_may_approve: true}\n", "", true},
		{"anyone_may_approve and approvers", "serve", slackOK + "policy: {anyone_may_approve: true, approvers: [U0AAAAAAA]}\n",
			"policy.anyone_may_approve: true contradicts approvers", false},
		{"serve with an approver group", "serve", slackOK + "policy: {approver_groups: [S0CCCCCCC]}\n", "", false},
		{"slack user ID", "serve", slackOK + "policy: {approvers: [U0AAAAAAA, W0BBBBBBB]}\n", "", false},
		{"display name on slack", "serve", slackOK + "policy: {approvers: [U0AAAAAAA, Alice Smith]}\n",
			`policy.approvers[1]: "Alice Smith" is not a Slack user ID (U… or W…)`, false},
		{"mattermost ID on slack only", "serve", slackOK + "policy: {approvers: [" + mmUser + "]}\n",
			`policy.approvers[0]: "` + mmUser + `" is not a Slack user ID`, false},
		{"slack ID on mattermost only", "serve", mmOK + "policy: {approvers: [U0AAAAAAA]}\n",
			`policy.approvers[0]: "U0AAAAAAA" is not a Mattermost user ID (26 lowercase letters and digits)`, false},
		{"both platforms take qualified IDs", "serve", slackOK + mmOK + "policy: {approvers: [slack:U0AAAAAAA, mattermost:" + mmUser + "], approver_groups: [slack:S0CCCCCCC, mattermost:" + mmUser + "], channels: [slack:C0123ABCD, mattermost:" + mmUser + "], admins: [slack:U0AAAAAAA], requesters: {migrate: [mattermost:" + mmUser + "]}}\n", "", false},
		{"both platforms, unqualified slack ID", "serve", slackOK + mmOK + "policy: {approvers: [U0AAAAAAA]}\n",
			`policy.approvers[0]: "U0AAAAAAA" is not qualified: with both Slack and Mattermost configured, say which platform it is on by writing slack: or mattermost: before it (it has the shape of a Slack user ID (U… or W…), so perhaps slack:U0AAAAAAA)`, false},
		{"both platforms, unqualified mattermost channel", "serve", slackOK + mmOK + "policy: {approvers: [slack:U0AAAAAAA], channels: [" + mmUser + "]}\n",
			`policy.channels[0]: "` + mmUser + `" is not qualified: with both Slack and Mattermost configured`, false},
		{"both platforms, a group that fits both", "serve", slackOK + mmOK + "policy: {approver_groups: [8j3n5pzm1fbq7c6yy9qfg5w4xr]}\n",
			`policy.approver_groups[0]: "8j3n5pzm1fbq7c6yy9qfg5w4xr" is not qualified: with both Slack and Mattermost configured, say which platform it is on by writing slack: or mattermost: before it (it has the shape of an ID on both Slack and Mattermost, so only you can tell)`, false},
		{"both platforms, neither shape", "serve", slackOK + mmOK + "policy: {approvers: [alice]}\n",
			`"alice" is not qualified: with both Slack and Mattermost configured, say which platform it is on by writing slack: or mattermost: before it; it has the shape of none of them either`, false},
		{"qualified by a platform not configured", "serve", slackOK + "policy: {approvers: [mattermost:" + mmUser + "]}\n",
			`policy.approvers[0]: "mattermost:` + mmUser + `" names platform "mattermost", which is not configured; qualify IDs with slack:`, false},
		{"qualified with the wrong shape", "serve", slackOK + mmOK + "policy: {approvers: [mattermost:U0AAAAAAA]}\n",
			`policy.approvers[0]: "U0AAAAAAA" is not a Mattermost user ID (26 lowercase letters and digits)`, false},
		{"console IDs in serve", "serve", slackOK + "policy: {approvers: [console:alice]}\n",
			`policy.approvers[0]: "console:alice" names platform "console", which is not configured`, false},
		{"slack qualified on slack only", "serve", slackOK + "policy: {approvers: [slack:U0AAAAAAA, U0BBBBBBB]}\n", "", false},
		{"console takes qualified console names", "console", "policy: {approvers: [console:alice, bob]}\n", "", false},
		{"slack channel name", "serve", slackOK + "policy: {approvers: [U0AAAAAAA], channels: [\"#ops\"]}\n",
			`policy.channels[0]: "#ops" is not a Slack channel ID (C… or G…)`, false},
		{"requester display name", "serve", slackOK + "policy: {approvers: [U0AAAAAAA], requesters: {migrate: [Bob]}}\n",
			`policy.requesters.migrate[0]: "Bob" is not a Slack user ID`, false},
		{"slack user ID too short", "serve", slackOK + "policy: {approvers: [U0AAAAAAA, U12]}\n",
			`policy.approvers[1]: "U12" is not a Slack user ID (U… or W…)`, false},
		{"slack user ID without digits", "serve", slackOK + "policy: {approvers: [WALTER]}\n",
			`policy.approvers[0]: "WALTER" is not a Slack user ID (U… or W…)`, false},
		// The Slack adapter resolves handles (usergroups.list).
		{"slack group handle", "serve", slackOK + "policy: {approver_groups: [dbadmins]}\n", "", false},
		{"audit key file missing", "console", "audit: {key_file: " + filepath.Join(dir, "nope.key") + "}\n",
			"audit.key_file: " + filepath.Join(dir, "nope.key") + " does not exist (create it with `openssl rand -hex 32 > ", false},
		{"admin display name", "serve", slackOK + "policy: {approvers: [U0AAAAAAA], admins: [U0AAAAAAA, Carol]}\n",
			`policy.admins[1]: "Carol" is not a Slack user ID (U… or W…)`, false},
		{"empty admin", "console", "policy: {admins: [\"\"]}\n", `policy.admins[0]: is an empty user ID`, false},
		{"console takes names", "console", "policy: {approvers: [alice], requesters: {migrate: [bob]}}\n", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(dir, strings.ReplaceAll(tc.name, " ", "-")+".yaml")
			if err := os.WriteFile(p, []byte(store+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"config", "check", "--for", tc.for_, p}, nil, &stdout, &stderr)
			if tc.want == "" {
				if code != 0 {
					t.Fatalf("refused (exit %d):\n%s", code, stderr.String())
				}
			} else if code != 2 || !strings.Contains(stderr.String(), tc.want) {
				t.Fatalf("exit %d, stderr:\n%s\nwant exit 2 and %q", code, stderr.String(), tc.want)
			}
			if warned := strings.Contains(stdout.String(), "warning: policy.anyone_may_approve"); warned != tc.warns {
				t.Errorf("warning shown: %v, want %v:\n%s", warned, tc.warns, stdout.String())
			}
		})
	}
}

// TestStartsCheckTheWholeFile: serve and console --config refuse a bad file
// with the same report as config check, exit 2, before opening anything.
func TestStartsCheckTheWholeFile(t *testing.T) {
	clearChatEnv(t)
	for _, args := range [][]string{
		{"serve", "--config", "testdata/bad-bot.yaml"},
		{"console", "--config", "testdata/bad-bot.yaml"},
	} {
		var stderr bytes.Buffer
		code := run(context.Background(), args, strings.NewReader(""), &bytes.Buffer{}, &stderr)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		out := stderr.String()
		for _, want := range []string{"testdata/bad-bot.yaml:11: hosts[1].agent:", "policy.request_ttl:", "stroe: unknown key"} {
			if !strings.Contains(out, want) {
				t.Errorf("%v: the report lacks %q:\n%s", args, want, out)
			}
		}
		// The console checks no chat platform: those sections are serve's.
		if slackReported := strings.Contains(out, "slack.signing_secret"); slackReported != (args[0] == "serve") {
			t.Errorf("%v: slack checked = %v", args, slackReported)
		}
		if strings.Contains(out, "LEAK") {
			t.Errorf("%v: a secret was echoed:\n%s", args, out)
		}
	}
}

// TestServeWarnsAnyoneMayApprove: serve starts with anyone_may_approve and
// logs it as a warning.
func TestServeWarnsAnyoneMayApprove(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "bot.yaml")
	cfg := "store: " + filepath.Join(dir, "bot.db") + "\napproval_key: " + testApprovalKey(t, dir) + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n" +
		"mattermost: {url: http://127.0.0.1:1, bot_token: t, command_tokens: [c], action_secret: 0123456789abcdef0123456789abcdef, callback_url: http://127.0.0.1:1/mattermost/actions, listen: \"127.0.0.1:0\"}\n" +
		"policy: {anyone_may_approve: true}\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr lockedBuffer
	done := make(chan int)
	go func() { done <- run(ctx, []string{"serve", "--config", p}, nil, &bytes.Buffer{}, &stderr) }()
	for !strings.Contains(stderr.String(), "gitlab-chatops serving") {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d:\n%s", code, stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
	}
	cancel()
	if code := <-done; code != 0 {
		t.Fatalf("exit %d:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), `"level":"WARN","msg":"policy.anyone_may_approve is true`) {
		t.Errorf("no warning logged:\n%s", stderr.String())
	}
}

// lockedBuffer is a bytes.Buffer that serve's goroutines and the test may
// use at once.
type lockedBuffer = simtest.LockedBuffer

// TestServeRefusesNobodyToApprove: serve itself (not only config check)
// refuses a policy that names no approvers, before opening the store.
func TestServeRefusesNobodyToApprove(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	p := filepath.Join(dir, "bot.yaml")
	store := filepath.Join(dir, "bot.db")
	cfg := "store: " + store + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n" +
		"mattermost: {url: http://127.0.0.1:1, bot_token: t, command_tokens: [c], action_secret: 0123456789abcdef0123456789abcdef, callback_url: http://127.0.0.1:1/mattermost/actions, listen: \"127.0.0.1:0\"}\n" +
		"policy: {requesters: {migrate: [0123456789abcdefghijklmnop]}}\n"
	if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	var stderr bytes.Buffer
	if code := run(context.Background(), []string{"serve", "--config", p}, nil, &bytes.Buffer{}, &stderr); code != 2 {
		t.Fatalf("exit %d, want 2:\n%s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "policy.approvers: missing: serve does not let just anyone approve") {
		t.Errorf("stderr:\n%s", stderr.String())
	}
	if _, err := os.Stat(store); err == nil {
		t.Error("serve opened the store before refusing the configuration")
	}
}

// TestConsoleHelpListsEveryScenario: --scenario's help is the simulator's
// registry, so a new scenario cannot be missing from it.
func TestConsoleHelpListsEveryScenario(t *testing.T) {
	var stdout, stderr bytes.Buffer
	run(context.Background(), []string{"console", "--help"}, nil, &stdout, &stderr)
	for _, name := range append(sim.ScenarioNames(), "decomposed-unprefixed", "decomposed-bbm-unfinished-unprefixed") {
		if !strings.Contains(stderr.String(), name) {
			t.Errorf("console --help lacks scenario %s:\n%s", name, stderr.String())
		}
	}
}

// TestConfigMattermostListenClash: a mattermost.listen that takes the
// top-level listen:'s port (the same address, or either on every address)
// is reported at mattermost.listen by config check, not left for serve to
// fail binding; a port of its own, or another host's address, passes.
func TestConfigMattermostListenClash(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	key := testApprovalKey(t, dir)
	for _, tc := range []struct {
		listen, mmListen string
		clash            bool
	}{
		{"", ":8080", true}, // listen: defaults to :8080
		{":8080", ":8080", true},
		{":8080", "127.0.0.1:8080", true},
		{"127.0.0.1:8080", "0.0.0.0:8080", true},
		{"127.0.0.1:8080", "127.0.0.1:8080", true},
		{":8080", ":8443", false},
		{"127.0.0.1:8080", "10.0.0.5:8080", false},
	} {
		t.Run(tc.listen+" "+tc.mmListen, func(t *testing.T) {
			p := filepath.Join(dir, "bot.yaml")
			cfg := "store: " + filepath.Join(dir, "bot.db") + "\napproval_key: " + key + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n" +
				"mattermost: {url: http://127.0.0.1:1, bot_token: t, command_tokens: [c], action_secret: 0123456789abcdef0123456789abcdef, callback_url: http://127.0.0.1:1/mattermost/actions, listen: \"" + tc.mmListen + "\"}\n" +
				"policy: {approvers: [0123456789abcdefghijklmnop]}\n"
			if tc.listen != "" {
				cfg += "listen: \"" + tc.listen + "\"\n"
			}
			if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"config", "check", "--for", "serve", p}, nil, &stdout, &stderr)
			reported := strings.Contains(stderr.String(), "mattermost.listen: \""+tc.mmListen+"\" takes the port of listen:")
			if tc.clash && (code != 2 || !reported) || !tc.clash && code != 0 {
				t.Fatalf("exit %d, clash reported %v, want clash %v:\n%s%s", code, reported, tc.clash, stdout.String(), stderr.String())
			}
		})
	}
}
