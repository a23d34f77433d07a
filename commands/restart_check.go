package commands

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// restartCheck polls every service after a restart until the restarted
// ones run or RestartWait passes, and reports all of them: a restart that
// leaves another service down is not a success.
func (r *Router) restartCheck(ctx context.Context, host Host, cr gitlab.CtlRestart) (bot.Message, verdict) {
	var restarted, notRestarted []string
	for _, l := range cr.Services {
		if l.Outcome == "ok" {
			restarted = append(restarted, l.Name)
		} else {
			notRestarted = append(notRestarted, fmt.Sprintf("%s (%s)", l.Name, l.Outcome))
		}
	}
	if len(cr.Services) == 0 {
		// Nothing to wait for: gitlab-ctl prints nothing for a name it does
		// not know, so polling for it would never end.
		return bot.Message{}, verdict{verdictNoEffect, "gitlab-ctl restarted no service (unknown or disabled service name); /gitlab-migrations services lists them"}
	}
	deadline := r.opt.Clock().Add(r.opt.RestartWait)
	for {
		s, err := r.ctlStatus(ctx, host)
		if err == nil && allUp(s, restarted) || r.opt.Clock().After(deadline) || ctx.Err() != nil {
			if err != nil {
				r.logger(ctx).Error("services after restart", "host", host.Name, "err", err)
				return problemMessage("Could not check the services after the restart", host.Name, err, "Check with /gitlab-migrations services."),
					verdict{verdictUnverified, "gitlab-ctl restart ended, but I could not check the services after it; check with /gitlab-migrations services"}
			}
			msg := servicesMessage(host.Name, s)
			msg.Title = bot.Plain("Services on " + host.Name + " after the restart")
			return msg, restartVerdict(s, restarted, notRestarted, r.opt.RestartWait)
		}
		_ = sleepCtx(ctx, r.opt.RestartPoll) // an ended ctx ends the loop above
	}
}

// allUp reports whether every named service is listed and running.
func allUp(s gitlab.CtlStatus, names []string) bool {
	for _, n := range names {
		if svc, ok := s.Lookup(n); !ok || !svc.Up() {
			return false
		}
	}
	return true
}

// restartVerdict judges a restart from every service's state after it.
func restartVerdict(s gitlab.CtlStatus, restarted, notRestarted []string, waited time.Duration) verdict {
	var upAgain, stillDown, othersDown []string
	for _, n := range restarted {
		if svc, ok := s.Lookup(n); ok && svc.Up() {
			upAgain = append(upAgain, n)
		} else {
			stillDown = append(stillDown, n)
		}
	}
	for _, svc := range s.Down() {
		if !slices.Contains(restarted, svc.Name) {
			othersDown = append(othersDown, describeDown(svc))
		}
	}
	var why []string
	if len(upAgain) > 0 {
		why = append(why, fmt.Sprintf("%s restarted and running", listShort(upAgain, 5)))
	}
	if len(notRestarted) > 0 {
		why = append(why, "did not restart: "+listShort(notRestarted, 6))
	}
	if len(stillDown) > 0 {
		why = append(why, fmt.Sprintf("not running %s after the restart: %s", waited, strings.Join(stillDown, ", ")))
	}
	if len(othersDown) > 0 {
		why = append(why, "also not running: "+listShort(othersDown, 6))
	}
	text := strings.Join(why, "; ")
	switch {
	case len(stillDown) == 0 && len(notRestarted) == 0 && len(othersDown) == 0:
		return verdict{verdictSucceeded, fmt.Sprintf("%s; all %d services running", text, len(s.Services))}
	case len(upAgain) == 0:
		return verdict{verdictFailed, text}
	}
	return verdict{verdictPartly, text}
}

// describeDown names a service that is not running, in a few words.
func describeDown(s gitlab.Service) string {
	switch {
	case s.State == "down" && s.WantUp:
		return s.Name + " (down, crash loop?)"
	case s.State == "fail" || s.State == "warning":
		return fmt.Sprintf("%s (%s: %s)", s.Name, s.State, s.Message)
	}
	return fmt.Sprintf("%s (%s)", s.Name, s.State)
}
