package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics/metricstest"
)

// replicaSet is several serve processes (the built binary, as systemd
// would run it on several machines) sharing one real etcd (started in the
// test process by internal/etcdtest), one real agent over the simulator
// and one fake Mattermost API, each replica on a listener of its own: the
// setup of the replica end-to-end tests and the failover benchmark.
type replicaSet struct {
	etcd     *etcdtest.Server
	fm       *fakeMattermostAPI
	agentDir string
	dir      string
	reps     []*replica
}

// replica is one serve process.
type replica struct {
	name   string
	base   string // http://127.0.0.1:PORT
	config string // its configuration file
	logs   *lineWatcher
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has ended
}

// replicaOptions shape a replicaSet.
type replicaOptions struct {
	// n is the number of replicas.
	n int
	// speed is the simulator's --sim-speed: "0" instant, "2" a migrate of
	// about 15 s.
	speed string
	// leaseTTL is storage.lease_ttl (how long a dead replica's leadership
	// and claims outlive it).
	leaseTTL string
	// approvers are policy.approvers (Mattermost user IDs).
	approvers []string
	// extra is more YAML (e.g. schedules:).
	extra string
	// bolt runs the replicas on one bbolt file instead of etcd (one
	// replica only: the file is locked), for the benchmarks' comparison.
	bolt bool
}

// startReplicas starts etcd, the agent, the fake Mattermost and o.n serve
// replicas, and waits until each answers /readyz and exactly one leads.
func startReplicas(t testing.TB, o replicaOptions) *replicaSet {
	t.Helper()
	s := &replicaSet{fm: newFakeMattermostAPI(t), dir: t.TempDir()}
	if !o.bolt {
		s.etcd = etcdtest.Start(t)
	}
	s.agentDir = filepath.Join(s.dir, "agent")
	agentPort := freePort(t)
	startAgentSpeed(t, s.agentDir, agentPort, o.speed)
	key := writeAuditKey(t, s.dir)
	for i := range o.n {
		port := freePort(t)
		r := &replica{name: fmt.Sprintf("replica-%d", i+1), base: fmt.Sprintf("http://127.0.0.1:%d", port),
			config: filepath.Join(s.dir, fmt.Sprintf("serve-%d.yaml", i+1))}
		store := "store: " + filepath.Join(s.dir, "chatops.db")
		if !o.bolt {
			store = fmt.Sprintf("storage: {backend: etcd, endpoints: [%q], prefix: /replicas/, lease_ttl: %s}", s.etcd.Endpoints()[0], o.leaseTTL)
		}
		yaml := mmServeYAML(store, port, key, s.agentDir, agentPort, s.fm, strings.Join(o.approvers, ", "), o.extra)
		if err := os.WriteFile(r.config, []byte(yaml), 0o600); err != nil {
			t.Fatal(err)
		}
		r.start(t)
		s.reps = append(s.reps, r)
	}
	for _, r := range s.reps {
		r.waitReady(t)
	}
	s.leader(t)
	return s
}

// start runs the replica's serve process; the test's end stops it
// (SIGTERM, then SIGKILL after 20 s).
func (r *replica) start(t testing.TB) {
	t.Helper()
	r.logs, r.exited = &lineWatcher{}, make(chan struct{})
	r.cmd = exec.Command(binary, "serve", "--config", r.config)
	r.cmd.Stdout = io.Discard
	stderr, err := r.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := r.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go r.logs.consume(stderr)
	go func() { _ = r.cmd.Wait(); close(r.exited) }()
	t.Cleanup(func() { r.stop(syscall.SIGTERM) })
}

// stop sends sig (SIGKILL: a crash; SIGTERM: a stop) and waits for the
// process to end (SIGKILL after 20 s).
func (r *replica) stop(sig os.Signal) {
	_ = r.cmd.Process.Signal(sig)
	select {
	case <-r.exited:
	case <-time.After(20 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
}

// alive reports whether the process still runs.
func (r *replica) alive() bool {
	select {
	case <-r.exited:
		return false
	default:
		return true
	}
}

// waitReady waits (60 s at most) until /readyz answers 200.
func (r *replica) waitReady(t testing.TB) {
	t.Helper()
	var last answer
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if !r.alive() {
			t.Fatalf("%s exited:\n%s", r.name, r.logs.String())
		}
		if last = send(mustRequest(t, "GET", r.base+"/readyz", "", "")); last.status == 200 {
			return
		}
	}
	t.Fatalf("%s never became ready: last %+v\nlog:\n%s", r.name, last, r.logs.String())
}

// leads reports the replica's gitlab_chatops_leader gauge.
func (r *replica) leads(t testing.TB) bool {
	v, _ := metricstest.Scrape(t, r.base+"/metrics").Value("gitlab_chatops_leader")
	return v == 1
}

// leader waits (60 s at most) until exactly one live replica leads and
// returns it.
func (s *replicaSet) leader(t testing.TB) *replica {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var leaders []*replica
		for _, r := range s.reps {
			if r.alive() && r.leads(t) {
				leaders = append(leaders, r)
			}
		}
		if len(leaders) == 1 {
			return leaders[0]
		}
	}
	t.Fatalf("no single leader among the replicas:\n%s", s.logs())
	return nil
}

// other returns a live replica that is not r.
func (s *replicaSet) other(r *replica) *replica {
	for _, o := range s.reps {
		if o != r && o.alive() {
			return o
		}
	}
	return nil
}

// logs is every replica's log, for a failure's message.
func (s *replicaSet) logs() string {
	var b strings.Builder
	for _, r := range s.reps {
		fmt.Fprintf(&b, "--- %s:\n%s", r.name, r.logs.String())
	}
	return b.String()
}

// slash sends `/gitlab-migrations text` to replica r as user in channel
// and returns the command response's body.
func (r *replica) slash(t testing.TB, user, channel, text string) (answer, error) {
	form := url.Values{"token": {shutMMToken}, "user_id": {user}, "user_name": {"someone"}, "channel_id": {channel}, "text": {text}}
	a := send(mustRequest(t, "POST", r.base+"/mattermost/command", "application/x-www-form-urlencoded", form.Encode()))
	if a.err != nil || a.status != 200 {
		return a, fmt.Errorf("%s: /gitlab-migrations %s: %+v", r.name, text, a)
	}
	return a, nil
}

// click sends user's click on the card's button (its integration context,
// as Mattermost forwards it) to replica r.
func (r *replica) click(t testing.TB, user, channel string, card *model.Post, actx map[string]any) (answer, error) {
	body, _ := json.Marshal(model.PostActionIntegrationRequest{UserId: user, UserName: "someone", ChannelId: channel, PostId: card.Id, Context: actx})
	a := send(mustRequest(t, "POST", r.base+"/mattermost/actions", "application/json", string(body)))
	if a.err != nil || a.status != 200 {
		return a, fmt.Errorf("%s: click: %+v", r.name, a)
	}
	return a, nil
}

// waitPost waits (deadline d) until a post contains want, and returns the
// first such.
func (s *replicaSet) waitPost(t testing.TB, want string, d time.Duration) *model.Post {
	t.Helper()
	return s.waitFor(t, s.fm.postsWith, want, d)
}

// waitCreated waits (deadline d) until a post was created with want (it
// may have been edited since), and returns the first such as created.
func (s *replicaSet) waitCreated(t testing.TB, want string, d time.Duration) *model.Post {
	t.Helper()
	return s.waitFor(t, s.fm.createdWith, want, d)
}

func (s *replicaSet) waitFor(t testing.TB, find func(string) []*model.Post, want string, d time.Duration) *model.Post {
	t.Helper()
	for deadline := time.Now().Add(d); ; time.Sleep(20 * time.Millisecond) {
		if ps := find(want); len(ps) > 0 {
			return ps[0]
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the chat after %s:\n%s\nlogs:\n%s", want, d, s.fm.text(), s.logs())
		}
	}
}

// auditVerify runs `audit verify --config` (reading etcd directly) with
// the first replica's configuration and returns its output; it fails the
// test unless the chain is intact.
func (s *replicaSet) auditVerify(t testing.TB) string {
	t.Helper()
	out, err := exec.Command(binary, "audit", "verify", "--config", s.reps[0].config).CombinedOutput()
	if err != nil || !strings.HasPrefix(string(out), "audit trail intact") {
		t.Fatalf("audit verify --config: %v\n%s", err, out)
	}
	return string(out)
}

// auditEntries is the audit trail (`audit export --config`, read from
// etcd).
func (s *replicaSet) auditEntries(t testing.TB) []approvals.AuditEntry {
	t.Helper()
	out, err := exec.Command(binary, "audit", "export", "--config", s.reps[0].config).Output()
	if err != nil {
		t.Fatalf("audit export --config: %v", err)
	}
	var entries []approvals.AuditEntry
	for line := range strings.Lines(string(out)) {
		var e approvals.AuditEntry
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("export line %q: %v", line, err)
		}
		entries = append(entries, e)
	}
	return entries
}

// auditActions counts the audit trail's entries of request id by action.
func (s *replicaSet) auditActions(t testing.TB, id string) map[string]int {
	t.Helper()
	counts := map[string]int{}
	for _, e := range s.auditEntries(t) {
		if e.RequestID == id {
			counts[e.Action]++
		}
	}
	return counts
}

// openMigrate has alice open a migrate on replica r and returns the card
// (the root post with the Approve button), its button context and the
// request ID.
func (s *replicaSet) openMigrate(t testing.TB, r *replica, alice, channel string) (*model.Post, map[string]any, string) {
	t.Helper()
	if _, err := r.slash(t, alice, channel, "migrate -- upgrade to 17.5"); err != nil {
		t.Fatal(err)
	}
	card, actx := s.fm.approveContext(t)
	id, _ := actx["request_id"].(string)
	if !regexp.MustCompile(`^[a-z0-9]+$`).MatchString(id) {
		t.Fatalf("the Approve button carries no request ID: %v", actx)
	}
	return card, actx, id
}
