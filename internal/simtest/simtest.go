// Package simtest gives tests a real gitlab-chatops stack over the
// simulated GitLab: a real agent (in process, real mutual TLS on
// 127.0.0.1) whose gitlab-rake and gitlab-ctl are the test binary itself
// re-executed as gitlab-sim, a real bbolt store, the approvals service and
// the router. Only Slack's and Mattermost's servers need fakes.
//
// A test package using it must call RunSimIfAsked first thing in TestMain.
package simtest

import (
	"cmp"
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/sim"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// simEnv marks a re-executed test binary that must act as gitlab-sim.
const simEnv = "GITLAB_CHATOPS_SIMTEST"

// RunSimIfAsked turns this process into gitlab-sim when the agent started
// it as gitlab-rake or gitlab-ctl. Call it at the top of TestMain.
func RunSimIfAsked() {
	if os.Getenv(simEnv) == "1" {
		os.Exit(sim.Main(os.Args[1:], os.Stdout, os.Stderr, os.Getenv))
	}
}

// HostName is the simulated host's name, in the bot and in the agent.
const HostName = "gitlab-sim"

// Stack is a running bot core over the simulator.
type Stack struct {
	Router    *commands.Router
	Approvals *approvals.Service
	DB        *storage.DB
	Host      commands.Host
	Client    *agent.Client
	AgentURL  string                // the agent's base URL (https://127.0.0.1:port)
	Signer    *agent.ApprovalSigner // the bot's approval key, as Host has it
	SimState  string
	Dir       string
	// More are the hosts of Options.More, in order.
	More []*SimHost
}

// Options tune a Stack.
type Options struct {
	Scenario string // default "default"
	Policy   approvals.Policy
	// Clock, if set, is the clock of the approvals service and router.
	Clock func() time.Time
	// Groups resolves approver groups.
	Groups approvals.GroupResolver
	// Agent, if set, adjusts the agent's configuration before it starts
	// (e.g. MaxReadOnlyJobs, or GITLAB_SIM_SPEED in Env for slow runs).
	Agent func(*agent.Config)
	// AgentName is the agent's configured name (default HostName, the
	// bot's name for the host): another plays a misconfigured pair.
	AgentName string
	// Router receives extra router options (Hosts, Approvals, Audit,
	// Clock are filled in).
	Router commands.Options
	// WrapAgent, when set, wraps the agent client the bot uses for the
	// simulated host, e.g. to lose lines of a stream on the way.
	WrapAgent func(commands.Agent) commands.Agent
	// WrapStore, when set, wraps the bbolt store the approvals service
	// writes through, e.g. with approvalstest.Failing to inject failures.
	WrapStore func(approvals.Store) approvals.Store
	// WrapListener, when set, wraps each agent's listener, e.g. to count
	// the connections the bot opens.
	WrapListener func(net.Listener) net.Listener
	// Default marks the simulated host HostName as the default host.
	Default bool
	// Reauth gives the approvals service TOTP re-authentication over the
	// bbolt store, keyed with approvalstest.ReauthKey (Policy.Reauth says
	// which operations need it).
	Reauth bool
	// More are further hosts, each a real agent over its own simulator
	// (configured after HostName, before Router.Hosts), for tests of
	// several hosts. They share the certificates and approval key.
	More []MoreHost
}

// MoreHost is one more simulated host of a Stack.
type MoreHost struct {
	Name     string
	Scenario string // default "default"
	Default  bool
}

// SimHost is a running extra host of a Stack (Options.More).
type SimHost struct {
	Name     string
	Client   *agent.Client
	AgentURL string
	SimState string
}

// Start builds and starts a Stack; everything stops when the test ends.
func Start(t testing.TB, opt Options) *Stack {
	t.Helper()
	if opt.Scenario == "" {
		opt.Scenario = "default"
	}
	dir := t.TempDir()
	certs := filepath.Join(dir, "certs")
	if err := agent.GenerateCerts(certs, []string{"localhost"}, time.Hour); err != nil {
		t.Fatal(err)
	}
	s := &Stack{Dir: dir}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	if testing.Verbose() {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	s.AgentURL, s.SimState = startAgent(t, dir, certs, cmp.Or(opt.AgentName, HostName), opt.Scenario, opt.Agent, opt.WrapListener, log)
	s.Client = newClient(t, certs, s.AgentURL)
	var err error
	s.Signer, err = agent.LoadApprovalSigner(filepath.Join(certs, agent.ApprovalKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	s.Host = commands.Host{Name: HostName, Agent: s.Client, Signer: s.Signer, Default: opt.Default}
	if opt.WrapAgent != nil {
		s.Host.Agent = opt.WrapAgent(s.Client)
	}
	var more []commands.Host
	for i, m := range opt.More {
		sub := filepath.Join(dir, fmt.Sprintf("more-%d", i))
		h := &SimHost{Name: m.Name}
		h.AgentURL, h.SimState = startAgent(t, sub, certs, m.Name, cmp.Or(m.Scenario, "default"), opt.Agent, opt.WrapListener, log)
		h.Client = newClient(t, certs, h.AgentURL)
		s.More = append(s.More, h)
		more = append(more, commands.Host{Name: m.Name, Agent: h.Client, Signer: s.Signer, Default: m.Default})
	}
	s.DB, err = storage.Open(filepath.Join(dir, "chatops.db"), storage.Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.DB.Close() })
	var aopts []approvals.Option
	if opt.Clock != nil {
		aopts = append(aopts, approvals.WithClock(opt.Clock))
	}
	if opt.Groups != nil {
		aopts = append(aopts, approvals.WithGroupResolver("", opt.Groups))
	}
	if opt.Reauth {
		aopts = append(aopts, approvals.WithReauth(s.DB, approvalstest.ReauthKey, nil))
	}
	var store approvals.Store = s.DB
	if opt.WrapStore != nil {
		store = opt.WrapStore(store)
	}
	s.Approvals, err = approvals.NewService(store, opt.Policy, aopts...)
	if err != nil {
		t.Fatal(err)
	}
	ro := opt.Router
	ro.Hosts = append(append([]commands.Host{s.Host}, more...), ro.Hosts...)
	ro.Approvals, ro.Audit = s.Approvals, s.DB
	if ro.Clock == nil {
		ro.Clock = opt.Clock
	}
	if ro.Logger == nil {
		ro.Logger = log
	}
	s.Router, err = commands.New(ro)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// Run starts the router (after the adapters were registered) and stops it
// when the test ends.
func (s *Stack) Run(t testing.TB) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Router.Start(ctx); err != nil {
		cancel()
		t.Fatal(fmt.Errorf("starting router: %w", err))
	}
	t.Cleanup(func() { cancel(); s.Router.Close() })
}

// Approved returns req as the bot sends an approved request to the agent
// (the argv the catalogue builds, a signed approval statement), for a test
// that runs a mutating operation on the agent directly, behind the
// router's back. req needs a RequestID; an empty requester or approver
// list is filled in.
func (s *Stack) Approved(t testing.TB, req agent.RunRequest) agent.RunRequest {
	t.Helper()
	op, err := gitlab.Lookup(req.Operation)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := op.Command(req.Args)
	if err != nil {
		t.Fatal(err)
	}
	req.Argv = cmd.Argv()
	if req.Requester == "" {
		req.Requester = "U-alice"
	}
	if len(req.Approvers) == 0 {
		req.Approvers = []string{"U-bob"}
	}
	st, err := s.Signer.Sign(agent.ApprovalStatement{RequestID: req.RequestID, Host: s.Host.Name, Operation: req.Operation,
		Argv: req.Argv, Requester: req.Requester, Approvers: req.Approvers})
	if err != nil {
		t.Fatal(err)
	}
	req.Approval = &st
	return req
}

// startAgent starts a real agent named name on 127.0.0.1 over a simulator
// in scenario, its state under dir, until the test ends; it returns the
// agent's URL and the simulator's state file.
func startAgent(t testing.TB, dir, certs, name, scenario string, adjust func(*agent.Config), wrap func(net.Listener) net.Listener, log *slog.Logger) (string, string) {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	simState := filepath.Join(dir, "sim-state.json")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	if err := sim.Init(simState, scenario); err != nil {
		t.Fatal(err)
	}
	cfg := agent.DefaultConfig()
	cfg.Name = name
	cfg.ApprovalPublicKey = filepath.Join(certs, agent.ApprovalPublicKeyFile)
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = agent.TLSFiles{Cert: filepath.Join(certs, "agent.pem"), Key: filepath.Join(certs, "agent-key.pem"), ClientCA: filepath.Join(certs, "ca.pem")}
	cfg.Rake = agent.Program{Path: exe, Args: []string{"rake"}}
	cfg.Ctl = agent.Program{Path: exe, Args: []string{"ctl"}}
	cfg.Env = simJobEnv(simState)
	cfg.StateDir = filepath.Join(dir, "agent")
	if adjust != nil {
		adjust(&cfg)
	}
	srv, err := agent.NewServer(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if wrap != nil {
		ln = wrap(ln)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return "https://" + ln.Addr().String(), simState
}

// simJobEnv is the environment the agent gives the simulator's jobs.
func simJobEnv(simState string) []string {
	return []string{simEnv + "=1", "GITLAB_SIM_STATE=" + simState, "GITLAB_SIM_SPEED=0"}
}

// SimCommand is the command the Stack's agent runs for op with args,
// without the agent: the same program (this test binary as gitlab-sim),
// arguments, environment and simulator state, for a benchmark's baseline
// (what the bot and the agent add to the command itself). It assumes the
// default agent configuration (Options.Agent not changing the programs or
// their environment).
func (s *Stack) SimCommand(ctx context.Context, op string, args gitlab.Args) (*exec.Cmd, error) {
	o, err := gitlab.Lookup(op)
	if err != nil {
		return nil, err
	}
	c, err := o.Command(args)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", op, err)
	}
	exe, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("the simulator is this test binary: %w", err)
	}
	sub := "rake"
	if c.Program == gitlab.Ctl {
		sub = "ctl"
	}
	cmd := exec.CommandContext(ctx, exe, append([]string{sub}, c.Args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "LANG=C.UTF-8"}, simJobEnv(s.SimState)...)
	return cmd, nil
}

// newClient is the bot's mTLS client of the agent at url.
func newClient(t testing.TB, certs, url string) *agent.Client {
	t.Helper()
	c, err := agent.NewClient(agent.ClientConfig{
		URL:    url,
		CAFile: filepath.Join(certs, "ca.pem"), CertFile: filepath.Join(certs, "bot.pem"), KeyFile: filepath.Join(certs, "bot-key.pem"),
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// SimSpeed sets the simulator's GITLAB_SIM_SPEED in an agent's
// configuration (1: GitLab's real delays, e.g. Rails booting for 0.8 s;
// 0: none, the Stack's default), for Options.Agent.
func SimSpeed(cfg *agent.Config, speed string) {
	for i, e := range cfg.Env {
		if strings.HasPrefix(e, "GITLAB_SIM_SPEED=") {
			cfg.Env[i] = "GITLAB_SIM_SPEED=" + speed
		}
	}
}
