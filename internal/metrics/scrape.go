package metrics

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Some metrics are read when Prometheus scrapes rather than counted as
// things happen: what the store holds now, and whether each agent answers
// now. They are then right after a restart and whatever other process
// changed the store, and need no goroutine of their own.

// OpenRequests is what the store holds of requests that have not ended.
type OpenRequests struct {
	// ByState counts requests by state; every state present is reported
	// (the wiring fills pending, approved and running, zeros included).
	ByState map[string]int
	// OldestPendingAge is how long the oldest pending request has waited
	// for its approvals; zero when none is pending.
	OldestPendingAge time.Duration
	// ReviewsOpen counts emergency requests that ran and whose
	// post-incident review no admin acknowledged yet; ReviewsOverdue
	// those of them past their due time (24 h after the run).
	ReviewsOpen, ReviewsOverdue int
}

// WatchRequests reports, at each scrape, the open requests read (each
// read bounded by timeout) and the approval TTL of the policy in force:
//
//	gitlab_chatops_requests{state}
//	gitlab_chatops_pending_request_oldest_age_seconds
//	gitlab_chatops_approval_ttl_seconds
//	gitlab_chatops_emergency_reviews_open
//	gitlab_chatops_emergency_reviews_overdue
func (b *Bot) WatchRequests(read func(ctx context.Context) (OpenRequests, error), ttl, timeout time.Duration) error {
	if read == nil {
		return errNoReader
	}
	ttlGauge := prometheus.NewGauge(prometheus.GaugeOpts{Name: name("approval_ttl_seconds"),
		Help: "The approval window of a new request (the policy's request_ttl)."})
	ttlGauge.Set(ttl.Seconds())
	c := &requestsCollector{read: read, timeout: timeout,
		count: prometheus.NewDesc(name("requests"), "Requests in the store by state (read at scrape time; only states not yet ended).", []string{"state"}, nil),
		oldest: prometheus.NewDesc(name("pending_request_oldest_age_seconds"),
			"How long the oldest pending request has waited for approval (read at scrape time; 0 when none is pending).", nil, nil),
		reviewsOpen: prometheus.NewDesc(name("emergency_reviews_open"),
			"Emergency (break-glass) requests that ran and whose post-incident review no admin has acknowledged (read at scrape time).", nil, nil),
		reviewsOverdue: prometheus.NewDesc(name("emergency_reviews_overdue"),
			"Of those, the ones past their due time, 24 hours after the run (read at scrape time).", nil, nil),
	}
	if err := b.reg.Register(ttlGauge); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	if err := b.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

type requestsCollector struct {
	read                                       func(ctx context.Context) (OpenRequests, error)
	timeout                                    time.Duration
	count, oldest, reviewsOpen, reviewsOverdue *prometheus.Desc
}

func (c *requestsCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.count
	ch <- c.oldest
	ch <- c.reviewsOpen
	ch <- c.reviewsOverdue
}

func (c *requestsCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	open, err := c.read(ctx)
	if err != nil {
		err = fmt.Errorf("reading open requests: %w", err)
		ch <- prometheus.NewInvalidMetric(c.count, err)
		ch <- prometheus.NewInvalidMetric(c.oldest, err)
		ch <- prometheus.NewInvalidMetric(c.reviewsOpen, err)
		ch <- prometheus.NewInvalidMetric(c.reviewsOverdue, err)
		return
	}
	for state, n := range open.ByState {
		ch <- prometheus.MustNewConstMetric(c.count, prometheus.GaugeValue, float64(n), state)
	}
	ch <- prometheus.MustNewConstMetric(c.oldest, prometheus.GaugeValue, open.OldestPendingAge.Seconds())
	ch <- prometheus.MustNewConstMetric(c.reviewsOpen, prometheus.GaugeValue, float64(open.ReviewsOpen))
	ch <- prometheus.MustNewConstMetric(c.reviewsOverdue, prometheus.GaugeValue, float64(open.ReviewsOverdue))
}

// Probe is one agent's health call.
type Probe func(ctx context.Context) error

// ProbeAgents reports, at each scrape, whether each host's agent answers
// its health call within timeout (all hosts probed at once):
//
//	gitlab_chatops_agent_up{host}
func (b *Bot) ProbeAgents(probes map[string]Probe, timeout time.Duration) error {
	hosts := make([]string, 0, len(probes))
	for h, p := range probes {
		if p == nil {
			return fmt.Errorf("metrics: host %s: %w", h, errNoReader)
		}
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	c := &probeCollector{probes: probes, hosts: hosts, timeout: timeout,
		up: prometheus.NewDesc(name("agent_up"), "1 when the host's agent answered its health call at this scrape, else 0.", []string{"host"}, nil)}
	if err := b.reg.Register(c); err != nil {
		return fmt.Errorf("metrics: %w", err)
	}
	return nil
}

type probeCollector struct {
	probes  map[string]Probe
	hosts   []string
	timeout time.Duration
	up      *prometheus.Desc
}

func (c *probeCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.up }

func (c *probeCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), c.timeout)
	defer cancel()
	up := make([]float64, len(c.hosts))
	var wg sync.WaitGroup
	for i, h := range c.hosts {
		wg.Go(func() {
			if c.probes[h](ctx) == nil {
				up[i] = 1
			}
		})
	}
	wg.Wait()
	for i, h := range c.hosts {
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, up[i], h)
	}
}
