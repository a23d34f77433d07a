package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics"
)

// serveFlags are serve's flags; the --simulate ones are ignored otherwise.
type serveFlags struct {
	config    string
	logLevel  string
	logFormat string
	simulate  bool
	sim       simFlags
	// metricsListen overrides metrics_listen when metricsSet.
	metricsListen string
	metricsSet    bool
}

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	var f serveFlags
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&f.config, "config", "", "the YAML configuration file (see packaging/agent.example.yaml)")
	fs.StringVar(&f.logLevel, "log-level", "info", "debug, info, warn or error")
	fs.StringVar(&f.logFormat, "log-format", "text", "text or json")
	fs.BoolVar(&f.simulate, "simulate", false, "serve a SIMULATED GitLab (gitlab-sim) on 127.0.0.1 without TLS, for development")
	fs.StringVar(&f.metricsListen, "metrics-listen", "", "`ADDR` of the separate listener for /metrics and /healthz, overriding metrics_listen (\"\" for none; with --simulate there is none unless given)")
	f.sim.register(fs)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	fs.Visit(func(fl *flag.Flag) {
		f.sim.scenarioSet = f.sim.scenarioSet || fl.Name == "scenario"
		f.metricsSet = f.metricsSet || fl.Name == "metrics-listen"
	})
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "gitlab-chatops-agent serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	log, err := newLogger(stderr, f.logLevel, f.logFormat)
	if err != nil {
		fmt.Fprintln(stderr, "gitlab-chatops-agent:", err)
		return 2
	}

	var cfg agent.Config
	switch {
	case f.simulate && f.config != "":
		fmt.Fprintln(stderr, "gitlab-chatops-agent: --simulate and --config exclude each other: the simulator brings its own configuration")
		return 2
	case f.simulate:
		cfg, err = simulateConfig(f.sim, stderr, log)
	case f.config != "":
		cfg, err = agent.LoadConfig(f.config)
	default:
		fmt.Fprintln(stderr, "gitlab-chatops-agent serve: --config FILE is required (or --simulate for a simulated GitLab)")
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "gitlab-chatops-agent:", err)
		return 2 // a configuration that cannot be used
	}
	cfg.Version = agentVersion()
	if f.metricsSet {
		cfg.MetricsListen = f.metricsListen
		if err := cfg.Validate(); err != nil {
			fmt.Fprintln(stderr, "gitlab-chatops-agent: --metrics-listen:", err)
			return 2
		}
	}

	// SIGINT/SIGTERM: graceful shutdown (no new jobs; running ones get
	// shutdown_grace, then are killed and recorded as interrupted).
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	m := metrics.NewAgent()
	srv, err := agent.NewServer(cfg, log, agent.WithObserver(m))
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	metricsDone, err := startMetrics(ctx, cfg, m, srv, log)
	if err != nil {
		log.Error("cannot start", "err", err)
		return 1
	}
	err = srv.ListenAndServe(ctx)
	stop() // the mTLS side ended (by signal or failure): stop the metrics too
	<-metricsDone
	if err != nil {
		log.Error("agent failed", "err", err)
		return 1
	}
	return 0
}

func newLogger(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("--log-level %q: use debug, info, warn or error", level)
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("--log-format %q: use text or json", format)
}

// stateDirFor returns dir, or a new temporary directory when dir is empty.
func stateDirFor(dir string) (string, error) {
	if dir != "" {
		return dir, os.MkdirAll(dir, 0o700)
	}
	return os.MkdirTemp("", "gitlab-chatops-agent-sim-")
}
