package approvalstest

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// suiteFilter: Requests returns exactly the requests a RequestFilter
// matches, newest first. Stores may skip requests by their stored bytes
// before decoding them (storage.MayMatch, on bbolt and etcd): text that
// spells a state or a review key inside a string must not make a request
// match, and every request that matches must be found.
func suiteFilter(t *testing.T, h Harness) {
	ctx := context.Background()
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	req := func(id string, at time.Time, s approvals.State) *approvals.Request {
		return &approvals.Request{ID: id, Platform: "console", Channel: "C-ops", Host: "gitlab-1", Operation: "migrate",
			Argv: []string{"gitlab-rake", "db:migrate"}, Requester: suiteAlice, Reason: "upgrade", Required: 1,
			CreatedAt: at, ExpiresAt: at.Add(15 * time.Minute), State: s, Version: 1}
	}
	fooled := req("a3333333", t0, approvals.StateFailed)
	fooled.Reason = `"state":"pending" "review_due":"2025-03-04T10:00:00Z"`
	fooled.Note = `{"state":"running"}`
	open := req("b3333333", t0.Add(time.Minute), approvals.StateSucceeded)
	open.Emergency, open.ReviewDue = true, t0.Add(24*time.Hour)
	done := req("c3333333", t0.Add(2*time.Minute), approvals.StateSucceeded)
	done.Emergency, done.ReviewDue, done.Review = true, t0.Add(24*time.Hour), &approvals.Review{By: suiteBob, At: t0}
	waiting := req("d3333333", t0.Add(3*time.Minute), approvals.StatePending)
	for _, r := range []*approvals.Request{fooled, open, done, waiting} {
		if err := h.Store.Create(ctx, r); err != nil {
			t.Fatalf("create %s: %v", r.ID, err)
		}
	}
	for _, tc := range []struct {
		name string
		f    approvals.RequestFilter
		want []string
	}{
		{"pending or running", approvals.RequestFilter{States: []approvals.State{approvals.StatePending, approvals.StateRunning}}, []string{"d3333333"}},
		{"review open", approvals.RequestFilter{ReviewOpen: true}, []string{"b3333333"}},
		{"review open and succeeded", approvals.RequestFilter{ReviewOpen: true, States: []approvals.State{approvals.StateSucceeded}}, []string{"b3333333"}},
		{"failed", approvals.RequestFilter{States: []approvals.State{approvals.StateFailed}}, []string{"a3333333"}},
		{"all", approvals.RequestFilter{}, []string{"d3333333", "c3333333", "b3333333", "a3333333"}},
		{"all, limited", approvals.RequestFilter{Limit: 2}, []string{"d3333333", "c3333333"}},
	} {
		rs, err := h.Store.Requests(ctx, tc.f)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		var got []string
		for _, r := range rs {
			got = append(got, r.ID)
		}
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}
