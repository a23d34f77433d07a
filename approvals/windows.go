package approvals

import (
	"fmt"
	"time"
)

// Windows says when destructive operations may start: policy.windows,
// implemented by package window (this package knows no cron).
type Windows interface {
	// Closed says why operations may not start at now and the next time
	// they may (zero: none known); closed is false when they may.
	Closed(now time.Time) (why string, next time.Time, closed bool)
	// Format writes a time for a refusal, in words people read.
	Format(t time.Time) string
}

// CheckWindow reports whether operation may start now under the policy's
// windows. An emergency request bypasses them (it needs one more approval
// instead, and a review). The error wraps ErrOutsideWindow and says when
// the next allowed time is and how to break glass. It writes no audit
// entry: Open and Approve audit their refusals, and the router audits the
// refusal of a command it checks early.
func (s *Service) CheckWindow(operation string, emergency bool) error {
	return s.checkWindow(operation, emergency, s.now())
}

func (s *Service) checkWindow(operation string, emergency bool, now time.Time) error {
	if emergency || s.policy.Windows == nil {
		return nil
	}
	why, next, closed := s.policy.Windows.Closed(now)
	if !closed {
		return nil
	}
	when := "No allowed time comes within the next two years: an admin must change policy.windows."
	if !next.IsZero() {
		when = "The next allowed time is " + s.policy.Windows.Format(next) + ", " + inWords(next.Sub(now)) + "."
	}
	return fmt.Errorf("%s is not allowed now: %s. %s In an emergency, break glass with `/gitlab-migrations %s --emergency -- <reason>` (it needs one more approval and a review afterwards): %w",
		operation, why, when, operation, ErrOutsideWindow)
}

// inWords says how far ahead d is as people say it: "in 45 minutes", "in
// 3 hours 10 minutes", "in 12 days".
func inWords(d time.Duration) string {
	d = d.Round(time.Minute)
	switch h, m := int(d.Hours()), int(d.Minutes())%60; {
	case d < time.Minute:
		return "in less than a minute"
	case d < time.Hour:
		return "in " + plural(m, "minute")
	case d < 48*time.Hour && m == 0:
		return "in " + plural(h, "hour")
	case d < 48*time.Hour:
		return "in " + plural(h, "hour") + " " + plural(m, "minute")
	default:
		return "in " + plural(int(d/(24*time.Hour)), "day")
	}
}
