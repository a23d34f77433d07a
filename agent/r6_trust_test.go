package agent

import (
	"crypto/x509"
	"errors"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestR6AgentTrustsOnlyItsBot is fault R6 of issue 15, against a real
// agent process (cmd/gitlab-chatops-agent over mutual TLS on 127.0.0.1):
// a client without a certificate, with one from another CA, with an
// expired one, or with one whose name is not in allowed_clients can
// neither ask nor run anything; a second mutating job while one runs gets
// 409 naming the running one; and a run request for a request ID that
// already ran is refused (409), whether replayed byte for byte or signed
// anew. The fake gitlab-rake/gitlab-ctl record every run: exactly the one
// admitted migrate ran.
func TestR6AgentTrustsOnlyItsBot(t *testing.T) {
	certs := testCerts(t)
	fake := fakeGitLab(t, map[string]fakeBehavior{
		// Long enough to still run while the second job is asked for.
		"db:migrate": {Mode: "count", N: 40, Interval: "50ms"},
		"restart":    {Lines: []fakeLine{{"stdout", "ok: run: puma: 1s"}}},
		"status":     {Lines: []fakeLine{{"stdout", "run: puma: 1s"}}},
	})
	stateDir := t.TempDir()
	a := startAgentProc(t, writeAgentConfig(t, fake, certs, stateDir, ""), certs)
	ctx := testCtx(t)

	// Each refused client is our CA's trust of the agent plus its own
	// (or no) certificate, so only the client side of the handshake
	// differs from the bot's.
	other := testCerts(t)
	expiredCert(t, certs, "expired-bot", BotName)
	if err := GenerateClientCert(certs, "intruder", time.Hour); err != nil {
		t.Fatal(err)
	}
	ca := filepath.Join(certs, CAFile)
	refused := []struct {
		name string
		// cert and key are the client's files; "" for none.
		cert, key string
		// status is the HTTP status of the refusal (0: the TLS handshake
		// refused it, so nothing was read).
		status int
	}{
		{name: "no client certificate"},
		{name: "certificate from another CA", cert: filepath.Join(other, BotFile), key: filepath.Join(other, BotKeyFile)},
		{name: "expired certificate", cert: filepath.Join(certs, "expired-bot.pem"), key: filepath.Join(certs, "expired-bot-key.pem")},
		{name: "certificate not in allowed_clients", cert: filepath.Join(certs, "intruder.pem"), key: filepath.Join(certs, "intruder-key.pem"), status: http.StatusForbidden},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			tlsc, err := LoadClientTLS(ca, filepath.Join(certs, BotFile), filepath.Join(certs, BotKeyFile))
			if err != nil {
				t.Fatal(err)
			}
			tlsc.Certificates = nil
			if tc.cert != "" {
				own, err := LoadClientTLS(ca, tc.cert, tc.key)
				if err != nil {
					t.Fatal(err)
				}
				tlsc = own
			}
			c, err := NewClientHTTP(ClientConfig{URL: a.url}, &http.Client{Transport: newTransport(tlsc)})
			if err != nil {
				t.Fatal(err)
			}
			// Neither a question nor a run, read-only or approved.
			calls := map[string]func() error{
				"health": func() error { _, err := c.Health(ctx); return err },
				"read-only run": func() error {
					_, err := c.Run(ctx, RunRequest{Operation: gitlab.OpServices, RequestID: "r6-" + strings.ReplaceAll(tc.name, " ", "-")}, nil)
					return err
				},
				"approved migrate": func() error {
					_, err := c.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpMigrate}), nil)
					return err
				},
			}
			for what, call := range calls {
				err := call()
				if err == nil {
					t.Fatalf("%s was admitted", what)
				}
				var ae *APIError
				switch {
				case tc.status == 0 && errors.As(err, &ae):
					t.Errorf("%s: got HTTP %d, want the TLS handshake to refuse the client: %v", what, ae.Status, err)
				case tc.status == 0 && !strings.Contains(err.Error(), "certificate"):
					t.Errorf("%s: the error does not say the certificate was refused: %v", what, err)
				case tc.status != 0 && (!errors.As(err, &ae) || ae.Status != tc.status):
					t.Errorf("%s: want HTTP %d, got %v", what, tc.status, err)
				case tc.status != 0 && !strings.Contains(ae.Message, "allowed_clients"):
					t.Errorf("%s: the refusal does not name allowed_clients: %q", what, ae.Message)
				}
			}
		})
	}
	if got := ranLog(t, fake); len(got) != 0 {
		t.Fatalf("a refused client ran something: %q", got)
	}

	bot := botClient(t, a.url, certs)
	first := approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "r6-first", Requester: "alice", Approvers: []string{"bob"}})
	col := newCollector()
	running := runAsync(ctx, bot, first, col)
	id := col.waitJobID(t)
	col.waitSeq(t, 1) // started: its first line arrived

	t.Run("second mutating job gets 409", func(t *testing.T) {
		_, err := bot.Run(ctx, approved(t, certs, RunRequest{Operation: gitlab.OpRestart, Args: gitlab.Args{Service: "puma"}, RequestID: "r6-second", Requester: "carol"}), nil)
		var be *BusyError
		if !errors.As(err, &be) {
			t.Fatalf("want the agent's 409 (*BusyError), got %v", err)
		}
		if be.Running.ID != id || be.Running.RequestID != "r6-first" {
			t.Errorf("the 409 names %+v, want the running migrate %s of r6-first", be.Running, id)
		}
	})
	if r := waitResult(t, running); r.err != nil || r.rec.State != StateSucceeded {
		t.Fatalf("the admitted migrate: %v %+v", r.err, r.rec)
	}

	replays := map[string]RunRequest{
		"the same run request replayed":                  first,
		"a new statement for the request ID already run": approved(t, certs, RunRequest{Operation: gitlab.OpMigrate, RequestID: "r6-first", Requester: "alice", Approvers: []string{"bob"}}),
	}
	for name, req := range replays {
		t.Run(name, func(t *testing.T) {
			_, err := bot.Run(ctx, req, nil)
			var ae *APIError
			if !errors.As(err, &ae) || ae.Status != http.StatusConflict || !strings.Contains(ae.Message, "already ran here as job "+id) {
				t.Fatalf("want 409 naming job %s, got %v", id, err)
			}
		})
	}
	if got := ranLog(t, fake); len(got) != 1 || !strings.Contains(got[0], "db:migrate") {
		t.Errorf("want the one admitted migrate to have run, and nothing else: %q", got)
	}
}

// expiredCert writes a client certificate named cn from the CA in caDir,
// valid yesterday and expired since, as file.pem and file-key.pem there.
func expiredCert(tb testing.TB, caDir, file, cn string) {
	tb.Helper()
	caCert, caKey, err := loadCA(caDir)
	if err != nil {
		tb.Fatal(err)
	}
	der, key, err := issueLeaf(caCert, caKey, cn, []string{cn}, nil, x509.ExtKeyUsageClientAuth, time.Now().Add(-48*time.Hour), 24*time.Hour)
	if err != nil {
		tb.Fatal(err)
	}
	kp, err := keyPEM(key)
	if err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(caDir, file+"-key.pem"), kp, 0o600); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(caDir, file+".pem"), certPEM(der), 0o644); err != nil {
		tb.Fatal(err)
	}
}
