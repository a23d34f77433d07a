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
	"github.com/gitlab-chatops/gitlab-chatops/bot/mattermost"
	"github.com/gitlab-chatops/gitlab-chatops/bot/slack"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
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
	return serve(ctx, cfg, log, os.Getenv)
}

// serve runs the bot on the platforms cfg configures until ctx ends (main
// ends it on SIGINT/SIGTERM) or an adapter fails. slackOpts are extra
// options for the Slack adapter (tests point it at a fake API).
//
// Shutdown order, so that nothing touches the router or the store after
// they close: the adapters stop listening and wait for their in-flight
// handlers (and the calls those made into the router); then the router
// stops its background work; then the refusal counter is flushed; then the
// store closes. If one adapter fails, the others are stopped the same way
// and serve returns the failure.
func serve(ctx context.Context, cfg config, log *slog.Logger, getenv func(string) string, slackOpts ...slack.Option) error {
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
	db, err := storage.Open(cfg.Store, storage.Options{AuditKey: key})
	if err != nil {
		return err
	}
	defer db.Close()

	// The service exists before the adapters (it needs their group
	// resolvers only when a decision is made, through groups).
	var groups anyGroup
	svc, err := approvals.NewService(db, policy, approvals.WithGroupResolver(&groups))
	if err != nil {
		return err
	}
	// Refused inbound calls (bad signature, token or HMAC) are audited,
	// one entry per source address and minute with the count and the
	// first reason, so unauthenticated traffic cannot grow the trail
	// without bound. Closed (flushed) before the database.
	refusals := svc.NewRefusalCounter(func(err error) { log.Error("audit append failed", "action", approvals.ActionAuthRefused, "err", err) })
	defer refusals.Close()
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
		opts := append([]slack.Option{slack.WithLogger(log), slack.WithOnRefused(refused("slack"))}, slackOpts...)
		if sl, err = slack.New(*cfg.Slack, opts...); err != nil {
			return err
		}
		groups = append(groups, sl)
	}
	if cfg.Mattermost != nil {
		if mm, err = mattermost.New(*cfg.Mattermost, mattermost.Options{Logger: log, OnRefused: refused("mattermost")}); err != nil {
			return err
		}
		groups = append(groups, mm)
	}
	router, err := commands.New(commands.Options{Hosts: hosts, Approvals: svc, Audit: db, AuditChannel: cfg.Audit.Channel, Logger: log})
	if err != nil {
		return err
	}
	if sl != nil {
		router.Register(sl)
	}
	if mm != nil {
		router.Register(mm)
	}
	// The router's work outlives ctx until the adapters have drained: a
	// click in flight at SIGTERM still finds its router. router.Close
	// (deferred, so before the refusal counter and the store) ends it.
	if err := router.Start(context.WithoutCancel(ctx)); err != nil {
		return err
	}
	defer router.Close()

	// Every call the adapters make into the router is counted, so that the
	// router closes only after the last one; calls after the drain began
	// are refused, not started.
	calls := &inflight{}
	h := &drainingHandler{h: router, calls: calls}
	var adapters []adapterRun
	if sl != nil {
		adapters = append(adapters, adapterRun{"slack", func(ctx context.Context) error { return sl.Run(ctx, h) }})
	}
	if mm != nil {
		srv := &http.Server{Addr: cfg.Mattermost.Listen, Handler: mm.HTTPHandler(h), ReadHeaderTimeout: 10 * time.Second}
		adapters = append(adapters, adapterRun{"mattermost", func(ctx context.Context) error { return serveHTTP(ctx, srv, shutdownGrace) }})
	}
	// The audit commands read the trail through this socket while serve
	// holds the store's lock; it stops with the adapters, before the
	// store closes.
	admin, err := listenAdmin(db, log, adminSocketPath(cfg.AdminSocket, cfg.Store))
	if err != nil {
		return err
	}
	adapters = append(adapters, adapterRun{"admin socket", admin.run})
	log.Info("gitlab-chatops serving", "slack", sl != nil, "mattermost", mm != nil, "hosts", len(hosts))
	err = runAdapters(ctx, log, adapters)
	calls.drain()
	log.Info("gitlab-chatops stopping: adapters drained; closing the router, then the store", "err", err)
	return err
}

// anyGroup asks every connected platform: Slack user groups and Mattermost
// approver channels have distinct IDs, so a user is a member if any
// platform says so. A platform that does not know the group answers with
// an error (a Slack group ID is no Mattermost channel), so a definite "no"
// from one platform outweighs errors from the others; only when no
// platform could answer is the error returned, and the approval refused
// with it.
type anyGroup []approvals.GroupResolver

func (g anyGroup) IsMember(ctx context.Context, group, userID string) (bool, error) {
	var (
		errs     []error
		answered bool
	)
	for _, r := range g {
		ok, err := r.IsMember(ctx, group, userID)
		if ok {
			return true, nil
		}
		if err != nil {
			errs = append(errs, err)
		} else {
			answered = true
		}
	}
	if answered {
		return false, nil
	}
	return false, errors.Join(errs...)
}
