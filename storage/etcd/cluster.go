package etcd

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/client/v3/concurrency"
)

// DefaultPrefix is where a Cluster keeps its keys unless configured.
const DefaultPrefix = "/gitlab-chatops/"

// DefaultLeaseTTL is the replica session's lease: a replica that stops
// renewing it loses leadership and the jobs it followed within this time.
const DefaultLeaseTTL = 10 * time.Second

// Config is how a replica reaches etcd.
type Config struct {
	// Endpoints are etcd's client URLs (https:// with TLS).
	Endpoints []string
	// Prefix is the key prefix of this bot's data (DefaultPrefix when
	// empty). Two bots on one etcd need different prefixes.
	Prefix string
	// TLS, when any field is set: CA verifies etcd's certificate, Cert
	// and Key are this replica's client certificate.
	CA, Cert, Key string
	// DialTimeout bounds the first connection (5 s when zero).
	DialTimeout time.Duration
	// LeaseTTL is the session lease (DefaultLeaseTTL when zero).
	LeaseTTL time.Duration
}

// Cluster is one replica's connection to etcd, shared by the Store, the
// Election and the once-only keys. Safe for concurrent use.
type Cluster struct {
	client *clientv3.Client
	prefix string
	ttl    time.Duration

	mu      sync.Mutex
	session *concurrency.Session
}

// Dial connects to etcd and checks that it answers.
func Dial(ctx context.Context, cfg Config) (*Cluster, error) {
	if len(cfg.Endpoints) == 0 {
		return nil, errors.New("etcd: no endpoints; set storage.endpoints")
	}
	prefix := cfg.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if !strings.HasPrefix(prefix, "/") || !strings.HasSuffix(prefix, "/") {
		return nil, fmt.Errorf("etcd: prefix %q must start and end with /", prefix)
	}
	dial := cfg.DialTimeout
	if dial == 0 {
		dial = 5 * time.Second
	}
	ttl := cfg.LeaseTTL
	if ttl == 0 {
		ttl = DefaultLeaseTTL
	}
	if ttl < 2*time.Second {
		return nil, fmt.Errorf("etcd: lease TTL %s is below 2s", ttl)
	}
	tlsCfg, err := clientTLS(cfg)
	if err != nil {
		return nil, err
	}
	c, err := clientv3.New(clientv3.Config{
		Endpoints:   cfg.Endpoints,
		DialTimeout: dial,
		TLS:         tlsCfg,
		Context:     context.WithoutCancel(ctx),
		// Keepalives notice a dead connection well within the lease TTL.
		DialKeepAliveTime:    ttl / 4,
		DialKeepAliveTimeout: ttl / 4,
	})
	if err != nil {
		return nil, fmt.Errorf("etcd %s: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	cctx, cancel := context.WithTimeout(ctx, dial)
	defer cancel()
	if _, err := c.Get(cctx, prefix+"meta/schema_version"); err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("etcd %s does not answer: %w", strings.Join(cfg.Endpoints, ","), err)
	}
	return &Cluster{client: c, prefix: prefix, ttl: ttl}, nil
}

// Client is the etcd client (for the packages of this module that build
// on the cluster: the store, election, once-only keys).
func (c *Cluster) Client() *clientv3.Client { return c.client }

// Key is the full key of a path under the prefix ("requests/r1").
func (c *Cluster) Key(path string) string { return c.prefix + path }

// Prefix is the configured key prefix.
func (c *Cluster) Prefix() string { return c.prefix }

// Session is this replica's lease session (created on first use, and
// again after it expired): the election and the job-ownership keys are
// bound to its lease, so they vanish when the replica dies.
func (c *Cluster) Session(ctx context.Context) (*concurrency.Session, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.session != nil {
		select {
		case <-c.session.Done():
			c.session = nil
		default:
			return c.session, nil
		}
	}
	// The lease is granted under ctx (bounded by the caller: while etcd
	// cannot be reached this fails instead of blocking with c.mu held);
	// its renewals live as long as the Cluster, not ctx.
	lease, err := c.client.Grant(ctx, int64(c.ttl/time.Second))
	if err != nil {
		return nil, fmt.Errorf("etcd session: granting its lease: %w", err)
	}
	s, err := concurrency.NewSession(c.client, concurrency.WithLease(lease.ID), concurrency.WithTTL(int(c.ttl/time.Second)), concurrency.WithContext(context.WithoutCancel(ctx)))
	if err != nil {
		return nil, fmt.Errorf("etcd session: %w", err)
	}
	c.session = s
	return s, nil
}

// LeaseTTL is the session lease's TTL.
func (c *Cluster) LeaseTTL() time.Duration { return c.ttl }

// Close ends the session (its keys go at once) and the connection.
func (c *Cluster) Close() error {
	c.mu.Lock()
	s := c.session
	c.session = nil
	c.mu.Unlock()
	if s != nil {
		_ = s.Close()
	}
	return c.client.Close()
}

// clientTLS builds the client's TLS configuration, or nil without TLS.
func clientTLS(cfg Config) (*tls.Config, error) {
	if cfg.CA == "" && cfg.Cert == "" && cfg.Key == "" {
		return nil, nil
	}
	t := &tls.Config{MinVersion: tls.VersionTLS12}
	if cfg.CA != "" {
		pem, err := os.ReadFile(cfg.CA)
		if err != nil {
			return nil, fmt.Errorf("etcd tls.ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("etcd tls.ca %s: no PEM certificate in it", cfg.CA)
		}
		t.RootCAs = pool
	}
	if (cfg.Cert == "") != (cfg.Key == "") {
		return nil, errors.New("etcd tls: cert and key go together; set both or neither")
	}
	if cfg.Cert != "" {
		pair, err := tls.LoadX509KeyPair(cfg.Cert, cfg.Key)
		if err != nil {
			return nil, fmt.Errorf("etcd tls.cert/tls.key: %w", err)
		}
		t.Certificates = []tls.Certificate{pair}
	}
	return t, nil
}
