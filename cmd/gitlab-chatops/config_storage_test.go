package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// TestConfigStorage: the storage: section (and the short store: form) as
// config check reads it for serve and for the console: every new key, the
// defaults, and each bad value reported at its key path with what to do.
func TestConfigStorage(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	if err := agent.GenerateCerts(dir, nil, time.Hour); err != nil {
		t.Fatal(err)
	}
	ca, cert, key := filepath.Join(dir, agent.CAFile), filepath.Join(dir, agent.BotFile), filepath.Join(dir, agent.BotKeyFile)
	notPEM := filepath.Join(dir, "not.pem")
	if err := os.WriteFile(notPEM, []byte("not a certificate\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "bot.db")
	base := "approval_key: " + filepath.Join(dir, agent.ApprovalKeyFile) + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n" +
		"slack: {bot_token: xoxb-1, signing_secret: s}\npolicy: {approvers: [U0AAAAAAA]}\n"
	tlsOK := "  tls: {ca: " + ca + ", cert: " + cert + ", key: " + key + "}\n"
	etcdOK := "storage:\n  backend: etcd\n  endpoints: [https://etcd-1.example.com:2379, https://etcd-2.example.com:2379]\n" + tlsOK
	cases := []struct {
		name, for_, yaml string
		want             []string // problems; nil = accepted
	}{
		{"short form", "serve", "store: " + db + "\n", nil},
		{"bolt section", "serve", "storage: {backend: bolt, path: " + db + "}\n", nil},
		{"bolt is the default backend", "console", "storage: {path: " + db + "}\n", nil},
		{"etcd for serve", "serve", etcdOK + "  prefix: /chatops-prod/\n  lease_ttl: 15s\n", nil},
		{"etcd on loopback without TLS", "serve", "storage: {backend: etcd, endpoints: [\"http://127.0.0.1:2379\", \"http://[::1]:2379\"]}\n", nil},
		{"nothing", "serve", "", []string{"store: missing: the bbolt file for requests and audit, e.g. /var/lib/gitlab-chatops/chatops.db (or a storage: section"}},
		{"both forms", "serve", "store: " + db + "\nstorage: {path: " + db + "}\n",
			[]string{"store: given together with storage:; keep one (store: PATH is the short form of storage: {backend: bolt, path: PATH})"}},
		{"unknown backend", "serve", "storage: {backend: consul}\n",
			[]string{`storage.backend: "consul" is not a backend: use bolt (one bbolt file on this machine, the default) or etcd (several replicas)`}},
		{"unknown key", "serve", "storage: {backend: etcd, endpoint: [\"http://127.0.0.1:2379\"]}\n",
			[]string{"storage.endpoint: unknown key; the keys here are backend, endpoints, lease_ttl, path, prefix, tls", "storage.endpoints: missing"}},
		{"bolt without path", "serve", "storage: {backend: bolt}\n", []string{"storage.path: missing: the bbolt file"}},
		{"etcd keys on bolt", "serve", "storage: {path: " + db + ", endpoints: [\"http://127.0.0.1:2379\"], prefix: /x/, lease_ttl: 5s, tls: {ca: " + ca + "}}\n",
			[]string{"storage.endpoints: only for backend: etcd; remove it, or set storage.backend: etcd", "storage.tls: only for backend: etcd", "storage.prefix: only for backend: etcd", "storage.lease_ttl: only for backend: etcd"}},
		{"etcd without endpoints", "serve", "storage: {backend: etcd}\n",
			[]string{"storage.endpoints: missing: etcd's client URLs, e.g. [https://etcd-1.example.com:2379, "}},
		{"etcd endpoint with a path", "serve", "storage: {backend: etcd, endpoints: [\"http://127.0.0.1:2379/v3\"]}\n",
			[]string{`storage.endpoints[0]: "http://127.0.0.1:2379/v3": an etcd endpoint is scheme://host:port and nothing more, e.g. https://etcd-1.example.com:2379`}},
		{"etcd endpoint without port", "serve", "storage: {backend: etcd, endpoints: [\"http://127.0.0.1\"]}\n",
			[]string{`storage.endpoints[0]: "http://127.0.0.1": an etcd endpoint is scheme://host:port`}},
		{"etcd endpoint not a URL", "serve", "storage: {backend: etcd, endpoints: [\"etcd-1:2379\"]}\n",
			[]string{`storage.endpoints[0]: "etcd-1:2379"`}},
		{"etcd plain http off loopback", "serve", "storage: {backend: etcd, endpoints: [\"http://etcd-1.example.com:2379\"]}\n",
			[]string{`storage.endpoints[0]: "http://etcd-1.example.com:2379" is plain http`}},
		{"etcd endpoint twice", "serve", "storage: {backend: etcd, endpoints: [\"http://127.0.0.1:2379\", \"http://127.0.0.1:2379\"]}\n",
			[]string{`storage.endpoints[1]: "http://127.0.0.1:2379" appears twice (storage.endpoints[0] is the same); list each member once`}},
		{"etcd mixed schemes", "serve", "storage:\n  backend: etcd\n  endpoints: [https://etcd-1.example.com:2379, \"http://127.0.0.1:2379\"]\n" + tlsOK,
			[]string{`storage.endpoints[1]: "http://127.0.0.1:2379" is http while the endpoints before it are https: use one scheme for all (https with storage.tls)`}},
		{"etcd https without CA", "serve", "storage: {backend: etcd, endpoints: [\"https://etcd-1.example.com:2379\", \"https://etcd-2.example.com:2379\"]}\n",
			[]string{"storage.tls.ca: missing: the CA that signed etcd's server certificates (the endpoints are https)"}},
		{"etcd http with TLS", "serve", "storage:\n  backend: etcd\n  endpoints: [\"http://127.0.0.1:2379\"]\n" + tlsOK,
			[]string{`storage.tls: set, but the endpoints are plain http (a development etcd on loopback): use https:// endpoints, or remove storage.tls`}},
		{"etcd TLS files missing", "serve", "storage:\n  backend: etcd\n  endpoints: [https://etcd-1.example.com:2379]\n  tls: {ca: " + dir + "/nope-ca.pem, cert: " + dir + "/nope.pem, key: " + dir + "/nope-key.pem}\n",
			[]string{"storage.tls.ca: " + dir + "/nope-ca.pem does not exist", "storage.tls.cert: " + dir + "/nope.pem does not exist", "storage.tls.key: " + dir + "/nope-key.pem does not exist"}},
		{"etcd cert without key", "serve", "storage:\n  backend: etcd\n  endpoints: [https://etcd-1.example.com:2379]\n  tls: {ca: " + ca + ", cert: " + cert + "}\n",
			[]string{"storage.tls.key: missing: storage.tls.cert is set, and a client certificate and its key go together"}},
		{"etcd CA not PEM", "serve", "storage:\n  backend: etcd\n  endpoints: [https://etcd-1.example.com:2379]\n  tls: {ca: " + notPEM + "}\n",
			[]string{"storage.tls: tls.ca " + notPEM + ": no PEM certificate in it"}},
		{"etcd key not the cert's", "serve", "storage:\n  backend: etcd\n  endpoints: [https://etcd-1.example.com:2379]\n  tls: {ca: " + ca + ", cert: " + cert + ", key: " + filepath.Join(dir, agent.AgentKeyFile) + "}\n",
			[]string{"storage.tls: tls.cert/tls.key: "}},
		{"etcd path", "serve", etcdOK + "  path: " + db + "\n", []string{"storage.path: only for backend: bolt; etcd keeps everything under storage.prefix"}},
		{"etcd and store", "serve", etcdOK + "store: " + db + "\n", []string{"store: given together with storage:"}},
		{"etcd admin socket", "serve", etcdOK + "admin_socket: /run/x.sock\n",
			[]string{"admin_socket: only for the bolt store (the socket answers while serve holds the file's lock); with etcd, audit verify|export|tail read etcd directly with --config: remove it"}},
		{"etcd for the console", "console", "storage: {backend: etcd, endpoints: [\"http://127.0.0.1:2379\"]}\n",
			[]string{"storage.backend: the console runs on a bbolt file only (store: PATH); etcd is for serve's replicas"}},
		{"prefix without slashes", "serve", etcdOK + "  prefix: chatops\n", []string{`storage.prefix: "chatops" must start and end with /, e.g. /gitlab-chatops/`}},
		{"prefix the whole keyspace", "serve", etcdOK + "  prefix: /\n", []string{`storage.prefix: "/" is the whole keyspace; give the bot a prefix of its own, e.g. /gitlab-chatops/`}},
		{"prefix with a space", "serve", etcdOK + "  prefix: \"/chat ops/\"\n", []string{`storage.prefix: "/chat ops/" has a space or control character`}},
		{"lease_ttl without unit", "serve", etcdOK + "  lease_ttl: 10\n", []string{`storage.lease_ttl: "10" needs a unit, e.g. 10s`}},
		{"lease_ttl too short", "serve", etcdOK + "  lease_ttl: 1s\n", []string{`storage.lease_ttl: "1s" is below 2s: a replica's lease would expire between two renewals; the default is 10s`}},
		{"lease_ttl fractional", "serve", etcdOK + "  lease_ttl: 2500ms\n", []string{`storage.lease_ttl: "2500ms" is not a whole number of seconds (etcd's leases count seconds), e.g. 10s`}},
		{"every etcd problem at once", "serve", "storage: {backend: etcd, prefix: x, lease_ttl: soon}\nadmin_socket: /run/x.sock\n",
			[]string{"storage.endpoints: missing", "storage.prefix: \"x\" must start", "storage.lease_ttl: \"soon\" is not a duration", "admin_socket: only for the bolt store"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bot.yaml")
			if err := os.WriteFile(p, []byte(base+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			code := run(context.Background(), []string{"config", "check", "--for", tc.for_, p}, nil, &stdout, &stderr)
			if tc.want == nil {
				if code != 0 {
					t.Fatalf("refused (exit %d):\n%s", code, stderr.String())
				}
				return
			}
			if code != 2 {
				t.Fatalf("exit %d, want 2:\n%s%s", code, stdout.String(), stderr.String())
			}
			for _, w := range tc.want {
				if !strings.Contains(stderr.String(), w) {
					t.Errorf("the report lacks %q:\n%s", w, stderr.String())
				}
			}
			if n := strings.Count(stderr.String(), "\n") - 1; n != len(tc.want) {
				t.Errorf("%d problems reported, want %d:\n%s", n, len(tc.want), stderr.String())
			}
		})
	}
}

// TestConfigStorageResolved: what serve is given from each form: the bbolt
// path in one place whichever form was written, and for etcd the
// etcd.Config with its defaults left to Dial (zero values).
func TestConfigStorageResolved(t *testing.T) {
	clearChatEnv(t)
	dir := t.TempDir()
	db := filepath.Join(dir, "bot.db")
	base := "approval_key: " + testApprovalKey(t, dir) + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\n"
	for _, tc := range []struct {
		name, yaml string
		store      string
		etcd       *etcd.Config
	}{
		{"short form", "store: " + db + "\n", db, nil},
		{"bolt section", "storage: {backend: bolt, path: " + db + "}\n", db, nil},
		{"etcd defaults", "storage: {backend: etcd, endpoints: [\"http://127.0.0.1:2379\"]}\n", "",
			&etcd.Config{Endpoints: []string{"http://127.0.0.1:2379"}}},
		{"etcd set", "storage: {backend: etcd, endpoints: [\"http://127.0.0.1:2379\", \"http://127.0.0.1:2380\"], prefix: /a/b/, lease_ttl: 4s}\n", "",
			&etcd.Config{Endpoints: []string{"http://127.0.0.1:2379", "http://127.0.0.1:2380"}, Prefix: "/a/b/", LeaseTTL: 4 * time.Second}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := filepath.Join(t.TempDir(), "bot.yaml")
			if err := os.WriteFile(p, []byte(base+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			cfg, err := loadConfig(p, use{}, func(string) string { return "test-audit-key-0123456789abcdef0123456789" })
			if err != nil {
				t.Fatal(err)
			}
			if cfg.Store != tc.store {
				t.Errorf("store %q, want %q", cfg.Store, tc.store)
			}
			switch {
			case (cfg.etcd == nil) != (tc.etcd == nil):
				t.Errorf("etcd %+v, want %+v", cfg.etcd, tc.etcd)
			case cfg.etcd != nil && (strings.Join(cfg.etcd.Endpoints, ",") != strings.Join(tc.etcd.Endpoints, ",") || cfg.etcd.Prefix != tc.etcd.Prefix || cfg.etcd.LeaseTTL != tc.etcd.LeaseTTL || cfg.etcd.CA != "" || cfg.etcd.Cert != "" || cfg.etcd.Key != ""):
				t.Errorf("etcd %+v, want %+v", *cfg.etcd, *tc.etcd)
			}
		})
	}
}
