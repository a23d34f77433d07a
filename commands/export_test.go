package commands

import (
	"context"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// SetArgvSent makes r send f(approved argv) to the agent instead of the
// approved argv: a bot whose catalogue builds something else than the
// agent's. For tests only.
func SetArgvSent(r *Router, f func([]string) []string) { r.argvSent = f }

// SetAnchorPoll makes r's anchor loop look at its clock every d instead of
// every minute, so that a test can move an injected clock. For tests only.
func SetAnchorPoll(r *Router, d time.Duration) { r.anchorPoll = d }

// UpgradeCheck runs upgrade-check on host as by. For tests only.
func UpgradeCheck(ctx context.Context, r *Router, host Host, by approvals.User) (UpgradeVerdict, error) {
	return r.upgradeCheck(ctx, host, by, nil)
}

// UpgradeMessage renders v as the thread reply. For tests only.
func UpgradeMessage(v UpgradeVerdict) bot.Message { return upgradeMessage(v) }
