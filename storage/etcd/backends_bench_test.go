package etcd_test

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// The etcd-versus-bbolt benchmarks of docs/PERFORMANCE.md ("Replicas on
// etcd"): the same calls on both backends in one run, the bbolt file in
// the test's temporary directory and a real one-member etcd on loopback
// (internal/etcdtest) whose data directory is on the same disk. Both
// fsync every commit.
//
//	go test -run '^$' -bench 'BenchmarkApprovalDecision|BenchmarkAuditAppend64Writers' -benchtime 400x ./storage/etcd/

// backendCase is one backend under benchmark.
type backendCase struct {
	name string
	open func(b *testing.B) storage.Backend
}

// benchBackends are bbolt and etcd; every etcd case gets a prefix of its
// own on the one server.
func benchBackends(b *testing.B) []backendCase {
	srv := etcdtest.Start(b)
	var n atomic.Int64
	return []backendCase{
		{"bolt", func(b *testing.B) storage.Backend {
			db, err := storage.Open(filepath.Join(b.TempDir(), "bench.db"), storage.Options{AuditKey: approvalstest.Key})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = db.Close() })
			return db
		}},
		{"etcd", func(b *testing.B) storage.Backend {
			c := dialTest(b, srv, fmt.Sprintf("/bench%d/", n.Add(1)))
			s, err := etcd.OpenStore(context.Background(), c, etcd.StoreOptions{AuditKey: approvalstest.Key})
			if err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = s.Close() })
			return s
		}},
	}
}

func benchRequest() approvals.NewRequest {
	return approvals.NewRequest{
		Platform: "slack", Channel: "C-ops", Host: "gitlab-1", Operation: "migrate",
		Argv: []string{"gitlab-rake", "db:migrate"}, Requester: approvals.User{ID: "slack:U-alice", Name: "alice"},
		Reason: "upgrade to 17.5", Fingerprint: "fp-1", FingerprintInfo: "3 migrations down",
	}
}

// reportLatency reports the p50 and p99 of lat in milliseconds.
func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2])/1e6, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100])/1e6, "p99-ms")
}

// BenchmarkApprovalDecision is the time of Service.Approve, the decision
// a click or a typed approve waits for: the policy checks, then the
// request's change and its audit entry committed together (one bbolt
// transaction; one etcd Txn under compares on the request's revision and
// the audit head).
//
//   - single: one approval at a time, the one that approves a fresh
//     request (a request is opened before each, outside the timing);
//   - burst100: 100 approvers click one request at once, as the replica
//     end-to-end test does: every call's time (2 count, the others are
//     refused as already decided), so contention and etcd's retries show.
func BenchmarkApprovalDecision(b *testing.B) {
	ctx := context.Background()
	for _, bc := range benchBackends(b) {
		b.Run(bc.name+"/single", func(b *testing.B) {
			svc := newBenchService(b, bc.open(b), 1)
			lat := make([]time.Duration, 0, b.N)
			for b.Loop() {
				b.StopTimer()
				r, err := svc.Open(ctx, benchRequest())
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				t0 := time.Now()
				got, err := svc.Approve(ctx, r.ID, approvals.User{ID: "slack:U-bob", Name: "bob"}, "fp-1")
				lat = append(lat, time.Since(t0))
				if err != nil || got.State != approvals.StateApproved {
					b.Fatalf("Approve = %v, %v; want approved", got, err)
				}
			}
			reportLatency(b, lat)
		})
		b.Run(bc.name+"/burst100", func(b *testing.B) {
			svc := newBenchService(b, bc.open(b), 2)
			var lat []time.Duration
			for b.Loop() {
				b.StopTimer()
				r, err := svc.Open(ctx, benchRequest())
				if err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				burst, approved := approveBurst(ctx, b, svc, r.ID)
				if approved != 2 {
					b.Fatalf("%d approvals counted, want 2", approved)
				}
				lat = append(lat, burst...)
			}
			reportLatency(b, lat)
		})
	}
}

// approveBurst has 100 approvers approve id at once and returns each
// call's time and how many approvals counted.
func approveBurst(ctx context.Context, b *testing.B, svc *approvals.Service, id string) ([]time.Duration, int) {
	var (
		wg       sync.WaitGroup
		approved atomic.Int64
		lat      = make([]time.Duration, 100)
	)
	for i := range lat {
		wg.Go(func() {
			t0 := time.Now()
			_, err := svc.Approve(ctx, id, approvals.User{ID: fmt.Sprintf("slack:U-%03d", i)}, "fp-1")
			lat[i] = time.Since(t0)
			switch {
			case err == nil:
				approved.Add(1)
			case !errors.Is(err, approvals.ErrAlreadyDecided):
				b.Errorf("approve: %v", err)
			}
		})
	}
	wg.Wait()
	return lat, int(approved.Load())
}

func newBenchService(b *testing.B, s storage.Backend, required int) *approvals.Service {
	svc, err := approvals.NewService(s, approvals.Policy{ApprovalsRequired: required})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

// BenchmarkAuditAppend64Writers: 64 goroutines appending audit entries
// of typical size (approvalstest.TypicalEntry) through the backend's
// Append, as refusals, read-only runs and output digests are recorded;
// appends/s is the figure. bbolt groups them with Batch, etcd's Store
// groups one process's concurrent appends into one Txn.
func BenchmarkAuditAppend64Writers(b *testing.B) {
	ctx := context.Background()
	e := approvalstest.TypicalEntry()
	for _, bc := range benchBackends(b) {
		b.Run(bc.name, func(b *testing.B) {
			s := bc.open(b)
			var (
				next atomic.Int64
				wg   sync.WaitGroup
			)
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
		})
	}
}
