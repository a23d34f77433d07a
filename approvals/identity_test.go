package approvals_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

func TestIdentityHelpers(t *testing.T) {
	split := []struct{ id, platform, local string }{
		{"slack:U123", "slack", "U123"},
		{"mattermost:8j3n5pzm1fbq7c6yy9qfg5w4xr", "mattermost", "8j3n5pzm1fbq7c6yy9qfg5w4xr"},
		{"console:alice", "console", "alice"},
		{"console:slack:U1", "console", "slack:U1"}, // a console name is a console name
		{"U123", "", "U123"},
		{"db-approvers", "", "db-approvers"},
		{"Alice Smith:x", "", "Alice Smith:x"}, // not a platform name
		{":U1", "", ":U1"},
	}
	for _, c := range split {
		if p, l := approvals.SplitID(c.id); p != c.platform || l != c.local {
			t.Errorf("SplitID(%q) = %q, %q; want %q, %q", c.id, p, l, c.platform, c.local)
		}
	}
	if got := approvals.Qualify("console", "slack:U1"); got != "console:slack:U1" {
		t.Errorf("Qualify(console, slack:U1) = %q: a platform's ID must never pass for another platform's", got)
	}
	if got := approvals.QualifyDefault("slack", "mattermost:x"); got != "mattermost:x" {
		t.Errorf("QualifyDefault kept nothing: %q", got)
	}
	same := []struct {
		a, b string
		want bool
	}{
		{"slack:U1", "slack:U1", true},
		{"U1", "slack:U1", true},
		{"slack:U1", "U1", true},
		{"slack:U1", "mattermost:U1", false}, // different people
		{"slack:U1", "slack:U2", false},
		{"U1", "U2", false},
		{"console:slack:U1", "slack:U1", false},
	}
	for _, c := range same {
		if got := approvals.SameID(c.a, c.b); got != c.want {
			t.Errorf("SameID(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}

var (
	slackAlice = approvals.User{ID: "slack:U0ALICE", Name: "alice"}
	slackBob   = approvals.User{ID: "slack:U0BOB", Name: "bob"}
	mmBob      = approvals.User{ID: "mattermost:U0BOB", Name: "bob on mattermost"}
	mmDan      = approvals.User{ID: "mattermost:dan", Name: "dan"}
	mmEve      = approvals.User{ID: "mattermost:eve", Name: "eve"}
	slackEve   = approvals.User{ID: "slack:U0EVE", Name: "eve"}
)

func slackMigrate(by approvals.User) approvals.NewRequest {
	nr := migrate(by)
	nr.Platform, nr.Channel = "slack", "C0OPS"
	return nr
}

// TestQualifiedApprovers: policy lists of qualified IDs let exactly that
// user on that platform approve; the same platform ID on another platform
// is another person. The request stores the qualified IDs.
func TestQualifiedApprovers(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{Approvers: []string{slackBob.ID}, Channels: []string{"slack:C0OPS"}, Requesters: map[string][]string{"migrate": {slackAlice.ID}}})
	r := must(f.svc.Open(ctx, slackMigrate(slackAlice)))(t)
	if r.Requester.ID != "slack:U0ALICE" || !slices.Equal(r.ApproverIDs, []string{"slack:U0BOB"}) {
		t.Errorf("request stores requester %q and approvers %q, want the qualified IDs", r.Requester.ID, r.ApproverIDs)
	}
	if _, err := f.svc.Open(ctx, slackMigrate(approvals.User{ID: "mattermost:U0ALICE"})); !errors.Is(err, approvals.ErrNotAllowed) {
		t.Errorf("Open by mattermost:U0ALICE = %v, want refused: only slack:U0ALICE may request", err)
	}
	other := slackMigrate(slackAlice)
	other.Platform = "mattermost"
	if _, err := f.svc.Open(ctx, other); !errors.Is(err, approvals.ErrNotAllowed) {
		t.Errorf("Open in mattermost channel C0OPS = %v, want refused: the allowed channel is Slack's", err)
	}
	if _, err := f.svc.Approve(ctx, r.ID, mmBob, "fp-1"); !errors.Is(err, approvals.ErrNotApprover) {
		t.Fatalf("Approve(mattermost:U0BOB) = %v, want ErrNotApprover", err)
	}
	got := must(f.svc.Approve(ctx, r.ID, slackBob, "fp-1"))(t)
	if got.State != approvals.StateApproved || got.Decisions[0].User.ID != "slack:U0BOB" {
		t.Fatalf("after slack:U0BOB approved: state %s, decisions %+v", got.State, got.Decisions)
	}
}

// platformGroups is one chat platform's group resolver as the real ones
// behave: it knows its own groups and fails on any other ID (Slack has no
// Mattermost channel, Mattermost no Slack user group). It records what it
// was asked.
type platformGroups struct {
	name    string
	members map[string][]string
	mu      sync.Mutex
	asked   []string
}

func (g *platformGroups) IsMember(ctx context.Context, group, userID string) (bool, error) {
	g.mu.Lock()
	g.asked = append(g.asked, group+" "+userID)
	g.mu.Unlock()
	m, ok := g.members[group]
	if !ok {
		return false, fmt.Errorf("%s: no group %q", g.name, group)
	}
	return slices.Contains(m, userID), nil
}

// TestGroupsAnswerForTheirOwnPlatform: with Slack and Mattermost both
// configured, each platform is asked only about its own groups and its own
// users; a user in no group of theirs is told plainly they are not an
// approver (no "could not check… try again"); members approve.
func TestGroupsAnswerForTheirOwnPlatform(t *testing.T) {
	ctx := context.Background()
	slackG := &platformGroups{name: "slack", members: map[string][]string{"S0DBA": {"U0BOB"}}}
	mmG := &platformGroups{name: "mattermost", members: map[string][]string{"dbachannel": {"dan"}}}
	f := newFixture(t, approvals.Policy{ApproverGroups: []string{"slack:S0DBA", "mattermost:dbachannel"}, ApprovalsRequired: 2},
		approvals.WithGroupResolver("slack", slackG), approvals.WithGroupResolver("mattermost", mmG))
	r := must(f.svc.Open(ctx, slackMigrate(slackAlice)))(t)

	for _, u := range []approvals.User{mmEve, slackEve} {
		err := f.svc.CheckApprover(ctx, r.ID, u)
		if !errors.Is(err, approvals.ErrNotApprover) || !approvals.IsRefusal(err) {
			t.Errorf("CheckApprover(%s) = %v, want a plain not-an-approver refusal", u.ID, err)
		}
		if _, err := f.svc.Approve(ctx, r.ID, u, "fp-1"); !errors.Is(err, approvals.ErrNotApprover) {
			t.Errorf("Approve(%s) = %v, want ErrNotApprover", u.ID, err)
		}
	}
	must(f.svc.Approve(ctx, r.ID, slackBob, "fp-1"))(t)
	got := must(f.svc.Approve(ctx, r.ID, mmDan, "fp-1"))(t)
	if got.State != approvals.StateApproved {
		t.Fatalf("state after bob (Slack group) and dan (Mattermost channel) = %s", got.State)
	}
	own := map[string][]string{"slack": {"S0DBA U0EVE", "S0DBA U0BOB"}, "mattermost": {"dbachannel eve", "dbachannel dan"}}
	for _, g := range []*platformGroups{slackG, mmG} {
		for _, a := range g.asked {
			if !slices.Contains(own[g.name], a) {
				t.Errorf("%s was asked %q: a platform is asked about its own groups and users only", g.name, a)
			}
		}
	}

	// A resolver's failure on its own group is still an error to retry.
	down := &platformGroups{name: "slack"} // knows no group: fails
	f2 := newFixture(t, approvals.Policy{ApproverGroups: []string{"slack:S0DBA", "mattermost:dbachannel"}},
		approvals.WithGroupResolver("slack", down), approvals.WithGroupResolver("mattermost", mmG))
	r2 := must(f2.svc.Open(ctx, slackMigrate(slackAlice)))(t)
	if _, err := f2.svc.Approve(ctx, r2.ID, slackBob, "fp-1"); err == nil || approvals.IsRefusal(err) {
		t.Errorf("Approve with Slack's resolver failing = %v, want an error to retry", err)
	}
	// A group of a platform nobody resolves is a configuration error.
	if _, err := approvals.NewService(f.store, approvals.Policy{ApproverGroups: []string{"mattermost:dbachannel"}}, approvals.WithGroupResolver("slack", slackG)); !errors.Is(err, approvals.ErrInvalid) {
		t.Errorf("NewService with a Mattermost group and only Slack's resolver = %v, want ErrInvalid", err)
	}
}

// TestSelfApprovalAcrossSpellings: a requester never approves their own
// request, whether the request was stored before IDs were qualified
// ("U0ALICE" on a Slack request) or the approval comes unqualified; a
// legacy decision and a qualified one by the same user count once. The
// same platform ID on another platform is another person.
func TestSelfApprovalAcrossSpellings(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{ApprovalsRequired: 2})
	legacy := must(f.svc.Open(ctx, slackMigrate(approvals.User{ID: "U0ALICE", Name: "alice"})))(t)
	current := must(f.svc.Open(ctx, slackMigrate(slackAlice)))(t)
	for _, c := range []struct {
		req *approvals.Request
		by  approvals.User
	}{
		{legacy, slackAlice},
		{current, approvals.User{ID: "U0ALICE"}},
	} {
		if _, err := f.svc.Approve(ctx, c.req.ID, c.by, "fp-1"); !errors.Is(err, approvals.ErrSelfApproval) {
			t.Errorf("Approve(%s) of a request by %s = %v, want ErrSelfApproval", c.by.ID, c.req.Requester.ID, err)
		}
		if _, err := f.svc.Deny(ctx, c.req.ID, c.by, ""); !errors.Is(err, approvals.ErrSelfApproval) {
			t.Errorf("Deny(%s) of a request by %s = %v, want ErrSelfApproval", c.by.ID, c.req.Requester.ID, err)
		}
	}
	// The requester cancels their legacy request under their qualified ID.
	if _, err := f.svc.Cancel(ctx, current.ID, approvals.User{ID: "U0ALICE"}); err != nil {
		t.Errorf("Cancel by the unqualified spelling of the requester = %v", err)
	}

	// A legacy approval "U0BOB" and bob's qualified one are one approval.
	must(f.svc.Approve(ctx, legacy.ID, approvals.User{ID: "U0BOB"}, "fp-1"))(t)
	if _, err := f.svc.Approve(ctx, legacy.ID, slackBob, "fp-1"); !errors.Is(err, approvals.ErrDuplicateApproval) {
		t.Fatalf("Approve(slack:U0BOB) after U0BOB = %v, want ErrDuplicateApproval", err)
	}
	// mattermost:U0ALICE is not slack:U0ALICE.
	got := must(f.svc.Approve(ctx, legacy.ID, approvals.User{ID: "mattermost:U0ALICE"}, "fp-1"))(t)
	if got.State != approvals.StateApproved || len(got.Approvals()) != 2 {
		t.Fatalf("state %s with %d approvals, want approved with 2", got.State, len(got.Approvals()))
	}
	if got.Canonical(got.Requester.ID) != "slack:U0ALICE" || got.Canonical(got.Approvals()[0].User.ID) != "slack:U0BOB" {
		t.Errorf("legacy IDs read as %q, %q; want them qualified by the request's platform", got.Canonical(got.Requester.ID), got.Canonical(got.Approvals()[0].User.ID))
	}
}
