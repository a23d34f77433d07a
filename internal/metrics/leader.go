package metrics

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
)

// WatchLeader reports, at each scrape, whether this process holds the
// leadership under which the once-only work runs (recovery, the expiry
// sweep, scheduled posts): 1 on the one leader among the replicas, 0 on
// the others. A lone bbolt process is always leader.
//
//	gitlab_chatops_leader
func (b *Bot) WatchLeader(isLeader func() bool) error {
	if isLeader == nil {
		return errNoReader
	}
	g := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name("leader"),
		Help: "1 while this replica is the leader that runs the once-only work (recovery, the expiry sweep, scheduled posts), else 0."},
		func() float64 {
			if isLeader() {
				return 1
			}
			return 0
		})
	if err := b.reg.Register(g); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}
