package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/console"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/sim"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

func runConsole(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	return runConsoleWith(ctx, args, stdin, stdout, stderr, nil)
}

// runConsoleWith is the console; clock is its scheduler's (nil: the system
// clock), which tests move by hand.
func runConsoleWith(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer, clock schedule.Clock) error {
	fs := flag.NewFlagSet("console", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "bot configuration `FILE` (YAML)")
	simulate := fs.Bool("simulate", false, "run an in-process agent over a SIMULATED GitLab (no setup needed)")
	scenario := fs.String("scenario", "default", "simulator scenario: "+strings.Join(sim.ScenarioNames(), ", "))
	stateDir := fs.String("state-dir", "", "where --simulate keeps its database, certificates and simulator state (default: a new temporary directory)")
	simSpeed := fs.String("sim-speed", "0.3", "simulator delay multiplier (0 = instant)")
	channel := fs.String("channel", "#ops", "the console's channel name")
	verbose := fs.Bool("v", false, "log to stderr at debug level")
	var schedFlags scheduleFlag
	fs.Var(&schedFlags, "schedule", "a scheduled post into the console's channel: \"<cron spec> <what> [--when always|changed|problems] [--tz ZONE] [--host NAME|all]\", e.g. \"@every 1m status --when changed\" (repeatable; ids c1, c2, …)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if !*simulate && *configPath == "" {
		return exitError{2, fmt.Errorf("console needs --config FILE, or --simulate to try it against a simulated GitLab")}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelDebug
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))

	cfg := config{approval: approvals.Policy{}.WithDefaults()}
	if *configPath != "" {
		var err error
		if cfg, err = loadConfig(*configPath, use{simulate: *simulate, console: true}, os.Getenv); err != nil {
			return err
		}
	}
	if cfg.Channel != "" && *channel == "#ops" {
		*channel = cfg.Channel
	}
	policy := cfg.approval
	var err error

	var (
		hosts  []commands.Host
		simDir string
	)
	if *simulate {
		dir := *stateDir
		if dir == "" {
			if dir, err = os.MkdirTemp("", "gitlab-chatops-sim-"); err != nil {
				return fmt.Errorf("creating a state directory: %w", err)
			}
			defer os.RemoveAll(dir)
		}
		simDir = dir
		h, stopAgent, err := startSimulatedAgent(ctx, dir, *scenario, *simSpeed, log)
		if err != nil {
			return err
		}
		defer stopAgent()
		hosts = append(hosts, h)
		if cfg.Store == "" {
			cfg.Store = filepath.Join(dir, "gitlab-chatops.db")
		}
		if cfg.Audit.Channel == "" {
			cfg.Audit.Channel = "#audit" // where `audit anchor` posts
		}
		fmt.Fprintf(stdout, "gitlab-chatops console: SIMULATED GitLab (scenario %q) behind a real in-process agent with mutual TLS; nothing real is touched.\nState in %s\n", *scenario, dir)
	}
	more, err := agentHosts(cfg.Hosts, cfg.ApprovalKey)
	if err != nil {
		return err
	}
	hosts = append(hosts, more...)
	key, err := auditKey(cfg.Audit.KeyFile, os.Getenv)
	if err != nil && *simulate && cfg.Audit.KeyFile == "" {
		var path string
		if key, path, err = devAuditKey(simDir); err == nil {
			fmt.Fprintf(stdout, "Development audit key in %s (verify with: gitlab-chatops audit verify --db %s --key-file %s)\n", path, cfg.Store, path)
		}
	}
	if err != nil {
		return exitError{2, err}
	}
	db, err := storage.Open(cfg.Store, storage.Options{AuditKey: key})
	if err != nil {
		return err
	}
	defer db.Close()
	// The audit commands read the store through this socket while the
	// console holds it, as with serve. The console is a tool: without the
	// socket it still runs. Stopped (deferred after db.Close, so run
	// before it) before the store closes.
	if admin, err := listenAdmin(db, log, adminSocketPath(cfg.AdminSocket, cfg.Store)); err != nil {
		log.Warn("no admin socket: audit verify, export and tail cannot read the store while the console runs", "err", err)
	} else {
		actx, stopAdmin := context.WithCancel(context.WithoutCancel(ctx))
		adminDone := make(chan error, 1)
		go func() { adminDone <- admin.run(actx) }()
		defer func() {
			stopAdmin()
			if err := <-adminDone; err != nil {
				log.Warn("admin socket", "err", err)
			}
		}()
	}
	var sopts []approvals.Option
	rkey, err := reauthKey(cfg.Reauth.KeyFile, os.Getenv)
	if err != nil {
		return exitError{2, err}
	}
	if rkey != nil {
		sopts = append(sopts, approvals.WithReauth(db, rkey, nil))
	}
	svc, err := approvals.NewService(db, policy, sopts...)
	if err != nil {
		return err
	}
	router, err := commands.New(commands.Options{Hosts: hosts, Approvals: svc, Audit: db, AuditChannel: cfg.Audit.Channel, Logger: log})
	if err != nil {
		return err
	}
	// Post IDs carry a tag of this run, so replies a restarted bot makes
	// under an earlier run's posts never collide with this run's IDs.
	con := console.NewTagged(stdout, *channel, strconv.FormatInt(time.Now().Unix()%46656, 36)+".")
	con.SetLogger(log)
	// The console is an adapter like any other: its Chat is registered,
	// its Run hands the typed lines to the router.
	var adapter bot.Adapter = con
	router.Register(adapter.Chat())
	if err := router.Start(ctx); err != nil {
		return err
	}
	defer router.Close()
	scheds, err := consoleSchedules(cfg.schedules, schedFlags, *channel)
	if err != nil {
		return err
	}
	sched, err := newScheduler(scheds, db, router, nil, nil, clock, log, nil)
	if err != nil {
		return err
	}
	// The scheduler stops before the router closes (deferred after it).
	sctx, stopSched := context.WithCancel(ctx)
	schedDone := make(chan struct{})
	go func() {
		defer close(schedDone)
		if err := sched.Run(sctx); err != nil {
			log.Error("the scheduler stopped", "err", err)
		}
	}()
	defer func() { stopSched(); <-schedDone }()
	for _, s := range scheds {
		fmt.Fprintf(stdout, "Schedule %s: %s at %s %s, when %s, posts into %s; `/gitlab-migrations schedules run %s` runs it now.\n", s.ID, s.What, s.Spec, cmp.Or(s.TZ, "UTC"), cmp.Or(s.When, schedule.WhenAlways), s.Channel, s.ID)
	}
	fmt.Fprintln(stdout, `Type lines as "NAME: /gitlab-migrations SUBCOMMAND", e.g. "alice: /gitlab-migrations status"; "NAME: click approve ID" clicks a button; $LAST is the latest request ID. Ctrl-D ends.`)
	// Piped input runs one line at a time to completion, so a script can
	// approve the request the previous line opened ($LAST).
	var wait func()
	if !isTerminal(stdin) {
		wait = router.Wait
	}
	con.SetInput(stdin, wait)
	if err := adapter.Run(ctx, router); err != nil && ctx.Err() == nil {
		return err
	}
	router.Wait()
	return nil
}

func isTerminal(r io.Reader) bool {
	f, ok := r.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
