package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// loadEnv is what the load and fault tests (R5, R8) run serve against,
// all real processes on loopback: an agent over the simulator (its own
// process, instant), a fake Slack Web API (httptest) and one store that
// every serve process of the test opens in turn: a bbolt file, or a
// prefix on a real etcd.
type loadEnv struct {
	dir, config, store string
	agentDir, keyFile  string
	etcd               *etcdtest.Server // nil: the bbolt file store
	port               int              // serve's listener
	slack              *loadSlack
	hc                 *http.Client
}

func newLoadEnv(t *testing.T) *loadEnv { return newLoadEnvOn(t, nil) }

// newLoadEnvOn is newLoadEnv with the store under /load/ on etcdSrv
// instead (nil: the bbolt file).
func newLoadEnvOn(t *testing.T, etcdSrv *etcdtest.Server) *loadEnv {
	t.Helper()
	dir := t.TempDir()
	agentDir := filepath.Join(dir, "agent")
	agentPort := freePort(t)
	startAgentSpeed(t, agentDir, agentPort, "0")
	e := &loadEnv{dir: dir, agentDir: agentDir, store: filepath.Join(dir, "chatops.db"), keyFile: writeAuditKey(t, dir),
		etcd: etcdSrv, port: freePort(t), slack: newLoadSlack(t)}
	e.config = filepath.Join(dir, "bot.yaml")
	storage := "store: " + e.store
	if etcdSrv != nil {
		storage = fmt.Sprintf("storage: {backend: etcd, endpoints: [%q], prefix: /load/, lease_ttl: 4s}", etcdSrv.Endpoints()[0])
	}
	yaml := fmt.Sprintf(`listen: 127.0.0.1:%d
%s
audit: {key_file: %s}
approval_key: %s
hosts:
  - name: gitlab-sim
    agent: http://127.0.0.1:%d
policy:
  approvers: [U0APPROVER1, U0APPROVER2]
slack:
  mode: http
  api_url: %s/api/
  bot_token: xoxb-load-test
  signing_secret: %s
`, e.port, storage, e.keyFile, filepath.Join(agentDir, agent.ApprovalKeyFile), agentPort, e.slack.srv.URL, ackSecret)
	if err := os.WriteFile(e.config, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	// One connection per command, as Slack opens them: no pooling limit
	// may serialise the burst on the client side.
	e.hc = &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1000, DisableCompression: true}, Timeout: time.Minute}
	t.Cleanup(e.hc.CloseIdleConnections)
	return e
}

// serveProc is one `gitlab-chatops serve` process.
type serveProc struct {
	cmd  *exec.Cmd
	logs *lockedBuffer
}

// startServe starts serve on e's store and waits until it listens.
func (e *loadEnv) startServe(t *testing.T) *serveProc {
	t.Helper()
	p := &serveProc{cmd: exec.Command(binary, "serve", "--config", e.config), logs: &lockedBuffer{}}
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = p.cmd.Process.Kill(); _ = p.cmd.Wait() })
	waitListening(t, e.port)
	return p
}

// burst sends n Slack-signed `status` slash commands at once, each from
// its own channel (tag plus its number) and user, and returns how many
// were acknowledged (200, empty body, within Slack's rules) and why the
// others were not.
func (e *loadEnv) burst(tag string, n int) (acked int, failures []string) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	target := fmt.Sprintf("http://127.0.0.1:%d%s", e.port, slack.PathCommands)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := e.status(target, loadChannel(tag, i), fmt.Sprintf("U%s%04d", tag, i), fmt.Sprintf("%s.%d", tag, i))
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				failures = append(failures, err.Error())
				return
			}
			acked++
		}()
	}
	wg.Wait()
	return acked, failures
}

// stream sends n Slack-signed `status` slash commands (channels and
// users as burst's) through workers concurrent senders, each sending its
// next command as soon as the last is acknowledged, so that the bot's
// audit appends go on without a pause; acked counts the acknowledged ones
// as they come. It returns when every command was sent or refused (a
// killed bot refuses the rest at once).
func (e *loadEnv) stream(tag string, n, workers int, acked *atomic.Int64) {
	target := fmt.Sprintf("http://127.0.0.1:%d%s", e.port, slack.PathCommands)
	next := make(chan int)
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if e.status(target, loadChannel(tag, i), fmt.Sprintf("U%s%04d", tag, i), fmt.Sprintf("%s.%d", tag, i)) == nil {
					acked.Add(1)
				}
			}
		}()
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
}

func loadChannel(tag string, i int) string { return fmt.Sprintf("C%s%04d", strings.ToUpper(tag), i) }

// status sends one signed `status` and checks its acknowledgement.
func (e *loadEnv) status(target, channel, user, trigger string) error {
	req, err := signedStatus(target, e.slack.srv.URL, channel, user, trigger, "status")
	if err != nil {
		return err
	}
	resp, err := e.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || len(body) > 0 {
		return fmt.Errorf("ack %d %q", resp.StatusCode, body)
	}
	return nil
}

// verify runs `audit verify --config` on e's store and fails the test
// unless the trail is intact.
func (e *loadEnv) verify(t *testing.T) {
	t.Helper()
	out, err := exec.Command(binary, "audit", "verify", "--config", e.config).CombinedOutput()
	if err != nil {
		t.Fatalf("audit verify: %v\n%s", err, out)
	}
	mustContain(t, string(out), "audit trail intact")
}

// auditTrail is auditTrail of e's store, bbolt or etcd.
func (e *loadEnv) auditTrail(t *testing.T) []approvals.AuditEntry {
	t.Helper()
	if e.etcd == nil {
		return auditTrail(t, e.store)
	}
	key, err := auditKey(e.keyFile, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	s, c := openEtcdCopy(t, e.etcd, "/load/", key)
	defer c.Close()
	defer s.Close()
	return wholeEntries(t, s)
}

// auditTrail reads every entry of the bbolt store (no serve may hold it);
// see wholeEntries.
func auditTrail(t *testing.T, store string) []approvals.AuditEntry {
	t.Helper()
	db, err := storage.Open(store, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("opening the store after the bot: %v", err)
	}
	defer db.Close()
	return wholeEntries(t, db)
}

// wholeEntries reads every entry of the store and
// fails the test on a partial or out-of-place one: each stored entry must
// decode whole, carry its own sequence number, an action and a time, the
// numbers must run 1, 2, 3, … without a gap, and the head must name the
// last. It returns the entries' actions, in order.
func wholeEntries(t *testing.T, r auditchain.Reader) []approvals.AuditEntry {
	t.Helper()
	var entries []approvals.AuditEntry
	head, err := r.ReadAudit(context.Background(), func(seq uint64, stored []byte) error {
		e, err := auditchain.Decode(stored)
		if err != nil {
			return fmt.Errorf("entry %d does not decode (partial?): %w", seq, err)
		}
		if want := uint64(len(entries) + 1); seq != want || e.Seq != seq {
			return fmt.Errorf("entry under key %d has seq %d, want %d", seq, e.Seq, want)
		}
		if e.Action == "" || e.Time.IsZero() {
			return fmt.Errorf("entry %d is incomplete: %+v", seq, e)
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		t.Fatalf("reading the audit trail: %v", err)
	}
	if head.Seq != uint64(len(entries)) {
		t.Fatalf("the audit head is at %d, the trail holds %d entries", head.Seq, len(entries))
	}
	return entries
}

// finishedJobs counts the agent's jobs of operation that have ended.
func (e *loadEnv) finishedJobs(t *testing.T, operation string) int {
	t.Helper()
	files, _ := filepath.Glob(filepath.Join(e.agentDir, "jobs", "*", "record.json"))
	n := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec agent.JobRecord
		if json.Unmarshal(b, &rec) == nil && rec.Operation == operation && rec.State != agent.StateRunning {
			n++ // a record being rewritten does not decode: counted next time
		}
	}
	return n
}

// countAction counts entries with action (and operation, if not empty).
func countAction(entries []approvals.AuditEntry, action, operation string) int {
	n := 0
	for _, e := range entries {
		if e.Action == action && (operation == "" || e.Operation == operation) {
			n++
		}
	}
	return n
}

// loadSlack is the Slack Web API for the load and fault tests: every post
// is accepted in the channel it names (so each channel has a queue of its
// own in the bot), and thread replies holding a migration status are
// counted per channel.
type loadSlack struct {
	srv *httptest.Server
	slackPosts
}

func newLoadSlack(t *testing.T) *loadSlack {
	t.Helper()
	f := &loadSlack{}
	f.initPosts()
	f.srv = httptest.NewServer(http.HandlerFunc(f.serveHTTP))
	t.Cleanup(f.srv.Close)
	return f
}

func (f *loadSlack) serveHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/api/chat.postMessage":
		f.postMessage(w, r)
	case f.serveUpload(w, r, f.srv.URL):
	default: // chat.update, chat.postEphemeral, response URLs, …
		_, _ = io.WriteString(w, `{"ok":true,"message_ts":"1700000000.000001"}`)
	}
}

// answered counts tag's channels (0 … n-1) whose thread holds a status
// answer, and returns the first other thread reply seen, if any.
func (f *loadSlack) answered(tag string, n int) (done int, other string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range n {
		if f.answers[loadChannel(tag, i)] > 0 {
			done++
		}
	}
	if len(f.others) > 0 {
		other = f.others[0]
	}
	return done, other
}
