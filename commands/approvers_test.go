package commands_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestApprovalNamesApproversAndGroups: the approval post mentions the
// approver groups as well as the approvers, and a user who may not approve
// is told who may (issue 9 §8: with approver_groups alone the post named
// nobody, yet the refusal said to ask "the approvers it mentions").
func TestApprovalNamesApproversAndGroups(t *testing.T) {
	for _, c := range []struct {
		name string
		pol  approvals.Policy
		want []string
	}{
		{"groups only", approvals.Policy{ApproverGroups: []string{"G-dba"}}, []string{"G-dba"}},
		{"approvers and groups", approvals.Policy{Approvers: []string{bob.ID}, ApproverGroups: []string{"G-dba"}}, []string{bob.ID, "G-dba"}},
		// Qualified IDs: a post on this platform ("test") mentions this
		// platform's approvers, as its own IDs, and not another's.
		{"qualified, two platforms", approvals.Policy{Approvers: []string{"test:" + bob.ID, "other:U-zed"}, ApproverGroups: []string{"other:G-x", "test:G-dba"}}, []string{bob.ID, "G-dba"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			s, rec := setup(t, simtest.Options{Policy: c.pol, Groups: approvalstest.Groups{Members: map[string][]string{"G-dba": {"U-dan"}, "G-x": {"U-dan"}}}})
			id, root := openMigrate(t, s, rec)
			if got := rec.message(root).Mentions; !slices.Equal(got, c.want) {
				t.Errorf("approval post mentions %v, want %v", got, c.want)
			}
			for _, verb := range []string{"approve", "deny"} {
				err := command(t, s, rec, carol, verb+" "+id)
				var an bot.ApproversNamer
				if !errors.As(err, &an) || !slices.Equal(an.Approvers(), c.want) {
					t.Errorf("carol's %s: want a refusal naming %v, got %v", verb, c.want, err)
				}
			}
			// Other refusals name nobody.
			err := command(t, s, rec, alice, "approve "+id)
			var an bot.ApproversNamer
			if err == nil || (errors.As(err, &an) && len(an.Approvers()) != 0) {
				t.Errorf("alice's self-approval: want a plain refusal, got %v", err)
			}
			st, err := s.DB.Request(context.Background(), id)
			if err != nil || st.State != approvals.StatePending {
				t.Errorf("request after refusals: %v %v", st, err)
			}
		})
	}
}
