package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics"
)

// metricsHandler serves the agent's /metrics and /healthz. /healthz says
// only that the agent is alive (and whether it is draining) with its
// version: it is unauthenticated, so it names no job, request or person
// (the mTLS /v1/health does).
func metricsHandler(m *metrics.Agent, srv *agent.Server, version string) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", m.Handler())
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		status := "ok"
		if srv.Draining() {
			status = "draining"
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]string{"status": status, "version": version})
	})
	return mux
}

// serveMetrics serves h on ln until ctx ends. It is a separate listener,
// never the mTLS port: what it serves needs no client certificate.
func serveMetrics(ctx context.Context, ln net.Listener, h http.Handler, log *slog.Logger) error {
	srv := &http.Server{Handler: h, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: time.Minute,
		ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("metrics listener: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fmt.Errorf("metrics listener: %w", err)
	}
	return nil
}

// startMetrics listens on cfg.MetricsListen (nothing when it is empty),
// warning when that is not loopback, and serves the agent's metrics there
// until ctx ends. done is closed once the listener has stopped.
func startMetrics(ctx context.Context, cfg agent.Config, m *metrics.Agent, srv *agent.Server, log *slog.Logger) (done <-chan struct{}, err error) {
	ch := make(chan struct{})
	if cfg.MetricsListen == "" {
		close(ch)
		return ch, nil
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", cfg.MetricsListen)
	if err != nil {
		return nil, fmt.Errorf("metrics_listen %s: %w (set metrics_listen: \"\" to serve no metrics)", cfg.MetricsListen, err)
	}
	if cfg.MetricsExposed() {
		log.Warn("metrics_listen is not a loopback address: /metrics and /healthz are served there WITHOUT authentication; restrict it with a firewall", "metrics_listen", ln.Addr().String())
	}
	log.Info("agent metrics serving", "metrics_listen", ln.Addr().String())
	go func() {
		defer close(ch)
		if err := serveMetrics(ctx, ln, metricsHandler(m, srv, cfg.Version), log); err != nil {
			log.Error("metrics listener stopped", "err", err)
		}
	}()
	return ch, nil
}
