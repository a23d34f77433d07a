package commands

import (
	"slices"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// qualifiedUser is u as the approvals workflow and the audit trail see it:
// its ID qualified by the platform it came from ("slack:U123"), so that
// policy lists, requests and decisions name one person on one platform.
// The router qualifies here, once, rather than every adapter: an adapter
// hands in its platform's own IDs and gets them back in what it posts.
func qualifiedUser(platform string, u bot.User) approvals.User {
	return approvals.User{ID: approvals.Qualify(platform, u.ID), Name: u.Name}
}

// actorOf is who typed cmd, qualified, for what names them to the audit
// trail and the agent (a read-only run's requester) but never to the chat.
func actorOf(cmd bot.Command) bot.User {
	return bot.User{ID: approvals.Qualify(cmd.Platform, cmd.User.ID), Name: cmd.User.Name}
}

// mentionable keeps the IDs of ids (qualified user and group IDs from the
// policy) that platform can mention, as that platform's own IDs: a Slack
// post mentions the Slack approvers, not the Mattermost ones. Unqualified
// IDs (a policy built for one platform, a request stored before IDs were
// qualified) are kept as they are.
func mentionable(platform string, ids []string) []string {
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		p, local := approvals.SplitID(id)
		if p == "" || p == platform {
			out = append(out, local)
		}
	}
	return slices.Clip(out)
}
