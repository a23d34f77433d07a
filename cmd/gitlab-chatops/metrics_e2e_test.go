package main

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/internal/metrics/metricstest"
)

// TestServeMetrics runs serve with Mattermost on its one listener and a
// real agent over the simulator, and scrapes /metrics there after a
// status, a scheduled run (`schedules run`) and an approved migrate: each
// named metric has the value those give, and every metric the example
// alert rules use is exposed.
func TestServeMetrics(t *testing.T) {
	channel, alice, bob := model.NewId(), model.NewId(), model.NewId()
	srv := startMMServe(t, bob, fmt.Sprintf(`schedules:
  - id: hourly-status
    spec: "@hourly"
    channel: %s
    what: status
`, channel))
	fm, logs, base := srv.fm, srv.logs, srv.base
	started := time.Now()
	slash := func(user, text string) { t.Helper(); srv.slash(t, user, channel, text) }
	waitChat := func(want string) { t.Helper(); srv.waitChat(t, want) }
	slash(alice, "status")
	waitChat("48 up, 6 down")
	slash(alice, "schedules run hourly-status")
	waitChat("hourly-status")
	slash(alice, "migrate -- upgrade to 17.5")
	post, actx := fm.approveContext(t)
	// While it waits for approval, the store's pending request is seen,
	// with its age (what the approval-waiting alert compares to the TTL).
	waiting := metricstest.Scrape(t, base+"/metrics")
	waiting.Check(t, metricstest.Want{Name: "gitlab_chatops_requests", Labels: []string{"state", "pending"}, Value: 1})
	if age, _ := waiting.Value("gitlab_chatops_pending_request_oldest_age_seconds"); age <= 0 || age > 60 {
		t.Errorf("the pending request's age is %v s, want the time since it was opened", age)
	}
	click, _ := json.Marshal(model.PostActionIntegrationRequest{UserId: bob, UserName: "bob", ChannelId: channel, PostId: post.Id, Context: actx})
	if a := send(mustRequest(t, "POST", base+"/mattermost/actions", "application/json", string(click))); a.err != nil || a.status != 200 {
		t.Fatalf("approve click: %+v", a)
	}
	waitChat("SUCCEEDED")

	// The request is finished in the store just after the card says so,
	// and the scheduled run counted once its post is done.
	var fams metricstest.Families
	for deadline := time.Now().Add(30 * time.Second); ; {
		fams = metricstest.Scrape(t, base+"/metrics")
		done, _ := fams.Value("gitlab_chatops_request_transitions_total", "operation", "migrate", "state", "succeeded")
		ran, _ := fams.Value("gitlab_chatops_scheduled_runs_total", "schedule", "hourly-status", "outcome", "posted")
		if done == 1 && ran == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the migrate or the scheduled run was never counted; log:\n%s", logs.String())
		}
		time.Sleep(100 * time.Millisecond)
	}
	migrate := []string{"operation", "migrate"}
	w := func(name string, v float64, labels ...string) metricstest.Want {
		return metricstest.Want{Name: "gitlab_chatops_" + name, Labels: labels, Value: v}
	}
	fams.Check(t,
		w("commands_total", 1, "subcommand", "status", "outcome", "accepted"),
		w("commands_total", 1, "subcommand", "migrate", "outcome", "accepted"),
		w("commands_total", 1, "subcommand", "approve", "outcome", "accepted"), // the button
		w("commands_total", 1, "subcommand", "schedules", "outcome", "accepted"),
		w("scheduled_runs_total", 1, "schedule", "hourly-status", "outcome", "posted"),
		w("request_transitions_total", 1, append(migrate, "state", "pending")...),
		w("request_transitions_total", 1, append(migrate, "state", "approved")...),
		w("request_transitions_total", 1, append(migrate, "state", "running")...),
		w("request_decision_seconds_count", 1, append(migrate, "decision", "approved")...),
		w("request_completion_seconds_count", 1, append(migrate, "state", "succeeded")...),
		w("requests", 0, "state", "pending"),
		w("requests", 0, "state", "approved"),
		w("requests", 0, "state", "running"),
		w("pending_request_oldest_age_seconds", 0),
		w("approval_ttl_seconds", approvals.DefaultTTL.Seconds()), // no request_ttl configured
		w("agent_job_duration_seconds_count", 1, "host", "gitlab-sim", "operation", "migrate", "state", "succeeded"),
		w("agent_up", 1, "host", "gitlab-sim"),
		w("leader", 1), // one bbolt process is always leader
		// The after-check's status: nothing down any more.
		w("migrations_down", 0, "host", "gitlab-sim", "database", "main"),
		w("audit_entries_appended_total", 1, "action", "request.opened"),
		w("audit_entries_appended_total", 1, "action", "request.approved"),
		w("audit_entries_appended_total", 1, "action", "request.started"),
		w("audit_entries_appended_total", 1, "action", "request.finished"),
		w("chat_api_errors_total", 0, "platform", "mattermost", "method", "create post"),
	)
	if n, _ := fams.Value("gitlab_chatops_agent_job_duration_seconds_count", "host", "gitlab-sim", "operation", "migrate-status", "state", "succeeded"); n < 2 {
		t.Errorf("%v status jobs counted, want at least the status command's and the migrate's after-check", n)
	}
	if at, _ := fams.Value("gitlab_chatops_status_last_success_timestamp_seconds", "host", "gitlab-sim", "database", "main"); at < float64(started.Unix()) {
		t.Errorf("last successful status at %v, before the test began (%d)", at, started.Unix())
	}
	if n, _ := fams.Value("gitlab_chatops_chat_api_calls_total", "platform", "mattermost", "method", "create post"); n < 2 {
		t.Errorf("%v Mattermost posts counted, want at least the two root posts", n)
	}
	rules, err := metricstest.AlertRules("../../deploy/prometheus/alerts.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range fams.Missing(rules) {
		t.Errorf("alerts.yaml uses %s, which serve's /metrics does not have", n)
	}
}
