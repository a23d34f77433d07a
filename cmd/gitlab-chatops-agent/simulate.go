package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/sim"
)

// The simulator mode runs the real agent, insecure on 127.0.0.1, with
// gitlab-rake and gitlab-ctl replaced by this very executable's hidden
// gitlab-sim subcommand, which keeps a pretend GitLab in
// <state_dir>/sim-state.json. Everything else (catalogue, argv building,
// process groups, records, streaming) is the production code path.

type simFlags struct {
	port     int
	stateDir string
	scenario string
	speed    string
	// scenarioSet: --scenario was given explicitly.
	scenarioSet bool
}

func (s *simFlags) register(fs *flag.FlagSet) {
	fs.IntVar(&s.port, "port", 8765, "with --simulate: the port on 127.0.0.1")
	fs.StringVar(&s.stateDir, "state-dir", "", "with --simulate: the state directory (default: a new temporary one)")
	fs.StringVar(&s.scenario, "scenario", "default", "with --simulate: the simulated GitLab's scenario (see gitlab-chatops-agent gitlab-sim scenarios)")
	fs.StringVar(&s.speed, "sim-speed", "", "with --simulate: GITLAB_SIM_SPEED for the simulator (1 = realistic delays, 0 = none)")
}

const simStateName = "sim-state.json"

// simHostName is the simulated agent's name: the bot's hosts[].name.
const simHostName = "gitlab-sim"

func simulateConfig(f simFlags, banner io.Writer, log *slog.Logger) (agent.Config, error) {
	if f.port < 0 || f.port > 65535 {
		return agent.Config{}, fmt.Errorf("--port %d: use 0 to 65535", f.port)
	}
	exe, err := os.Executable()
	if err != nil {
		return agent.Config{}, fmt.Errorf("simulate: find own executable: %w", err)
	}
	stateDir, err := stateDirFor(f.stateDir)
	if err != nil {
		return agent.Config{}, fmt.Errorf("simulate: state dir: %w", err)
	}
	if stateDir, err = filepath.Abs(stateDir); err != nil {
		return agent.Config{}, fmt.Errorf("simulate: state dir: %w", err)
	}
	statePath := filepath.Join(stateDir, simStateName)

	// A given state dir keeps its simulated GitLab across restarts (so a
	// demo's migrations stay done) unless a scenario is asked for.
	_, statErr := os.Stat(statePath)
	if errors.Is(statErr, os.ErrNotExist) || f.scenarioSet {
		if err := sim.Init(statePath, f.scenario); err != nil {
			return agent.Config{}, fmt.Errorf("simulate: --scenario %s: %w", f.scenario, err)
		}
	} else if statErr != nil {
		return agent.Config{}, fmt.Errorf("simulate: %w", statErr)
	}

	// The simulator's agent checks approval statements like any other;
	// its key pair lives in the state dir, and the banner tells the bot's
	// configuration where the signing key is.
	if _, err := os.Stat(filepath.Join(stateDir, agent.ApprovalPublicKeyFile)); errors.Is(err, os.ErrNotExist) {
		if err := agent.GenerateApprovalKeys(stateDir); err != nil {
			return agent.Config{}, fmt.Errorf("simulate: %w", err)
		}
	}

	cfg := agent.DefaultConfig()
	cfg.Name = simHostName
	cfg.ApprovalPublicKey = filepath.Join(stateDir, agent.ApprovalPublicKeyFile)
	cfg.Insecure = true
	cfg.Listen = net.JoinHostPort("127.0.0.1", strconv.Itoa(f.port))
	cfg.StateDir = stateDir
	cfg.Rake = agent.Program{Path: exe, Args: []string{"gitlab-sim", "rake"}}
	cfg.Ctl = agent.Program{Path: exe, Args: []string{"gitlab-sim", "ctl"}}
	cfg.Env = []string{"GITLAB_SIM_STATE=" + statePath}
	if f.speed != "" {
		cfg.Env = append(cfg.Env, "GITLAB_SIM_SPEED="+f.speed)
	}
	if err := cfg.Validate(); err != nil {
		return agent.Config{}, fmt.Errorf("simulate: %w", err)
	}

	fmt.Fprintf(banner, `
  ###################################################################
  #  SIMULATED GitLab - NOT A REAL GITLAB HOST                       #
  #  gitlab-rake and gitlab-ctl are simulated by gitlab-sim;         #
  #  no real database or service is touched.                         #
  #  Plain HTTP without authentication, on 127.0.0.1 only.           #
  ###################################################################
  agent:     http://%s
  scenario:  %s
  sim state: %s
  state dir: %s
  bot host:  {name: %s, agent: "http://%s", approval_key: %s}

`, cfg.Listen, f.scenario, statePath, stateDir, cfg.Name, cfg.Listen, filepath.Join(stateDir, agent.ApprovalKeyFile))
	log.Warn("SIMULATED GitLab: gitlab-rake and gitlab-ctl are simulated; no real GitLab is touched",
		"scenario", f.scenario, "sim_state", statePath)
	return cfg, nil
}
