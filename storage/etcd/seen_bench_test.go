package etcd_test

import (
	"context"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
)

// BenchmarkSeenFirstSeen is what the replay check adds to a Slack ack:
// one FirstSeen of a new key, in memory (one replica) and on a real etcd
// on loopback (several replicas), with p50 and p99 per call.
//
//	go test -run '^$' -bench BenchmarkSeenFirstSeen -benchtime 2000x ./storage/etcd/
func BenchmarkSeenFirstSeen(b *testing.B) {
	ctx := context.Background()
	srv := etcdtest.Start(b)
	seens := []struct {
		name string
		seen bot.Seen
	}{
		{"memory", bot.NewMemorySeen(1<<22, nil)},
		{"etcd", newSeen(b, dialTest(b, srv, "/bench-seen/"), "slack", 0)},
	}
	for _, s := range seens {
		b.Run(s.name, func(b *testing.B) {
			lat := make([]time.Duration, 0, b.N)
			i := 0
			for b.Loop() {
				i++
				t0 := time.Now()
				first, err := s.seen.FirstSeen(ctx, "sig/"+strconv.Itoa(i), 5*time.Minute)
				lat = append(lat, time.Since(t0))
				if err != nil || !first {
					b.Fatalf("FirstSeen = %v, %v", first, err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2])/1e3, "p50-us")
			b.ReportMetric(float64(lat[len(lat)*99/100])/1e3, "p99-us")
		})
	}
}
