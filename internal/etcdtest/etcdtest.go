// Package etcdtest starts a real etcd server for tests: the embedded
// server of go.etcd.io/etcd/server/v3/embed, one member, on 127.0.0.1
// ports of its own and a data directory under t.TempDir(). No mocks: the
// storage/etcd backend, the election and the replica tests run against
// it. It can be stopped and started again on the same ports and data, to
// test what survives an etcd restart.
package etcdtest

import (
	"fmt"
	"net"
	"net/url"
	"sync"
	"testing"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

// startTimeout bounds how long a start may take before the test fails.
const startTimeout = 60 * time.Second

// Server is one running (or stopped) embedded etcd member.
type Server struct {
	t   testing.TB
	cfg *embed.Config

	mu sync.Mutex
	e  *embed.Etcd
}

// Start starts a one-member etcd on 127.0.0.1 and stops it when the test
// ends.
func Start(t testing.TB) *Server {
	t.Helper()
	client, peer := freePort(t), freePort(t)
	cfg := embed.NewConfig()
	cfg.Name = "test"
	cfg.Dir = t.TempDir()
	cfg.LogLevel = "error"
	cfg.Logger = "zap"
	cu := url.URL{Scheme: "http", Host: client}
	pu := url.URL{Scheme: "http", Host: peer}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{cu}, []url.URL{cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{pu}, []url.URL{pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	// No metrics or pprof listeners: loopback client and peer ports only.
	cfg.ListenMetricsUrls = nil
	s := &Server{t: t, cfg: cfg}
	if err := s.start(); err != nil {
		t.Fatalf("start etcd: %v", err)
	}
	t.Cleanup(s.Stop)
	return s
}

// Endpoints are the client URLs to give clientv3.
func (s *Server) Endpoints() []string {
	out := make([]string, len(s.cfg.AdvertiseClientUrls))
	for i, u := range s.cfg.AdvertiseClientUrls {
		out[i] = u.String()
	}
	return out
}

// Addr is the client listener's host:port (for a proxy in front of it).
func (s *Server) Addr() string { return s.cfg.ListenClientUrls[0].Host }

// Stop stops the member, keeping its data; Restart starts it again.
// Stopping a stopped server does nothing.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		s.e.Close()
		s.e = nil
	}
}

// Restart starts a stopped member again on the same ports and data.
func (s *Server) Restart() {
	s.t.Helper()
	if err := s.start(); err != nil {
		s.t.Fatalf("restart etcd: %v", err)
	}
}

func (s *Server) start() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.e != nil {
		return fmt.Errorf("etcd is already running")
	}
	var e *embed.Etcd
	var err error
	// The ports were free a moment ago; right after a Stop the kernel may
	// still hold them for a short while.
	for range 50 {
		e, err = embed.StartEtcd(s.cfg)
		if err == nil {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return err
	}
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(startTimeout):
		e.Close()
		return fmt.Errorf("etcd was not ready within %s", startTimeout)
	}
	s.e = e
	return nil
}

// freePort returns a 127.0.0.1 port that was free when asked.
func freePort(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().String()
}
