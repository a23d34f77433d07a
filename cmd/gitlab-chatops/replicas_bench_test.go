package main

import (
	"testing"

	"github.com/mattermost/mattermost/server/public/model"
)

// BenchmarkFailover is the failover time of docs/PERFORMANCE.md: from the
// SIGKILL of the replica that follows a running migrate to the first
// re-attached progress update (the "following the job again" note in the
// request's thread), with real serve processes, a real agent and a fake
// Mattermost (replicas_test.go).
//
//   - etcd: two replicas on a real etcd with the default lease TTL (10 s);
//     the leader follows the job and is killed; the other takes over once
//     the dead one's lease has expired;
//   - bolt: one serve process on the bbolt file, killed and started again
//     at once (as systemd's Restart=always would; its RestartSec is not
//     counted).
//
// Each iteration builds its own setup; one iteration is the measurement:
//
//	go test -run '^$' -bench BenchmarkFailover -benchtime 1x ./cmd/gitlab-chatops/
func BenchmarkFailover(b *testing.B) {
	for _, bc := range []struct {
		name string
		o    replicaOptions
	}{
		{"bolt", replicaOptions{n: 1, bolt: true}},
		{"etcd", replicaOptions{n: 2, leaseTTL: "10s"}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			var total float64
			for b.Loop() {
				channel, alice, bob := model.NewId(), model.NewId(), model.NewId()
				o := bc.o
				o.speed, o.approvers = "2", []string{bob}
				s := startReplicas(b, o)
				f := failover(b, s, s.leader(b), alice, bob, channel)
				total += f.took.Seconds()
			}
			b.ReportMetric(total/float64(b.N), "failover-s")
		})
	}
}
