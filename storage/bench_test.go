package storage

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

// writers is the number of concurrent appenders in the benchmarks.
const writers = 64

func benchEntry() approvals.AuditEntry { return approvalstest.TypicalEntry() }

// run64 runs fn b.N times spread over 64 goroutines and reports ops/s.
func run64(b *testing.B, fn func()) {
	var (
		next atomic.Int64
		wg   sync.WaitGroup
	)
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for range writers {
		wg.Go(func() {
			for next.Add(1) <= int64(b.N) {
				fn()
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "appends/s")
}

// BenchmarkAuditAppend64: 64 goroutines appending through DB.Append.
func BenchmarkAuditAppend64(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	e := benchEntry()
	run64(b, func() {
		if _, err := db.Append(ctx, e); err != nil {
			b.Error(err)
		}
	})
}

// BenchmarkRawBatchPut64: the baseline. 64 goroutines doing raw bbolt
// Batch puts of the same stored bytes, under the same key scheme
// (big-endian sequence number), with no hashing or head.
func BenchmarkRawBatchPut64(b *testing.B) {
	db, _ := openTest(b)
	ctx := context.Background()
	stored, err := db.Append(ctx, benchEntry())
	if err != nil {
		b.Fatal(err)
	}
	v := rawEntry(b, db, stored[0].Seq)
	run64(b, func() {
		err := db.bolt.Batch(func(tx *bolt.Tx) error {
			bk := bucket(tx, bucketAudit)
			seq, err := bk.NextSequence()
			if err != nil {
				return err
			}
			return bk.Put(u64(seq+1), v)
		})
		if err != nil {
			b.Error(err)
		}
	})
}
