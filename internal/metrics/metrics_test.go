package metrics

import (
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"
)

// TestNilIsNoMetrics: every hook is safe on a nil receiver, so an
// unconfigured process records nothing and does not crash.
func TestNilIsNoMetrics(t *testing.T) {
	var b *Bot
	b.Command("status", "accepted")
	b.RequestChanged("migrate", "pending", "approved", time.Second)
	b.AuditAppended("request.opened")
	b.AgentJob("h", "migrate", "succeeded", time.Second)
	b.MigrationStatus("h", "main", 1, time.Now())
	b.APICall("slack", "chat.postMessage", 2, nil)
	b.ScheduledRun("daily", "ok")
	var a *Agent
	a.JobStarted("migrate", true)
	a.JobEnded("migrate", true, "succeeded", time.Second)
	a.BusyRejected(false)
}

// TestBotHooks: each hook moves the metric it names, with its labels.
func TestBotHooks(t *testing.T) {
	b := NewBot()
	b.Command("status", "accepted")
	b.Command("status", "accepted")
	b.RequestChanged("migrate", "", "pending", 0)
	b.RequestChanged("migrate", "pending", "approved", 90*time.Second)
	b.RequestChanged("migrate", "approved", "running", 90*time.Second)
	b.RequestChanged("migrate", "running", "succeeded", 300*time.Second)
	b.APICall("slack", "chat.postMessage", 3, errors.New("503"))
	b.APICall("slack", "chat.postMessage", 1, nil)
	b.MigrationStatus("gitlab-1", "main", 2, time.Unix(1700000000, 0))
	b.ScheduledRun("daily", "failed")

	for _, tc := range []struct {
		name string
		got  float64
		want float64
	}{
		{"commands status accepted", testutil.ToFloat64(b.commands.WithLabelValues("status", "accepted")), 2},
		{"transitions to approved", testutil.ToFloat64(b.transitions.WithLabelValues("migrate", "approved")), 1},
		{"transitions to pending (opened)", testutil.ToFloat64(b.transitions.WithLabelValues("migrate", "pending")), 1},
		{"chat calls", testutil.ToFloat64(b.apiCalls.WithLabelValues("slack", "chat.postMessage")), 2},
		{"chat errors", testutil.ToFloat64(b.apiErrors.WithLabelValues("slack", "chat.postMessage")), 1},
		{"chat retries", testutil.ToFloat64(b.apiRetries.WithLabelValues("slack", "chat.postMessage")), 2},
		{"down", testutil.ToFloat64(b.down.WithLabelValues("gitlab-1", "main")), 2},
		{"status time", testutil.ToFloat64(b.statusAt.WithLabelValues("gitlab-1", "main")), 1700000000},
		{"scheduled failed", testutil.ToFloat64(b.scheduled.WithLabelValues("daily", "failed")), 1},
	} {
		if tc.got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, tc.got, tc.want)
		}
	}
	// A decision is timed once (pending -> approved), a completion once
	// (running -> succeeded); approved -> running is neither.
	if n := testutil.CollectAndCount(b.decision); n != 1 {
		t.Errorf("%d decision series, want 1", n)
	}
	if n := testutil.CollectAndCount(b.completion); n != 1 {
		t.Errorf("%d completion series, want 1", n)
	}
	problems, err := testutil.GatherAndLint(b.reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

// TestScrapeTimeReaders: open requests and agent health are read at each
// scrape; a store that cannot be read leaves its metrics out without
// failing the rest of the scrape.
func TestScrapeTimeReaders(t *testing.T) {
	b := NewBot()
	fail := false
	err := b.WatchRequests(func(ctx context.Context) (OpenRequests, error) {
		if fail {
			return OpenRequests{}, errors.New("store closed")
		}
		return OpenRequests{ByState: map[string]int{"pending": 2, "approved": 0, "running": 1}, OldestPendingAge: 7 * time.Minute, ReviewsOpen: 3, ReviewsOverdue: 1}, nil
	}, 15*time.Minute, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	err = b.ProbeAgents(map[string]Probe{
		"up-host":   func(ctx context.Context) error { return nil },
		"down-host": func(ctx context.Context) error { return errors.New("connection refused") },
		"slow-host": func(ctx context.Context) error { <-ctx.Done(); return ctx.Err() },
	}, 50*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	want := `
# HELP gitlab_chatops_agent_up 1 when the host's agent answered its health call at this scrape, else 0.
# TYPE gitlab_chatops_agent_up gauge
gitlab_chatops_agent_up{host="down-host"} 0
gitlab_chatops_agent_up{host="slow-host"} 0
gitlab_chatops_agent_up{host="up-host"} 1
# HELP gitlab_chatops_approval_ttl_seconds The approval window of a new request (the policy's request_ttl).
# TYPE gitlab_chatops_approval_ttl_seconds gauge
gitlab_chatops_approval_ttl_seconds 900
# HELP gitlab_chatops_emergency_reviews_open Emergency (break-glass) requests that ran and whose post-incident review no admin has acknowledged (read at scrape time).
# TYPE gitlab_chatops_emergency_reviews_open gauge
gitlab_chatops_emergency_reviews_open 3
# HELP gitlab_chatops_emergency_reviews_overdue Of those, the ones past their due time, 24 hours after the run (read at scrape time).
# TYPE gitlab_chatops_emergency_reviews_overdue gauge
gitlab_chatops_emergency_reviews_overdue 1
# HELP gitlab_chatops_pending_request_oldest_age_seconds How long the oldest pending request has waited for approval (read at scrape time; 0 when none is pending).
# TYPE gitlab_chatops_pending_request_oldest_age_seconds gauge
gitlab_chatops_pending_request_oldest_age_seconds 420
# HELP gitlab_chatops_requests Requests in the store by state (read at scrape time; only states not yet ended).
# TYPE gitlab_chatops_requests gauge
gitlab_chatops_requests{state="approved"} 0
gitlab_chatops_requests{state="pending"} 2
gitlab_chatops_requests{state="running"} 1
`
	if err := testutil.GatherAndCompare(b.reg, strings.NewReader(want), "gitlab_chatops_agent_up", "gitlab_chatops_approval_ttl_seconds",
		"gitlab_chatops_pending_request_oldest_age_seconds", "gitlab_chatops_requests", "gitlab_chatops_emergency_reviews_open", "gitlab_chatops_emergency_reviews_overdue"); err != nil {
		t.Error(err)
	}

	fail = true
	rr := httptest.NewRecorder()
	b.Handler().ServeHTTP(rr, httptest.NewRequest("GET", "/metrics", nil))
	body := rr.Body.String()
	if rr.Code != 200 || !strings.Contains(body, `gitlab_chatops_agent_up{host="up-host"} 1`) {
		t.Errorf("a failing store reader broke the scrape: %d\n%s", rr.Code, body)
	}
	if strings.Contains(body, "gitlab_chatops_requests{") {
		t.Errorf("requests reported although the store could not be read:\n%s", body)
	}
}

// TestLeaderGauge: gitlab_chatops_leader follows the leadership at each
// scrape (1 while leader, 0 after losing it).
func TestLeaderGauge(t *testing.T) {
	b := NewBot()
	var leading atomic.Bool
	if err := b.WatchLeader(leading.Load); err != nil {
		t.Fatal(err)
	}
	if err := b.WatchLeader(nil); err == nil {
		t.Error("WatchLeader(nil) accepted")
	}
	for _, lead := range []bool{false, true, false} {
		leading.Store(lead)
		v := 0
		if lead {
			v = 1
		}
		want := fmt.Sprintf(`
# HELP gitlab_chatops_leader 1 while this replica is the leader that runs the once-only work (recovery, the expiry sweep, scheduled posts), else 0.
# TYPE gitlab_chatops_leader gauge
gitlab_chatops_leader %d
`, v)
		if err := testutil.GatherAndCompare(b.reg, strings.NewReader(want), "gitlab_chatops_leader"); err != nil {
			t.Errorf("leader %v: %v", lead, err)
		}
	}
}
