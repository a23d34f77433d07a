package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/sim"
)

// simHostName is the simulated host's name, in the bot and in the agent.
const simHostName = "gitlab-sim"

// startSimulatedAgent runs a real agent in this process, with real mutual
// TLS on 127.0.0.1, whose gitlab-rake and gitlab-ctl are this executable
// re-run as the simulator. Only the GitLab underneath is simulated.
func startSimulatedAgent(ctx context.Context, dir, scenario, speed string, log *slog.Logger) (commands.Host, func(), error) {
	exe, err := os.Executable()
	if err != nil {
		return commands.Host{}, nil, fmt.Errorf("finding this executable for the simulator: %w", err)
	}
	certs := filepath.Join(dir, "certs")
	if _, err := os.Stat(filepath.Join(certs, "ca.pem")); errors.Is(err, os.ErrNotExist) {
		if err := agent.GenerateCerts(certs, []string{"localhost"}, 24*time.Hour); err != nil {
			return commands.Host{}, nil, err
		}
	}
	// A state dir made before approval keys existed gets them now.
	if _, err := os.Stat(filepath.Join(certs, agent.ApprovalKeyFile)); errors.Is(err, os.ErrNotExist) {
		if err := agent.GenerateApprovalKeys(certs); err != nil {
			return commands.Host{}, nil, err
		}
	}
	signer, err := agent.LoadApprovalSigner(filepath.Join(certs, agent.ApprovalKeyFile))
	if err != nil {
		return commands.Host{}, nil, err
	}
	simState := filepath.Join(dir, "sim-state.json")
	if _, err := os.Stat(simState); errors.Is(err, os.ErrNotExist) {
		if err := sim.Init(simState, scenario); err != nil {
			return commands.Host{}, nil, err
		}
	}
	cfg := agent.DefaultConfig()
	cfg.Name = simHostName
	cfg.ApprovalPublicKey = filepath.Join(certs, agent.ApprovalPublicKeyFile)
	cfg.Listen = "127.0.0.1:0"
	cfg.TLS = agent.TLSFiles{Cert: filepath.Join(certs, "agent.pem"), Key: filepath.Join(certs, "agent-key.pem"), ClientCA: filepath.Join(certs, "ca.pem")}
	cfg.Rake = agent.Program{Path: exe, Args: []string{"gitlab-sim", "rake"}}
	cfg.Ctl = agent.Program{Path: exe, Args: []string{"gitlab-sim", "ctl"}}
	cfg.Env = []string{"GITLAB_SIM_STATE=" + simState, "GITLAB_SIM_SPEED=" + speed}
	cfg.StateDir = filepath.Join(dir, "agent")
	cfg.Version = version + " (simulated GitLab)"
	srv, err := agent.NewServer(cfg, log)
	if err != nil {
		return commands.Host{}, nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return commands.Host{}, nil, fmt.Errorf("listening for the simulated agent: %w", err)
	}
	sctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		if err := srv.Serve(sctx, ln); err != nil && sctx.Err() == nil {
			log.Error("simulated agent stopped", "err", err)
		}
	}()
	client, err := agent.NewClient(agent.ClientConfig{
		URL:    "https://" + ln.Addr().String(),
		CAFile: filepath.Join(certs, "ca.pem"), CertFile: filepath.Join(certs, "bot.pem"), KeyFile: filepath.Join(certs, "bot-key.pem"),
	})
	if err != nil {
		cancel()
		<-done
		return commands.Host{}, nil, err
	}
	return commands.Host{Name: simHostName, Agent: client, Signer: signer}, func() { cancel(); <-done }, nil
}
