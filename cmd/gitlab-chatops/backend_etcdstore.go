package main

import (
	"context"
	"errors"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// openEtcdStore opens the etcd store on c. Until storage/etcd's Store is
// in this build, serve and the audit commands refuse backend etcd here,
// after the configuration was checked and etcd was reached.
func openEtcdStore(ctx context.Context, c *etcd.Cluster, key auditchain.Key) (storage.Backend, error) {
	return nil, errors.New("this build of gitlab-chatops has no etcd store yet; use backend: bolt")
}
