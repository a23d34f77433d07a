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
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics"
	"github.com/gitlab-chatops/gitlab-chatops/internal/transport"
	"github.com/gitlab-chatops/gitlab-chatops/leader"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
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
// serve owns one http.ServeMux on one listener (cfg.Listen: each
// adapter's endpoints unless it has a listener of its own, /healthz,
// /readyz, /metrics) and one errgroup (group.go) that runs every
// goroutine of its lifetime. Adapters are built from the configuration
// through the platforms list and wired alike (wireAdapter).
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
	// The store: the bbolt file, or etcd (backend.go). Nothing below
	// names which.
	db, err := openBackend(ctx, cfg, key)
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
	sopts := append(groups.options(platformNames()), approvals.WithObserver(m))
	// Approvers' TOTP enrolments live in the store, their secrets sealed
	// with the reauth key (never logged); without a key, enroll is off
	// (the configuration check refused a policy.reauth asking for TOTP).
	rkey, err := reauthKey(cfg.Reauth.KeyFile, getenv)
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
	// Every configured platform's adapter, built and wired the same way
	// (platforms.go): no platform is named below.
	// On etcd, replayed and redelivered inbound requests are recognised
	// by every replica (the adapters' Seen).
	var seenErr error
	adapters, err := buildAdapters(cfg, func(platform string) bot.Setup {
		seen, err := db.seen(platform)
		seenErr = errors.Join(seenErr, err)
		return bot.Setup{Logger: log, OnRefused: refused(platform), APIObserver: m, HTTPTransport: transport.RoundTripper(transport.Options{}), Seen: seen}
	})
	if err = errors.Join(err, seenErr); err != nil {
		return err
	}
	for _, a := range adapters {
		if g := a.Groups(); g != nil {
			groups.set(a.Name(), g)
		}
	}
	// One leadership gates the once-only work: recovery, the expiry sweep
	// and anchors (router), scheduled posts (scheduler). On bbolt the one
	// process is always leader; on etcd the replicas elect one (one
	// campaign per replica, shared by the router and the scheduler; it
	// runs in the group below).
	// On etcd the replicas also share who follows each running job (one
	// replica each; the leader adopts a job whose follower died) and the
	// schedules' run and tick claims (a tick fires once across replicas).
	var (
		lead     leader.Leadership = leader.Always{}
		election *leader.Shared
		owners   commands.Owners // nil: this process's own
		claims   schedule.Claims // nil: this process's own
	)
	if db.cluster != nil {
		name := replicaName()
		election = leader.NewShared(etcd.NewElection(db.cluster, name, log))
		lead = election
		owners = etcd.NewOwners(db.cluster, name, log)
		claims = etcd.NewScheduleClaims(db.cluster)
	}
	if err := m.WatchLeader(lead.IsLeader); err != nil {
		return err
	}
	router, err := commands.New(commands.Options{Hosts: hosts, Approvals: svc, Audit: db, AuditChannel: cfg.Audit.Channel, Logger: log, Observer: m, Leadership: lead, Owners: owners})
	if err != nil {
		return err
	}
	for _, a := range adapters {
		router.Register(a.Chat())
	}
	// Scheduled posts: the configuration's, and those added from chat.
	sched, err := newScheduler(cfg.schedules, db, router, lead, claims, nil, log, func(sc schedule.Schedule, outcome string) { m.ScheduledRun(sc.ID, outcome) })
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
	// Adapters with a listener of their own (mattermost.listen) have it
	// bound here too.
	own := map[string]net.Listener{}
	for _, a := range adapters {
		if hs, ok := a.(bot.HTTPServed); ok && hs.HTTPListen() != "" {
			ln, err := listen(a.Name()+".listen", hs.HTTPListen())
			if err != nil {
				return err
			}
			closing.push(func() { _ = ln.Close() })
			own[a.Name()] = ln
		}
	}
	// The audit commands read a bbolt trail through this socket while
	// serve holds the file's lock; it stops with the group, before the
	// store closes. On etcd they read etcd themselves.
	var admin *adminServer
	if db.db != nil {
		if admin, err = listenAdmin(db.db, log, adminSocketPath(cfg.AdminSocket, cfg.Store)); err != nil {
			return err
		}
		closing.push(func() { _ = admin.ln.Close() }) // closed already, unless serving never began
	}

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
	ready := &readiness{checks: []*cachedCheck{storeCheck(db.kind, db.Probe, log)}}
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
	for _, a := range adapters {
		wireAdapter(ctx, a, wiring{h: h, mux: mux, own: own[a.Name()], grp: grp, ready: ready, closing: &closing, grace: cfg.grace, log: log})
	}
	srv := newHTTPServer(ctx, mux, log)
	grp.Serve("listen "+cfg.Listen, func(ctx context.Context) error { return serveHTTP(ctx, srv, main, cfg.grace) })
	if admin != nil {
		grp.Serve("admin socket", admin.run)
	}
	if election != nil {
		// Ends the terms, and resigns, when the group stops.
		grp.Serve("leader election", func(ctx context.Context) error {
			if err := election.Run(ctx); ctx.Err() == nil {
				return err
			}
			return nil
		})
	}
	grp.Serve("scheduler", sched.Run) // fires schedules while leader; returns once ctx ended and its runs are done
	// Further goroutines of serve's lifetime join the group here:
	// grp.Serve(name, run) for loops that run until the group stops.

	log.Info("gitlab-chatops serving", "listen", main.Addr().String(), "platforms", adapterNames(adapters), "own_listeners", len(own), "hosts", len(hosts), "storage", db.kind, "storage_at", db.where, "shutdown_grace", cfg.grace.String())
	err = grp.Wait()
	left := grp.left(cfg.grace)
	log.Info("gitlab-chatops stopping: listeners closed; waiting for the calls in flight, then closing the router and the store", "err", err, "grace_left", left.Round(time.Millisecond).String())
	if !closing.runWithin(left) {
		err = errors.Join(err, fmt.Errorf("shutdown_grace (%s) passed before the calls in flight, the router and the store were done; stopping without waiting for them (running jobs are re-attached at the next start)", cfg.grace))
		log.Error("shutdown_grace passed; exiting without waiting further", "shutdown_grace", cfg.grace.String())
	}
	return err
}
