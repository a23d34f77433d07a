package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

// TestReauthConfig: policy.reauth takes totp or none for the subcommands
// that need approval; TOTP needs a usable key (reauth.key_file, or the
// environment), kept from other users; every problem at its key path.
func TestReauthConfig(t *testing.T) {
	clearChatEnv(t)
	t.Setenv(envReauthKey, "")
	dir := t.TempDir()
	store := "store: " + filepath.Join(dir, "bot.db") + "\napproval_key: " + testApprovalKey(t, dir) + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n"
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(p, mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("reauth.key", strings.Repeat("ab", 32)+"\n", 0o600)
	open := write("open.key", strings.Repeat("ab", 32)+"\n", 0o644)
	short := write("short.key", "tooshort\n", 0o600)
	cases := []struct {
		name string
		yaml string
		env  string
		want string // "" = accepted
	}{
		{"totp with a key file", "policy: {reauth: {migrate: totp, finalize: totp, restart: none}}\nreauth: {key_file: " + good + "}\n", "", ""},
		{"totp with the key in the environment", "policy: {reauth: {migrate: totp}}\n", strings.Repeat("cd", 32), ""},
		{"a key without totp (enrol ahead)", "reauth: {key_file: " + good + "}\n", "", ""},
		{"none needs no key", "policy: {reauth: {restart: none}}\n", "", ""},
		{"totp without a key", "policy: {reauth: {migrate: totp}}\n", "",
			"reauth.key_file: missing (set it or GITLAB_CHATOPS_REAUTH_KEY): policy.reauth.migrate asks for TOTP"},
		{"unknown method", "policy: {reauth: {migrate: sms}}\n", "", `policy.reauth.migrate: is "sms"; use totp or none`},
		{"read-only subcommand", "policy: {reauth: {status: totp}}\nreauth: {key_file: " + good + "}\n", "",
			`policy.reauth.status: "status" is not a subcommand that needs approval; use finalize, migrate, restart`},
		{"key file readable by everyone", "policy: {reauth: {migrate: totp}}\nreauth: {key_file: " + open + "}\n", "",
			"reauth.key_file: re-authentication key file " + open + " can be read by every user (mode 0644)"},
		{"key too short", "reauth: {key_file: " + short + "}\n", "", "reauth.key_file: the re-authentication key is 8 bytes; use at least 32"},
		{"key file missing", "reauth: {key_file: " + filepath.Join(dir, "nope.key") + "}\n", "",
			"reauth.key_file: " + filepath.Join(dir, "nope.key") + " does not exist (create it with `openssl rand -hex 32 > "},
		{"misspelt section key", "reauth: {keyfile: x}\n", "", "reauth.keyfile: unknown key"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv(envReauthKey, tc.env)
			stderr, refused := checkConfigCase(t, dir, tc.name, store+tc.yaml, tc.want)
			if refused && strings.Contains(stderr, strings.Repeat("ab", 16)) {
				t.Fatalf("the key was echoed:\n%s", stderr)
			}
		})
	}
}

// TestREADMEReauthPolicy: the README's example of "Approver
// re-authentication (TOTP)" is a valid configuration once its key file
// exists, and its lockout line is what the bot says.
func TestREADMEReauthPolicy(t *testing.T) {
	clearChatEnv(t)
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, ok := strings.Cut(string(b), "### Approver re-authentication (TOTP)\n")
	if !ok {
		t.Fatal("the README has no section on re-authentication")
	}
	_, block, _ := strings.Cut(section, "```yaml\n")
	block, _, _ = strings.Cut(block, "```")
	dir := t.TempDir()
	key := filepath.Join(dir, "reauth.key")
	if err := os.WriteFile(key, []byte(strings.Repeat("ab", 32)), 0o600); err != nil {
		t.Fatal(err)
	}
	block = strings.Replace(block, "/etc/gitlab-chatops/reauth.key", key, 1)
	store := "store: " + filepath.Join(dir, "bot.db") + "\napproval_key: " + testApprovalKey(t, dir) + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n"
	p := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(p, []byte(store+block), 0o600); err != nil {
		t.Fatal(err)
	}
	var stdout, stderr bytes.Buffer
	if code := run(context.Background(), []string{"config", "check", "--for", "console", p}, nil, &stdout, &stderr); code != 0 {
		t.Fatalf("the README's example is refused (exit %d):\n%s", code, stderr.String())
	}
	// The lockout as the Service words it, up to the time it names.
	ctx := context.Background()
	mem := &approvalstest.Store{}
	svc, err := approvals.NewService(mem, approvals.Policy{Reauth: map[string]string{"migrate": approvals.ReauthTOTP}}, approvals.WithReauth(mem, approvalstest.ReauthKey, nil))
	if err != nil {
		t.Fatal(err)
	}
	bob := approvals.User{ID: "console:bob", Name: "bob"}
	k, err := svc.Enroll(ctx, bob, "")
	if err != nil {
		t.Fatal(err)
	}
	r, err := svc.Open(ctx, approvals.NewRequest{Platform: "console", Channel: "ops", Host: "gitlab-1", Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"}, Requester: approvals.User{ID: "console:alice"}})
	if err != nil {
		t.Fatal(err)
	}
	wrong := approvalstest.WrongCode(k.Secret(), time.Now())
	var last error
	for range approvals.MaxWrongCodes {
		_, last = svc.Reauthenticate(ctx, r.ID, bob, wrong)
	}
	said, _, _ := strings.Cut(last.Error(), " until ")
	if !errors.Is(last, approvals.ErrLockedOut) || !strings.Contains(section, said+" until ") {
		t.Fatalf("the README's lockout line is not what the bot says: %q", said)
	}
}
