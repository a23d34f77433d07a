package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/mattermost"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics"
	"github.com/gitlab-chatops/gitlab-chatops/leader"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// runServe connects the bot to Slack and/or Mattermost as configured and
// runs until ctx ends (SIGINT/SIGTERM).
func runServe(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "bot configuration `FILE` (YAML)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *configPath == "" {
		return exitError{2, errors.New("serve needs --config FILE (see README: Configuring the bot)")}
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return exitError{2, fmt.Errorf("--log-level %q: use debug, info, warn or error", *logLevel)}
	}
	log := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))
	cfg, err := loadConfig(*configPath, use{serve: true}, os.Getenv)
	if err != nil {
		return err
	}
	err = serve(ctx, cfg, log, os.Getenv)
	if errors.Is(err, bot.ErrCredentialsRefused) {
		// Only the configuration (a token) can fix it: exit as a
		// configuration error does, which the unit does not restart.
		return exitError{2, err}
	}
	return err
}

// serve runs the bot on the platforms cfg configures until ctx ends (main
// ends it on SIGINT/SIGTERM) or a part of it fails.
//
// serve owns one http.ServeMux on one listener (cfg.Listen: the Slack
// endpoints, Mattermost's unless mattermost.listen gives them their own,
// /healthz, /readyz) and one errgroup (group.go) that runs every
// goroutine of its lifetime.
//
// Shutdown order, so that nothing touches the router or the store after
// they close: the listeners stop accepting and wait for their in-flight
// requests, and the adapters for the handler calls they started; then
// the last call into the router is awaited; then the router stops its
// background work (running jobs stay running on the agents and are
// re-attached at the next start); then the refusal counter is flushed;
// then the store closes. The whole shutdown is bounded by
// shutdown_grace: past it, serve returns an error without waiting
// further. If one part fails, the others are stopped the same way and
// serve returns the failure.
func serve(ctx context.Context, cfg config, log *slog.Logger, getenv func(string) string) (err error) {
	if cfg.Policy.AnyoneMayApprove {
		log.Warn("policy.anyone_may_approve is true: any second person may approve migrate, finalize and restart")
	}
	policy := cfg.approval
	hosts, err := agentHosts(cfg.Hosts, cfg.ApprovalKey)
	if err != nil {
		return err
	}
	key, err := auditKey(cfg.Audit.KeyFile, getenv)
	if err != nil {
		return exitError{2, err}
	}
	// Everything opened from here on is closed in reverse order by
	// closing: at once on an early return, bounded by shutdown_grace at
	// the end.
	var closing stack
	defer closing.run()
	db, err := storage.Open(cfg.Store, storage.Options{AuditKey: key})
	if err != nil {
		return err
	}
	closing.push(func() { _ = db.Close() })

	// The service exists before the adapters (it needs their group
	// resolvers only when a decision is made, through groups).
	groups := lateGroups{}
	// The metrics of this process (/metrics): every observed package
	// reports into m, through its own observer interface.
	m := metrics.NewBot()
	svc, err := approvals.NewService(db, policy, append(groups.options(cfg.platforms()), approvals.WithObserver(m))...)
	if err != nil {
		return err
	}
	// Refused inbound calls (bad signature, token or HMAC) are audited,
	// one entry per source address and minute with the count and the
	// first reason, so unauthenticated traffic cannot grow the trail
	// without bound. Closed (flushed) before the database.
	refusals := svc.NewRefusalCounter(func(err error) { log.Error("audit append failed", "action", approvals.ActionAuthRefused, "err", err) })
	closing.push(refusals.Close)
	refused := func(platform string) func(context.Context, string, *http.Request) {
		return func(ctx context.Context, reason string, r *http.Request) {
			source := r.RemoteAddr
			if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
				source = host
			}
			if refusals.Refused(platform+" "+source, fmt.Sprintf("%s %s", reason, r.URL.Path)) {
				log.Warn("refused an unauthenticated call; further ones from this source this minute are counted into one audit entry", "platform", platform, "source", source, "reason", reason)
			}
		}
	}
	var (
		sl *slack.Adapter
		mm *mattermost.Adapter
	)
	if cfg.Slack != nil {
		if sl, err = slack.New(*cfg.Slack, slack.WithLogger(log), slack.WithOnRefused(refused("slack")), slack.WithAPIObserver(m)); err != nil {
			return err
		}
		groups.set(slack.Platform, sl)
	}
	if cfg.Mattermost != nil {
		if mm, err = mattermost.New(*cfg.Mattermost, mattermost.Options{Logger: log, OnRefused: refused("mattermost"), APIObserver: m}); err != nil {
			return err
		}
		groups.set(mattermost.Platform, mm)
	}
	// One leadership gates the once-only work: recovery, the expiry sweep
	// and anchors (router), scheduled posts (scheduler). One process is
	// always leader; a replicated deployment plugs its election in here.
	var lead leader.Leadership = leader.Always{}
	router, err := commands.New(commands.Options{Hosts: hosts, Approvals: svc, Audit: db, AuditChannel: cfg.Audit.Channel, Logger: log, Observer: m, Leadership: lead})
	if err != nil {
		return err
	}
	if sl != nil {
		router.Register(sl)
	}
	if mm != nil {
		router.Register(mm)
	}
	// Scheduled posts: the configuration's, and those added from chat.
	sched, err := newScheduler(cfg.schedules, db, router, lead, nil, log, func(sc schedule.Schedule, outcome string) { m.ScheduledRun(sc.ID, outcome) })
	if err != nil {
		return err
	}

	// The listeners are bound before anything starts: a taken port fails
	// serve at once, naming its key.
	main, err := listen("listen", cfg.Listen)
	if err != nil {
		return err
	}
	closing.push(func() { _ = main.Close() }) // closed already, unless serving never began
	var mmListener net.Listener
	if mm != nil && cfg.Mattermost.Listen != "" {
		if mmListener, err = listen("mattermost.listen", cfg.Mattermost.Listen); err != nil {
			return err
		}
		closing.push(func() { _ = mmListener.Close() })
	}
	// The audit commands read the trail through this socket while serve
	// holds the store's lock; it stops with the group, before the store
	// closes.
	admin, err := listenAdmin(db, log, adminSocketPath(cfg.AdminSocket, cfg.Store))
	if err != nil {
		return err
	}
	closing.push(func() { _ = admin.ln.Close() }) // closed already, unless serving never began

	// The router's work outlives ctx until the adapters have drained: a
	// click in flight at SIGTERM still finds its router. router.Close
	// (in closing, so before the refusal counter and the store) ends it.
	if err := router.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	closing.push(router.Close)

	// Every call the adapters make into the router is counted, so that the
	// router closes only after the last one; calls after the drain began
	// are refused, not started.
	calls := &inflight{}
	h := &drainingHandler{h: router, calls: calls}
	closing.push(calls.drain)
	grp := newGroup(ctx, log)
	ready := &readiness{checks: []*cachedCheck{dbCheck(db.Probe, log)}}
	probes := map[string]metrics.Probe{} // agent_up shares /readyz's cached health calls
	for _, host := range hosts {
		c := agentCheck(host.Name, host.Agent, log)
		ready.checks = append(ready.checks, c)
		probes[host.Name] = c.probe
	}
	if err := watchBot(m, svc, probes); err != nil {
		return err
	}

	// serve's one mux. Another endpoint on the main listener is one line
	// here (mux.Handle(path, handler)).
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthz)
	mux.Handle("GET /readyz", ready)
	mux.Handle("GET /metrics", m.Handler())
	if sl != nil {
		mux.Handle("/slack/", sl.HTTPHandler(h))
		reach := &reached{name: slack.Platform, call: "auth.test"}
		ready.platforms = append(ready.platforms, reach)
		grp.Go("slack start check", func(ctx context.Context) error { return reach.run(ctx, sl.Reach, log) })
		// Socket Mode, in socket mode; in http mode it waits for the group.
		grp.Serve("slack", func(ctx context.Context) error { return sl.Run(ctx, h) })
		closing.push(sl.Wait) // handler calls that outlived their ack, queued messages
	}
	if mm != nil {
		reach := &reached{name: mattermost.Platform, call: "GetMe"}
		ready.platforms = append(ready.platforms, reach)
		grp.Go("mattermost start check", func(ctx context.Context) error { return reach.run(ctx, mm.Reach, log) })
		if mmListener != nil {
			srv := newHTTPServer(ctx, mm.HTTPHandler(h), log)
			grp.Serve("mattermost", func(ctx context.Context) error { return serveHTTP(ctx, srv, mmListener, cfg.grace) })
		} else {
			mux.Handle("/mattermost/", mm.HTTPHandler(h))
		}
	}
	srv := newHTTPServer(ctx, mux, log)
	grp.Serve("listen "+cfg.Listen, func(ctx context.Context) error { return serveHTTP(ctx, srv, main, cfg.grace) })
	grp.Serve("admin socket", admin.run)
	grp.Serve("scheduler", sched.Run) // fires schedules while leader; returns once ctx ended and its runs are done
	// Further goroutines of serve's lifetime join the group here:
	// grp.Serve(name, run) for loops that run until the group stops.

	log.Info("gitlab-chatops serving", "listen", main.Addr().String(), "slack", sl != nil, "mattermost", mm != nil, "mattermost_listen", cfg.Mattermost != nil && cfg.Mattermost.Listen != "", "hosts", len(hosts), "shutdown_grace", cfg.grace.String())
	err = grp.Wait()
	left := grp.left(cfg.grace)
	log.Info("gitlab-chatops stopping: listeners closed; waiting for the calls in flight, then closing the router and the store", "err", err, "grace_left", left.Round(time.Millisecond).String())
	if !closing.runWithin(left) {
		err = errors.Join(err, fmt.Errorf("shutdown_grace (%s) passed before the calls in flight, the router and the store were done; stopping without waiting for them (running jobs are re-attached at the next start)", cfg.grace))
		log.Error("shutdown_grace passed; exiting without waiting further", "shutdown_grace", cfg.grace.String())
	}
	return err
}
