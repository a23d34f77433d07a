package main

import (
	"slices"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/internal/configcheck"
)

// TestPolicyIDsQualified: the policy serve runs with names every ID on one
// platform: qualified IDs stay as written, unqualified ones in a
// single-platform setup become that platform's, console names become
// console:…; with two platforms an unqualified one is refused at its key
// path, every one of them.
func TestPolicyIDsQualified(t *testing.T) {
	const mmUser = "8j3n5pzm1fbq7c6yy9qfg5w4xr"
	slackIDs, okS := idRulesOf("slack")
	mattermostIDs, okM := idRulesOf("mattermost")
	if !okS || !okM {
		t.Fatal("platforms.go has no row for slack or mattermost")
	}
	cases := []struct {
		name      string
		platforms []idRules
		pc        policyConfig
		want      policyConfig // the lists the policy holds
		problems  []string     // key paths refused
	}{
		{"slack only, unqualified", []idRules{slackIDs},
			policyConfig{Approvers: []string{"U0AAAAAAA"}, ApproverGroups: []string{"S0CCCCCCC", "dbas"}, Channels: []string{"C0123ABCD"}, Admins: []string{"W0BBBBBBB"}, Requesters: map[string][]string{"migrate": {"U0DDDDDDD"}}},
			policyConfig{Approvers: []string{"slack:U0AAAAAAA"}, ApproverGroups: []string{"slack:S0CCCCCCC", "slack:dbas"}, Channels: []string{"slack:C0123ABCD"}, Admins: []string{"slack:W0BBBBBBB"}, Requesters: map[string][]string{"migrate": {"slack:U0DDDDDDD"}}}, nil},
		{"slack only, qualified", []idRules{slackIDs},
			policyConfig{Approvers: []string{"slack:U0AAAAAAA"}},
			policyConfig{Approvers: []string{"slack:U0AAAAAAA"}}, nil},
		{"mattermost only, unqualified", []idRules{mattermostIDs},
			policyConfig{Approvers: []string{mmUser}, ApproverGroups: []string{mmUser}},
			policyConfig{Approvers: []string{"mattermost:" + mmUser}, ApproverGroups: []string{"mattermost:" + mmUser}}, nil},
		{"both, qualified", []idRules{slackIDs, mattermostIDs},
			policyConfig{Approvers: []string{"slack:U0AAAAAAA", "mattermost:" + mmUser}, ApproverGroups: []string{"slack:S0CCCCCCC", "mattermost:" + mmUser}},
			policyConfig{Approvers: []string{"slack:U0AAAAAAA", "mattermost:" + mmUser}, ApproverGroups: []string{"slack:S0CCCCCCC", "mattermost:" + mmUser}}, nil},
		{"both, unqualified: every one refused", []idRules{slackIDs, mattermostIDs},
			policyConfig{Approvers: []string{"U0AAAAAAA", "slack:U0BBBBBBB", mmUser}, ApproverGroups: []string{"S0CCCCCCC"}, Channels: []string{"C0123ABCD"}, Admins: []string{"U0AAAAAAA"}, Requesters: map[string][]string{"restart": {mmUser}}},
			policyConfig{}, []string{"policy.requesters.restart[0]", "policy.approvers[0]", "policy.approvers[2]", "policy.approver_groups[0]", "policy.channels[0]", "policy.admins[0]"}},
		{"console names", nil,
			policyConfig{Approvers: []string{"bob", "console:carol", "slack:U0AAAAAAA"}},
			policyConfig{Approvers: []string{"console:bob", "console:carol", "slack:U0AAAAAAA"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p configcheck.Problems
			pol := checkPolicy(&p, c.pc, false, c.platforms)
			var got []string
			for _, q := range p.List() {
				got = append(got, q.Path)
			}
			if !slices.Equal(got, c.problems) {
				t.Fatalf("problems at %q, want %q: %v", got, c.problems, p.List())
			}
			if c.problems != nil {
				return
			}
			for _, l := range []struct {
				key       string
				got, want []string
			}{{"approvers", pol.Approvers, c.want.Approvers}, {"approver_groups", pol.ApproverGroups, c.want.ApproverGroups},
				{"channels", pol.Channels, c.want.Channels}, {"admins", pol.Admins, c.want.Admins},
				{"requesters.migrate", pol.Requesters["migrate"], c.want.Requesters["migrate"]}} {
				if !slices.Equal(l.got, l.want) {
					t.Errorf("%s = %q, want %q", l.key, l.got, l.want)
				}
			}
		})
	}
}
