package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// backend is the store serve and the audit commands run on: the bbolt
// file (backendBolt), or etcd (backendEtcd) over one Cluster, the
// replica's connection that the election, the job owners and the
// once-only keys share. Everything else uses the storage.Backend and never
// names the store behind it.
type backend struct {
	storage.Backend
	// kind is backendBolt or backendEtcd (the start log, /readyz).
	kind string
	// db is the bbolt file (nil on etcd): the admin socket serves it
	// while serve holds its lock.
	db *storage.DB
	// cluster is the replica's etcd connection (nil on bolt).
	cluster *etcd.Cluster
	// where says where the data is, for people: the file, or the
	// endpoints and prefix.
	where string
}

// openBackend opens the store cfg configures, keyed with key.
func openBackend(ctx context.Context, cfg config, key auditchain.Key) (*backend, error) {
	if cfg.etcd == nil {
		db, err := storage.Open(cfg.Store, storage.Options{AuditKey: key})
		if err != nil {
			return nil, err
		}
		return &backend{Backend: db, kind: backendBolt, db: db, where: cfg.Store}, nil
	}
	return openEtcd(ctx, *cfg.etcd, key, false)
}

// openEtcd dials etcd and opens the store under the configured prefix.
// existing (the audit commands, which only read) refuses a prefix holding
// no gitlab-chatops data (a mistyped storage.prefix) rather than
// initialise it.
func openEtcd(ctx context.Context, ec etcd.Config, key auditchain.Key, existing bool) (*backend, error) {
	c, err := etcd.Dial(ctx, ec)
	if err != nil {
		return nil, fmt.Errorf("storage (etcd): %w; check storage.endpoints and storage.tls, and that etcd runs", err)
	}
	where := strings.Join(ec.Endpoints, ",") + " " + c.Prefix()
	if existing {
		resp, err := c.Client().Get(ctx, c.Key(etcdSchemaKey), clientv3.WithCountOnly())
		if err != nil {
			_ = c.Close()
			return nil, fmt.Errorf("storage (etcd): reading %s: %w", c.Key(etcdSchemaKey), err)
		}
		if resp.Count == 0 {
			_ = c.Close()
			return nil, exitError{2, fmt.Errorf("etcd at %s holds no gitlab-chatops data under the prefix %s (no %s): check storage.prefix, or copy a bbolt store there first with `gitlab-chatops storage copy`", strings.Join(ec.Endpoints, ","), c.Prefix(), etcdSchemaKey)}
		}
	}
	s, err := etcd.OpenStore(ctx, c, etcd.StoreOptions{AuditKey: key})
	if err != nil {
		_ = c.Close()
		return nil, fmt.Errorf("storage (etcd): %w", err)
	}
	return &backend{Backend: s, kind: backendEtcd, cluster: c, where: where}, nil
}

// etcdSchemaKey is the key (under the prefix) every initialised store has
// (storage/etcd's key layout, doc.go).
const etcdSchemaKey = "meta/schema_version"

// seen is the once-only keys of platform's inbound requests: shared by
// the replicas on etcd, nil (the adapter's own memory) on bolt.
func (b *backend) seen(platform string) (bot.Seen, error) {
	if b.cluster == nil {
		return nil, nil
	}
	s, err := etcd.NewSeen(b.cluster, platform, etcd.SeenOptions{})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// replicaName names this replica in etcd (its election key's value), for
// operators reading etcd: the host name and process ID.
func replicaName() string {
	host, err := os.Hostname()
	if err != nil {
		host = "unknown-host"
	}
	return fmt.Sprintf("%s/%d", host, os.Getpid())
}

// Close closes the store, then (etcd) the replica's connection: its
// session lease is revoked, so its election key and the jobs it followed
// are free at once rather than after the lease TTL.
func (b *backend) Close() error {
	err := b.Backend.Close()
	if b.cluster != nil {
		err = errors.Join(err, b.cluster.Close())
	}
	return err
}
