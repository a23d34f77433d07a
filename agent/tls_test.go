package agent

import (
	"crypto/tls"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

func TestMutualTLS(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{"*": {Lines: []fakeLine{{"stdout", "ok"}}}})
	cfg := testConfig(t, fake, certs)
	rs := startServer(t, cfg)
	ctx := testCtx(t)

	caOnly, err := LoadClientTLS(filepath.Join(certs, CAFile), filepath.Join(certs, BotFile), filepath.Join(certs, BotKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	caOnly.Certificates = nil

	t.Run("no client certificate", func(t *testing.T) {
		c, err := NewClientHTTP(ClientConfig{URL: rs.url}, &http.Client{Transport: newTransport(caOnly)})
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Health(ctx)
		if err == nil {
			t.Fatal("health without a client certificate succeeded")
		}
		if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error does not mention the certificate: %v", err)
		}
	})

	t.Run("certificate from another CA", func(t *testing.T) {
		other := testCerts(t)
		tc, err := LoadClientTLS(filepath.Join(certs, CAFile), filepath.Join(other, BotFile), filepath.Join(other, BotKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		c, err := NewClientHTTP(ClientConfig{URL: rs.url}, &http.Client{Transport: newTransport(tc)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Health(ctx); err == nil {
			t.Fatal("health with a certificate of another CA succeeded")
		} else if !strings.Contains(err.Error(), "certificate") {
			t.Errorf("error does not mention the certificate: %v", err)
		}
	})

	t.Run("agent certificate from another CA is refused by the client", func(t *testing.T) {
		other := testCerts(t)
		c := clientWithCert(t, rs.url, other, BotFile, BotKeyFile)
		if _, err := c.Health(ctx); err == nil {
			t.Fatal("client accepted an agent certificate from a CA it does not trust")
		}
	})

	t.Run("name not in allowed_clients", func(t *testing.T) {
		if err := GenerateClientCert(certs, "intruder", time.Hour); err != nil {
			t.Fatal(err)
		}
		c := clientWithCert(t, rs.url, certs, "intruder.pem", "intruder-key.pem")
		_, err := c.Health(ctx)
		var ae *APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
			t.Fatalf("want 403 APIError, got %v", err)
		}
		if !strings.Contains(ae.Message, "intruder") || !strings.Contains(ae.Message, "allowed_clients") {
			t.Errorf("403 message does not explain: %q", ae.Message)
		}
		// Nor may it run anything.
		_, err = c.Run(ctx, RunRequest{Operation: "services"}, nil)
		if !errors.As(err, &ae) || ae.Status != http.StatusForbidden {
			t.Fatalf("run: want 403, got %v", err)
		}
		if got := ranLog(t, fake); len(got) != 0 {
			t.Errorf("a refused client ran something: %v", got)
		}
	})

	t.Run("the bot's certificate is admitted", func(t *testing.T) {
		c := botClient(t, rs.url, certs)
		h, err := c.Health(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if h.Status != "ok" || h.Version != "test" {
			t.Errorf("health = %+v", h)
		}
		v, err := c.Version(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if v.Protocol != ProtocolVersion || len(v.Operations) != len(gitlab.Catalogue()) {
			t.Errorf("version = %+v", v)
		}
		names := map[string]bool{}
		for _, op := range v.Operations {
			names[op.Name] = op.Mutating
		}
		if m, ok := names["migrate"]; !ok || !m {
			t.Errorf("catalogue lacks mutating migrate: %v", names)
		}
	})

	t.Run("TLS 1.2 is refused", func(t *testing.T) {
		tc, err := LoadClientTLS(filepath.Join(certs, CAFile), filepath.Join(certs, BotFile), filepath.Join(certs, BotKeyFile))
		if err != nil {
			t.Fatal(err)
		}
		tc.MinVersion, tc.MaxVersion = tls.VersionTLS12, tls.VersionTLS12
		c, err := NewClientHTTP(ClientConfig{URL: rs.url}, &http.Client{Transport: newTransport(tc)})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Health(ctx); err == nil {
			t.Fatal("TLS 1.2 connection succeeded")
		}
	})

	rs.stop()
	data, err := os.ReadFile(filepath.Join(cfg.StateDir, requestsLogName))
	if err != nil {
		t.Fatal(err)
	}
	log := string(data)
	if !strings.Contains(log, `"client":"intruder","method":"GET","path":"/v1/health","status":403`) {
		t.Errorf("requests.log lacks the refused request:\n%s", log)
	}
	if !strings.Contains(log, `"client":"gitlab-chatops-bot","method":"GET","path":"/v1/health","status":200`) {
		t.Errorf("requests.log lacks the admitted request:\n%s", log)
	}
}

func TestGenerateCertsRefusesOverwrite(t *testing.T) {
	dir := t.TempDir()
	if err := GenerateCerts(dir, []string{"gitlab-1.example.com", "10.0.0.5"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{CAKeyFile, AgentKeyFile, BotKeyFile} {
		fi, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	pair, err := tls.LoadX509KeyPair(filepath.Join(dir, AgentFile), filepath.Join(dir, AgentKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	leaf := pair.Leaf
	if err := leaf.VerifyHostname("gitlab-1.example.com"); err != nil {
		t.Error(err)
	}
	for _, h := range []string{"10.0.0.5", "127.0.0.1", "::1", "localhost"} {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("agent certificate does not cover %s: %v", h, err)
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	err = GenerateCerts(dir, []string{"x"}, time.Hour)
	if err == nil || !strings.Contains(err.Error(), "refusing to overwrite") {
		t.Fatalf("second GenerateCerts: want refusal, got %v", err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, CAKeyFile))
	if string(before) != string(after) {
		t.Error("CA key changed")
	}
}
