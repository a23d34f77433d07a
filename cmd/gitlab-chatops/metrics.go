package main

import (
	"context"
	"errors"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics"
)

// scrapeTimeout bounds what one scrape of /metrics reads: the store's open
// requests and each agent's health call (all agents at once).
const scrapeTimeout = 5 * time.Second

// watchBot registers the bot's scrape-time readers on m: the open requests
// of svc (and the approval TTL of its policy) and, through probes, each
// host's agent health.
func watchBot(m *metrics.Bot, svc *approvals.Service, probes map[string]metrics.Probe) error {
	if err := m.WatchRequests(openRequests(svc, time.Now), svc.Policy().TTL, scrapeTimeout); err != nil {
		return err
	}
	return m.ProbeAgents(probes, scrapeTimeout)
}

// openRequests reads the requests that have not ended, for
// gitlab_chatops_requests and the oldest pending request's age, and the
// open post-incident reviews (open and overdue).
func openRequests(svc *approvals.Service, now func() time.Time) func(ctx context.Context) (metrics.OpenRequests, error) {
	open := []approvals.State{approvals.StatePending, approvals.StateApproved, approvals.StateRunning}
	return func(ctx context.Context) (metrics.OpenRequests, error) {
		rs, err := svc.Requests(ctx, approvals.RequestFilter{States: open})
		if err != nil {
			return metrics.OpenRequests{}, err
		}
		out := metrics.OpenRequests{ByState: map[string]int{}}
		for _, s := range open {
			out.ByState[string(s)] = 0
		}
		t := now()
		for _, r := range rs {
			out.ByState[string(r.State)]++
			if age := t.Sub(r.CreatedAt); r.State == approvals.StatePending && age > out.OldestPendingAge {
				out.OldestPendingAge = age
			}
		}
		reviews, err := svc.OpenReviews(ctx)
		if err != nil {
			return metrics.OpenRequests{}, err
		}
		for _, r := range reviews {
			out.ReviewsOpen++
			if r.ReviewOverdue(t) {
				out.ReviewsOverdue++
			}
		}
		return out, nil
	}
}

// probe is c as a metrics.Probe: nil when the check passes. It shares the
// check's cache, so scrapes add no health calls beyond /readyz's.
func (c *cachedCheck) probe(ctx context.Context) error {
	if why := c.result(ctx); why != "" {
		return errors.New(why)
	}
	return nil
}
