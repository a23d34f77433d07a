package commands

import "time"

// SetArgvSent makes r send f(approved argv) to the agent instead of the
// approved argv: a bot whose catalogue builds something else than the
// agent's. For tests only.
func SetArgvSent(r *Router, f func([]string) []string) { r.argvSent = f }

// SetAnchorPoll makes r's anchor loop look at its clock every d instead of
// every minute, so that a test can move an injected clock. For tests only.
func SetAnchorPoll(r *Router, d time.Duration) { r.anchorPoll = d }
