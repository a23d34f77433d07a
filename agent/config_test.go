package agent

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// configFixture writes a valid configuration's files and returns a YAML
// template with {{certs}}, {{fake}} and {{state}} filled in.
func configFixture(t *testing.T) (certs, fake, state string) {
	t.Helper()
	return testCerts(t), fakeGitLab(t, map[string]fakeBehavior{}), t.TempDir()
}

func fill(tmpl, certs, fake, state string) []byte {
	r := strings.NewReplacer("{{certs}}", certs, "{{fake}}", fake, "{{state}}", state)
	return []byte(r.Replace(tmpl))
}

const validYAML = `
name: gitlab-1
approval_public_key: {{certs}}/approval-pub.pem
listen: "127.0.0.1:8443"
tls:
  cert: {{certs}}/agent.pem
  key: {{certs}}/agent-key.pem
  client_ca: {{certs}}/ca.pem
  allowed_clients: [gitlab-chatops-bot]
gitlab_rake: {{fake}}/gitlab-rake
gitlab_ctl: {{fake}}/gitlab-ctl
state_dir: {{state}}
timeouts:
  migrate: 6h
  services: 30s
max_read_only_jobs: 2
max_log_bytes: 64MiB
kill_grace: 15s
keep_jobs: 100
`

func TestParseConfigValid(t *testing.T) {
	certs, fake, state := configFixture(t)
	cfg, err := ParseConfig(fill(validYAML, certs, fake, state))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8443" || cfg.Insecure || cfg.TLS.AllowedClients[0] != BotName {
		t.Errorf("cfg = %+v", cfg)
	}
	if cfg.Timeouts["migrate"] != 6*time.Hour || cfg.MaxReadOnlyJobs != 2 || cfg.MaxLogBytes != 64<<20 ||
		cfg.KillGrace != 15*time.Second || cfg.KeepJobs != 100 || cfg.ShutdownGrace != DefaultShutdownGrace {
		t.Errorf("values not applied: %+v", cfg)
	}
	if cfg.Rake.Path != fake+"/gitlab-rake" || cfg.Sudo != "" {
		t.Errorf("programs: %+v %q", cfg.Rake, cfg.Sudo)
	}

	// Defaults, and the file loader.
	minimal := "name: gitlab-1\napproval_public_key: {{certs}}/approval-pub.pem\nlisten: 0.0.0.0:8443\ntls: {cert: {{certs}}/agent.pem, key: {{certs}}/agent-key.pem, client_ca: {{certs}}/ca.pem}\n" +
		"gitlab_rake: {{fake}}/gitlab-rake\ngitlab_ctl: {{fake}}/gitlab-ctl\nstate_dir: {{state}}\n"
	path := filepath.Join(t.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, fill(minimal, certs, fake, state), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = LoadConfig(path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.MaxReadOnlyJobs != 4 || cfg.MaxLogBytes != 256<<20 || cfg.KillGrace != 10*time.Second || cfg.KeepJobs != 500 {
		t.Errorf("defaults: %+v", cfg)
	}
}

func TestParseConfigErrors(t *testing.T) {
	certs, fake, state := configFixture(t)
	base := fill(validYAML, certs, fake, state)
	edit := func(old, new string) []byte {
		if !strings.Contains(string(base), old) {
			t.Fatalf("fixture lacks %q", old)
		}
		return []byte(strings.Replace(string(base), old, new, 1))
	}
	cases := []struct {
		name string
		yaml []byte
		want []string // substrings of the error
	}{
		{"insecure on a non-loopback address", edit("listen: \"127.0.0.1:8443\"", "listen: \"0.0.0.0:8443\"\ninsecure: true"),
			[]string{"insecure", "loopback"}},
		{"insecure on an empty host", []byte("insecure: true\nlisten: \":8765\"\nstate_dir: /tmp/x\n"), []string{"insecure", "loopback"}},
		{"unknown key", edit("kill_grace:", "kill_grcae:"), []string{"kill_grcae: unknown key; the keys here are"}},
		{"unknown nested key", edit("  client_ca:", "  client_cert:"), []string{"client_cert"}},
		{"missing tls file", edit(certs+"/agent.pem", certs+"/missing.pem"), []string{"tls.cert", "missing.pem"}},
		{"no tls section", []byte("listen: 0.0.0.0:8443\nstate_dir: /tmp/x\n"), []string{"tls.cert: missing", "tls.key: missing", "tls.client_ca: missing"}},
		{"key that does not match", edit(certs+"/agent-key.pem", certs+"/bot-key.pem"), []string{"tls.key:", "do not form a certificate and matching key"}},
		{"bad duration", edit("kill_grace: 15s", "kill_grace: 15"), []string{`kill_grace: "15" needs a unit, e.g. 15s`}},
		{"unknown operation in timeouts", edit("services: 30s", "servics: 30s"), []string{"timeouts.servics", "unknown operation"}},
		{"negative timeout", edit("migrate: 6h", "migrate: -1h"), []string{"timeouts.migrate", "positive"}},
		{"bad size", edit("64MiB", "lots"), []string{"max_log_bytes"}},
		{"zero read-only jobs", edit("max_read_only_jobs: 2", "max_read_only_jobs: 0"), []string{"max_read_only_jobs"}},
		{"relative program", edit(fake+"/gitlab-rake", "gitlab-rake"), []string{"gitlab_rake", "absolute"}},
		{"missing program", edit(fake+"/gitlab-ctl", fake+"/nope"), []string{"gitlab_ctl"}},
		{"no state_dir", edit("state_dir: "+state, ""), []string{"state_dir: missing"}},
		{"no listen", edit("listen: \"127.0.0.1:8443\"", ""), []string{"listen: missing"}},
		{"bad listen", edit("127.0.0.1:8443", "127.0.0.1"), []string{"listen"}},
		{"wrong type", edit("keep_jobs: 100", "keep_jobs: many"), []string{"keep_jobs: expected a whole number"}},
		{"empty file", []byte(""), []string{"empty"}},
		{"no name", edit("name: gitlab-1\n", ""), []string{"name", "missing", "hosts[].name"}},
		{"no approval key", edit("approval_public_key: "+certs+"/approval-pub.pem\n", ""), []string{"approval_public_key", "missing", "--approval-keys"}},
		{"approval key is a certificate", edit(certs+"/approval-pub.pem", certs+"/ca.pem"), []string{"approval_public_key", "CERTIFICATE"}},
		{"approval key is the private key", edit(certs+"/approval-pub.pem", certs+"/approval-key.pem"), []string{"approval_public_key", "PRIVATE KEY"}},
		{"approval key missing", edit(certs+"/approval-pub.pem", certs+"/nope.pem"), []string{"approval_public_key", "nope.pem"}},
	}
	for _, tc := range cases {
		_, err := ParseConfig(tc.yaml)
		if err == nil {
			t.Errorf("%s: accepted", tc.name)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q lacks %q", tc.name, err, w)
			}
		}
		if strings.Contains(err.Error(), "fileConfig") {
			t.Errorf("%s: error shows Go type names: %q", tc.name, err)
		}
	}

	// Insecure on loopback is fine, and defaults its address.
	cfg, err := ParseConfig(fill("name: dev\napproval_public_key: {{certs}}/approval-pub.pem\ninsecure: true\ngitlab_rake: {{fake}}/gitlab-rake\ngitlab_ctl: {{fake}}/gitlab-ctl\nstate_dir: {{state}}\n", certs, fake, state))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != DefaultInsecureListen {
		t.Errorf("insecure listen = %q", cfg.Listen)
	}
}

func TestParseByteSize(t *testing.T) {
	for in, want := range map[string]int64{"4096": 4096, "256MiB": 256 << 20, "1GiB": 1 << 30, "10K": 10 << 10, "2 MB": 2 << 20, "7B": 7} {
		got, err := parseByteSize(in)
		if err != nil || got != want {
			t.Errorf("parseByteSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "1.5GiB", "12 parsecs", "99999999999999999999"} {
		if _, err := parseByteSize(in); err == nil {
			t.Errorf("parseByteSize(%q) accepted", in)
		}
	}
}

// The shipped example must stay a valid configuration (unknown keys are
// errors, so a renamed key would break it).
func TestExampleConfigParses(t *testing.T) {
	data, err := os.ReadFile("../packaging/agent.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	certs, fake, state := configFixture(t)
	sudoDir := t.TempDir()
	if err := os.Symlink(fakeBin, filepath.Join(sudoDir, "sudo")); err != nil {
		t.Fatal(err)
	}
	yaml := strings.NewReplacer(
		"/etc/gitlab-chatops-agent/", certs+"/",
		"/opt/gitlab/bin/", fake+"/",
		"/usr/bin/sudo", filepath.Join(sudoDir, "sudo"),
		"/var/lib/gitlab-chatops-agent", state,
	).Replace(string(data))
	cfg, err := ParseConfig([]byte(yaml))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "0.0.0.0:8443" || cfg.Sudo == "" || cfg.MaxLogBytes != 256<<20 || cfg.Timeouts["finalize"] != 12*time.Hour {
		t.Errorf("example parsed as %+v", cfg)
	}
}
