package etcd_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// BenchmarkAuditAppend64: 64 goroutines appending one typical entry each
// through Store.Append on a real etcd (bbolt's is storage's
// BenchmarkAuditAppend64). txns/append shows the grouping: etcd's
// revision moves once per committed Txn, so 64 writers that each
// committed alone (or retried) would show 1 or more.
func BenchmarkAuditAppend64(b *testing.B) {
	srv := etcdtest.Start(b)
	ctx := context.Background()
	c, err := etcd.Dial(ctx, etcd.Config{Endpoints: srv.Endpoints(), Prefix: "/bench/"})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	s, err := etcd.OpenStore(ctx, c, etcd.StoreOptions{AuditKey: approvalstest.Key})
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	e := approvalstest.TypicalEntry()
	rev := func() int64 {
		resp, err := c.Client().Get(ctx, c.Key("meta/audit_head"))
		if err != nil {
			b.Fatal(err)
		}
		return resp.Header.Revision
	}
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	before := rev()
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range 64 {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				if _, err := s.Append(ctx, e); err != nil {
					b.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
	b.ReportMetric(float64(rev()-before)/float64(b.N), "txns/append")
}
