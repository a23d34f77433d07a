package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// cliResult is what a user sees of one run of the binary.
type cliResult struct {
	stdout, stderr string
	code           int
}

func runCLI(t *testing.T, args ...string) cliResult {
	t.Helper()
	cmd := exec.Command(binary, args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return cliResult{out.String(), errb.String(), code}
}

// holdStore opens store read-write as serve does (holding bbolt's lock,
// so the CLI cannot open the file) and answers on its admin socket, until
// the returned stop is called. The log collects what the bot logs.
func holdStore(t testing.TB, store, keyFile string) (stop func(), log *lockedBuffer) {
	t.Helper()
	key, err := auditKey(keyFile, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	db, err := storage.Open(store, storage.Options{AuditKey: key})
	if err != nil {
		t.Fatal(err)
	}
	log = &lockedBuffer{}
	admin, err := listenAdmin(db, slog.New(slog.NewJSONHandler(log, nil)), adminSocketPath("", store))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- admin.run(ctx) }()
	return func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("admin socket: %v", err)
		}
		if err := db.Close(); err != nil {
			t.Error(err)
		}
	}, log
}

// TestAuditThroughTheRunningBot: while a bot holds the store, audit
// verify, export and tail answer through its admin socket with exactly
// the output and exit codes they have on the file, for good and bad
// input alike; a tampered trail fails verify through the socket as it
// does on the file. The socket is its owner's only and goes with the bot.
func TestAuditThroughTheRunningBot(t *testing.T) {
	state := t.TempDir()
	runConsoleScript(t, state, "default", "alice: /gitlab-migrations status\nmallory: /gitlab-migrations stauts\nalice: /gitlab-migrations audit anchor\nalice: /gitlab-migrations services\n")
	store := filepath.Join(state, "gitlab-chatops.db")
	key := filepath.Join(state, "audit.key")
	zeros := strings.Repeat("0", 64)
	cases := [][]string{
		{"audit", "verify", "--db", store, "--key-file", key},
		{"audit", "verify", "--db", store, "--key-file", key, "--anchor", "0:" + zeros},
		{"audit", "verify", "--db", store, "--key-file", key, "--anchor", "2:" + zeros}, // exit 3
		{"audit", "export", "--db", store},
		{"audit", "export", "--db", store, "--since", time.Now().Add(time.Hour).Format(time.RFC3339)}, // nothing
		{"audit", "export", "--db", store, "--since", "2000-01-01T00:00:00Z"},
		{"audit", "tail", "--db", store},
		{"audit", "tail", "--db", store, "-n", "3"},
		{"audit", "tail", "--db", store, "-n", "100000"},
		{"audit", "tail", "--db", store, "-n", "0"}, // exit 1
	}
	compare := func(stage string, cases [][]string) {
		t.Helper()
		direct := make([]cliResult, len(cases))
		for i, args := range cases {
			direct[i] = runCLI(t, args...)
		}
		if direct[0].code != 0 && stage == "intact" {
			t.Fatalf("audit verify on the file: %+v", direct[0])
		}
		stop, log := holdStore(t, store, key)
		for i, args := range cases {
			got := runCLI(t, args...)
			if got != direct[i] {
				t.Errorf("%s: %s through the bot:\n%+v\non the file:\n%+v", stage, strings.Join(args[:2], " "), got, direct[i])
			}
		}
		if n := strings.Count(log.String(), "admin socket: audit request"); n != len(cases) {
			t.Errorf("%s: the bot answered %d requests, want %d (one per command):\n%s", stage, n, len(cases), log.String())
		}
		sock := adminSocketPath("", store)
		if fi, err := os.Stat(sock); err != nil || fi.Mode().Perm() != 0o600 {
			t.Errorf("admin socket %s: %v, mode %v; want 0600", sock, err, fi.Mode())
		}
		stop()
		if _, err := os.Lstat(sock); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("the admin socket outlived the bot: %v", err)
		}
	}
	compare("intact", cases)

	// A tampered trail: mallory's refused command made another name.
	data, err := os.ReadFile(store)
	if err != nil {
		t.Fatal(err)
	}
	data = bytes.ReplaceAll(data, []byte(`"actor_name":"mallory"`), []byte(`"actor_name":"Mallory"`))
	if err := os.WriteFile(store, data, 0o600); err != nil {
		t.Fatal(err)
	}
	verify := cases[:1]
	if r := runCLI(t, verify[0]...); r.code != 3 || !strings.Contains(r.stderr, "BROKEN at entry") {
		t.Fatalf("verify of the tampered file: %+v", r)
	}
	compare("tampered", verify)
}

// TestAuditLockedWithoutSocket: a store locked by a process that does not
// answer on a socket is reported as locked, naming the socket tried.
func TestAuditLockedWithoutSocket(t *testing.T) {
	dir := t.TempDir()
	store := filepath.Join(dir, "chatops.db")
	db, err := storage.Open(store, storage.Options{AuditKey: auditchain.Key("test-audit-key-0123456789abcdef0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	r := runCLI(t, "audit", "tail", "--db", store)
	if r.code != 1 || !strings.Contains(r.stderr, "locked by another gitlab-chatops process") || !strings.Contains(r.stderr, store+".sock") {
		t.Fatalf("tail of a locked store without a bot socket: %+v", r)
	}
}

// TestAuditBesideTheConsole: the console holds the store too; the audit
// commands read it through the console's admin socket meanwhile.
func TestAuditBesideTheConsole(t *testing.T) {
	state := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, binary, "console", "--simulate", "--state-dir", state, "--sim-speed", "0")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := &lineWatcher{}
	go out.consume(stdout)
	fmt.Fprintln(stdin, "alice: /gitlab-migrations status")
	out.wait(t, regexp.MustCompile(`(?i)down`))
	store := filepath.Join(state, "gitlab-chatops.db")
	r := runCLI(t, "audit", "verify", "--db", store, "--key-file", filepath.Join(state, "audit.key"))
	if r.code != 0 || !strings.Contains(r.stdout, "audit trail intact") {
		t.Errorf("audit verify beside the console: %+v", r)
	}
	if r := runCLI(t, "audit", "tail", "--db", store, "-n", "1"); r.code != 0 || !strings.Contains(r.stdout, `"action":"readonly.run"`) {
		t.Errorf("audit tail beside the console: %+v", r)
	}
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("console: %v\n%s", err, out.String())
	}
	if _, err := os.Lstat(store + ".sock"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the console left its admin socket behind: %v", err)
	}
}

// TestAdminSocketRefusesOtherUsers: even with the socket's mode loosened,
// a peer of another uid is refused (SO_PEERCRED) and reads nothing of
// the trail. It needs root, to run the CLI as another user.
func TestAdminSocketRefusesOtherUsers(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run the CLI as another user")
	}
	state := t.TempDir()
	runConsoleScript(t, state, "default", "alice: /gitlab-migrations status\n")
	store := filepath.Join(state, "gitlab-chatops.db")
	stop, log := holdStore(t, store, filepath.Join(state, "audit.key"))
	defer stop()
	// Everything readable by everyone: the file mode is no longer what
	// keeps the other user out.
	for _, p := range []string{filepath.Dir(binary), filepath.Dir(state), state} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []string{store, store + ".sock"} {
		if err := os.Chmod(p, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	cmd := exec.Command(binary, "audit", "tail", "--db", store)
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if err == nil || out.Len() > 0 {
		t.Fatalf("another user read the trail through the socket: %v\nstdout: %s\nstderr: %s", err, out.String(), errb.String())
	}
	if !strings.Contains(log.String(), "peer uid 65534") {
		t.Errorf("the bot did not refuse uid 65534 (stderr %s); its log:\n%s", errb.String(), log.String())
	}
}

// TestConfigCheckSocketPathLength: a store whose admin socket path would
// be longer than a Unix socket allows is reported at config check (at the
// key to change), not when serve fails to listen; admin_socket fixes it.
func TestConfigCheckSocketPathLength(t *testing.T) {
	dir := t.TempDir()
	long := "/var/lib/gitlab-chatops/" + strings.Repeat("d", 80) + "/chatops.db"
	for _, c := range []struct{ yaml, want string }{
		{"store: " + long + "\n", "store: the admin socket " + long + ".sock is 120 bytes long"},
		{"store: " + long + "\nadmin_socket: /run/gitlab-chatops/" + strings.Repeat("s", 90) + ".sock\n", "admin_socket: the admin socket"},
		{"store: " + long + "\nadmin_socket: /run/gitlab-chatops/admin.sock\n", ""},
	} {
		p := filepath.Join(dir, "bot.yaml")
		if err := os.WriteFile(p, []byte(c.yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		r := runCLI(t, "config", "check", "--for", "console", p)
		if c.want == "" && strings.Contains(r.stderr, "admin socket") || c.want != "" && !strings.Contains(r.stderr, c.want) {
			t.Errorf("config check of\n%s: %+v; want %q", c.yaml, r, c.want)
		}
	}
}

// TestAdminSocketPathInUse: a socket left by a dead bot is replaced; one
// that another process answers on, or a file that is no socket, is
// refused with what to do.
func TestAdminSocketPathInUse(t *testing.T) {
	dir := t.TempDir()
	db, err := storage.Open(filepath.Join(dir, "a.db"), storage.Options{AuditKey: auditchain.Key("test-audit-key-0123456789abcdef0123456789")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	sock := filepath.Join(dir, "admin.sock")
	// Left by a dead bot: the file stays, nobody listens.
	dead, err := net.ListenUnix("unix", &net.UnixAddr{Name: sock, Net: "unix"})
	if err != nil {
		t.Fatal(err)
	}
	dead.SetUnlinkOnClose(false)
	dead.Close()
	a, err := listenAdmin(db, log, sock)
	if err != nil {
		t.Fatalf("a stale socket was not replaced: %v", err)
	}
	// Now a bot answers there: a second one is refused.
	if _, err := listenAdmin(db, log, sock); err == nil || !strings.Contains(err.Error(), "another process answers on it") {
		t.Errorf("a socket in use: %v", err)
	}
	a.ln.Close()
	file := filepath.Join(dir, "not-a-socket")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := listenAdmin(db, log, file); err == nil || !strings.Contains(err.Error(), "is not a socket") {
		t.Errorf("a regular file at the socket's path: %v", err)
	}
}
