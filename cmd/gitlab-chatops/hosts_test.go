package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// TestConfigHostsNamesAndDefault: each mistake of the hosts section is
// reported at the key it is about, with its line; a single host and
// several hosts with no default or one default are accepted.
func TestConfigHostsNamesAndDefault(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	head := "store: " + filepath.Join(dir, "bot.db") + "\napproval_key: " + testApprovalKey(t, dir) + "\nhosts:\n"
	host := func(name, extra string) string {
		return "  - name: " + name + "\n    agent: \"http://127.0.0.1:1\"\n" + extra
	}
	const def = "    default: true\n"
	cases := []struct {
		name  string
		hosts string
		want  string // "" = accepted
	}{
		{"one host", host("gitlab-1", ""), ""},
		{"one host marked default", host("gitlab-1", def), ""},
		{"two hosts, none default", host("gitlab-1", "") + host("gitlab-2", ""), ""},
		{"two hosts, one default", host("gitlab-1", "") + host("gitlab-2", def), ""},
		{"two defaults", host("gitlab-1", def) + host("gitlab-2", "") + host("gitlab-3", def),
			":11: hosts[2].default: gitlab-3 is marked default, and so is gitlab-1 (hosts[0]): exactly one host may be the default; remove default: true from all but one"},
		{"default not a boolean", host("gitlab-1", "    default: yes please\n"),
			":6: hosts[0].default: expected true or false"},
		{"duplicate name", host("gitlab-1", "") + host("gitlab-1", ""),
			":6: hosts[1].name: gitlab-1 appears twice (hosts[0] is gitlab-1 too): give each host its own name"},
		{"name all", host("all", ""),
			`:4: hosts[0].name: "all" is reserved: --host all means every host; choose another name`},
		{"name ALL", host("gitlab-1", "") + host("ALL", ""),
			`:6: hosts[1].name: "ALL" is reserved`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			stderr, refused := checkConfigCase(t, dir, tc.name, head+tc.hosts, tc.want)
			if n := strings.Count(stderr, "\n"); refused && n != 2 {
				t.Errorf("want the one problem, got:\n%s", stderr)
			}
		})
	}
}

// TestConfigHostAgentURL: config check and the agent client hold an
// agent's URL to one rule (https; plain http only on loopback; no user,
// query or fragment), so a URL config check accepts never fails serve at
// start, and the other way round.
func TestConfigHostAgentURL(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	key := testApprovalKey(t, dir)
	for _, tc := range []struct {
		url  string
		want string // the problem at hosts[0].agent; "" = none
	}{
		{"http://127.0.0.1:1", ""},
		{"http://[::1]:1/", ""},
		{"http://localhost:1", ""},
		{"https://gitlab-1.example.com:8443", ""},
		{"http://gitlab-1.example.com:8443", `"http://gitlab-1.example.com:8443" is plain http; use https (plain http only on a loopback host: 127.0.0.1, ::1, localhost)`},
		{"https://gitlab-1.example.com:8443/?debug=1", `"https://gitlab-1.example.com:8443/?debug=1" is not an https URL, e.g. https://gitlab-1.example.com:8443`},
		{"https://bot:pw@gitlab-1.example.com:8443", `is not an https URL`},
		{"gitlab-2:8443", `"gitlab-2:8443" is not an https URL`},
		{"ftp://gitlab-1.example.com", `is not an https URL`},
	} {
		t.Run(tc.url, func(t *testing.T) {
			p := filepath.Join(dir, "bot.yaml")
			cfg := "store: " + filepath.Join(dir, "bot.db") + "\napproval_key: " + key +
				"\nhosts:\n  - name: gitlab-1\n    agent: \"" + tc.url + "\"\n"
			if err := os.WriteFile(p, []byte(cfg), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			run(context.Background(), []string{"config", "check", "--for", "console", p}, nil, &stdout, &stderr)
			atAgent := ""
			for _, l := range strings.Split(stderr.String(), "\n") {
				if _, after, ok := strings.Cut(l, "hosts[0].agent: "); ok {
					atAgent = after
				}
			}
			_, clientErr := agent.NewClient(agent.ClientConfig{URL: tc.url})
			clientURLErr := ""
			if clientErr != nil && strings.HasPrefix(clientErr.Error(), "agent client: URL: ") {
				clientURLErr = strings.TrimPrefix(clientErr.Error(), "agent client: URL: ")
			}
			if tc.want == "" {
				if atAgent != "" || clientURLErr != "" {
					t.Fatalf("refused: config check %q, client %q", atAgent, clientURLErr)
				}
				return
			}
			if !strings.Contains(atAgent, tc.want) {
				t.Errorf("config check at hosts[0].agent: %q, want %q\n%s", atAgent, tc.want, stderr.String())
			}
			if clientURLErr != atAgent {
				t.Errorf("agent client: %q, config check: %q: one rule must give one answer", clientErr, atAgent)
			}
		})
	}
}
