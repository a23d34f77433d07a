package agent

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// agentProc is the real gitlab-chatops-agent running as a separate process
// on 127.0.0.1, as in production.
type agentProc struct {
	cmd     *exec.Cmd
	url     string
	logPath string
	exited  chan struct{}
}

// writeAgentConfig writes a YAML configuration for a real agent process on
// a free loopback port and returns its path.
func writeAgentConfig(tb testing.TB, fake, certs, stateDir, extra string) string {
	tb.Helper()
	port := freePort(tb)
	yaml := fmt.Sprintf(`name: %s
approval_public_key: %s
listen: "127.0.0.1:%d"
tls:
  cert: %s
  key: %s
  client_ca: %s
  allowed_clients: [%s]
gitlab_rake: %s
gitlab_ctl: %s
state_dir: %s
kill_grace: 2s
shutdown_grace: 2s
metrics_listen: ""
%s`, testHostName, filepath.Join(certs, ApprovalPublicKeyFile), port, filepath.Join(certs, AgentFile), filepath.Join(certs, AgentKeyFile), filepath.Join(certs, CAFile), BotName,
		filepath.Join(fake, "gitlab-rake"), filepath.Join(fake, "gitlab-ctl"), stateDir, extra)
	path := filepath.Join(tb.TempDir(), "agent.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		tb.Fatal(err)
	}
	return path
}

// freePort finds a port on 127.0.0.1 that is free right now. Another
// process could take it before the agent binds it; the agent would then
// fail to start and the test says so.
func freePort(tb testing.TB) int {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// startAgentProc starts the agent with configPath and waits until it
// answers health checks.
func startAgentProc(tb testing.TB, configPath, certs string) *agentProc {
	tb.Helper()
	cfg, err := LoadConfig(configPath)
	if err != nil {
		tb.Fatal(err)
	}
	logFile, err := os.CreateTemp(tb.TempDir(), "agent-*.log")
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command(agentBinary(tb), "serve", "--config", configPath, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = logFile, logFile
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	logFile.Close()
	p := &agentProc{cmd: cmd, url: "https://" + cfg.Listen, logPath: logFile.Name(), exited: make(chan struct{})}
	go func() { cmd.Wait(); close(p.exited) }()
	tb.Cleanup(func() {
		p.signal(syscall.SIGKILL)
		<-p.exited
		if tb.Failed() {
			data, _ := os.ReadFile(p.logPath)
			tb.Logf("agent log (%s):\n%s", p.logPath, data)
		}
	})

	c := botClient(tb, p.url, certs)
	deadline := time.Now().Add(60 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		_, err := c.Health(ctx)
		cancel()
		if err == nil {
			return p
		}
		select {
		case <-p.exited:
			data, _ := os.ReadFile(p.logPath)
			tb.Fatalf("agent exited at start: %s\n%s", cmd.ProcessState, data)
		default:
		}
		if time.Now().After(deadline) {
			tb.Fatalf("agent not healthy within 60s: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (p *agentProc) signal(sig syscall.Signal) {
	select {
	case <-p.exited:
	default:
		p.cmd.Process.Signal(sig)
	}
}

// kill stops the agent abruptly (SIGKILL: no shutdown code runs).
func (p *agentProc) kill(tb testing.TB) {
	tb.Helper()
	p.signal(syscall.SIGKILL)
	select {
	case <-p.exited:
	case <-time.After(60 * time.Second):
		tb.Fatal("agent did not die")
	}
}

// pid is the agent's process ID.
func (p *agentProc) pid() int { return p.cmd.Process.Pid }
