package slack

import (
	"context"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"strings"
	"testing"
	"time"
)

func TestIsMemberCachesForTTL(t *testing.T) {
	fake := newFakeSlack(t)
	fake.groups["S0DBA"] = []string{"U0BOB", "U0CAROL"}
	fake.handles["db-approvers"] = "S0DBA"
	clock := approvalstest.NewClock(time.Unix(1_700_000_000, 0))
	a := newTestAdapter(t, fake, WithClock(clock.Now), WithGroupTTL(time.Minute))
	ctx := context.Background()

	for _, tc := range []struct {
		group, user string
		want        bool
	}{
		{"S0DBA", "U0BOB", true},
		{"S0DBA", "U0EVE", false},
		{"@db-approvers", "U0CAROL", true},
		{"db-approvers", "U0EVE", false},
	} {
		got, err := a.IsMember(ctx, tc.group, tc.user)
		if err != nil || got != tc.want {
			t.Errorf("IsMember(%s, %s) = %v, %v; want %v", tc.group, tc.user, got, err, tc.want)
		}
	}
	if n := len(fake.callsTo("usergroups.users.list")); n != 1 {
		t.Errorf("usergroups.users.list called %d times within the TTL, want 1", n)
	}
	if n := len(fake.callsTo("usergroups.list")); n != 1 {
		t.Errorf("usergroups.list called %d times within the TTL, want 1", n)
	}
	// Bob leaves the group; after the TTL the change is seen.
	fake.mu.Lock()
	fake.groups["S0DBA"] = []string{"U0CAROL"}
	fake.mu.Unlock()
	clock.Advance(2 * time.Minute)
	if ok, err := a.IsMember(ctx, "S0DBA", "U0BOB"); err != nil || ok {
		t.Errorf("after the TTL IsMember = %v, %v; want false", ok, err)
	}
	if n := len(fake.callsTo("usergroups.users.list")); n != 2 {
		t.Errorf("usergroups.users.list called %d times, want 2", n)
	}
}

func TestIsMemberErrorsAreNotNo(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	ctx := context.Background()
	fake.failNext("usergroups.users.list", fakeFailure{slackErr: "plan_upgrade_required"})
	ok, err := a.IsMember(ctx, "S0DBA", "U0BOB")
	if err == nil || ok || !strings.Contains(err.Error(), "paid Slack plan") {
		t.Fatalf("IsMember = %v, %v; want an error explaining the plan", ok, err)
	}
	if _, err := a.IsMember(ctx, "S0NOPE", "U0BOB"); err == nil {
		t.Error("unknown group gave no error")
	}
	if _, err := a.IsMember(ctx, "@nobody", "U0BOB"); err == nil || !strings.Contains(err.Error(), "no user group @nobody") {
		t.Errorf("unknown handle: %v", err)
	}
}
