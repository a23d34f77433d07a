package gitlab

import (
	"errors"
	"fmt"
	"strings"
)

// CtlRestart is what `gitlab-ctl restart|start|stop [service]` printed: one
// line per enabled service after sv waited (gitlab-ctl sets SVWAIT=30).
type CtlRestart struct {
	Services []CtlRestartLine `json:"services"`
}

// CtlRestartLine is one line: an outcome, then the service's status as
// gitlab-ctl status would print it (without the log part), or sv's fail /
// warning line.
type CtlRestartLine struct {
	// Outcome is ok, timeout (the service did not reach the wanted state
	// within SVWAIT), kill (force-* commands after a timeout), fail or
	// warning (sv could not talk to the service: Service.Message says why).
	Outcome string `json:"outcome"`
	Service
}

// Failed returns the lines whose outcome is not ok, in output order.
func (r CtlRestart) Failed() []CtlRestartLine {
	var failed []CtlRestartLine
	for _, l := range r.Services {
		if l.Outcome != "ok" {
			failed = append(failed, l)
		}
	}
	return failed
}

// ParseCtlRestart parses the output of gitlab-ctl restart, start or stop:
//
//	ok: run: sidekiq: (pid 2233911) 0s
//	ok: down: sidekiq: 0s, normally up
//	timeout: run: puma: (pid 2230514) 37s, got TERM
//	fail: sidekiq: runsv not running
//
// Empty output is valid (no such or no enabled service). Empty lines are
// skipped; any other line that does not parse is an error naming it.
func ParseCtlRestart(out []byte) (CtlRestart, error) {
	var r CtlRestart
	lineNo := 0
	for line := range strings.Lines(string(out)) {
		lineNo++
		line = chompLine(line)
		if strings.TrimSpace(line) == "" {
			continue
		}
		l, err := parseRestartLine(line)
		if err != nil {
			return r, fmt.Errorf("gitlab-ctl restart: line %d %q: %w", lineNo, line, err)
		}
		r.Services = append(r.Services, l)
	}
	return r, nil
}

// parseRestartLine: sv's control commands print "ok: ", "timeout: " or
// "kill: " followed by the status line, or print a fail:/warning: line with
// no outcome prefix, whose state then is the outcome.
func parseRestartLine(line string) (CtlRestartLine, error) {
	outcome, rest, _ := strings.Cut(line, ": ")
	switch outcome {
	case "ok", "timeout", "kill":
		if strings.HasPrefix(rest, "fail: ") || strings.HasPrefix(rest, "warning: ") {
			return CtlRestartLine{}, errors.New("an outcome prefix before fail:/warning:")
		}
		svc, err := parseServiceLine(rest)
		return CtlRestartLine{Outcome: outcome, Service: svc}, err
	case "fail", "warning":
		svc, err := parseServiceLine(line)
		return CtlRestartLine{Outcome: outcome, Service: svc}, err
	}
	return CtlRestartLine{}, errors.New("want ok:, timeout:, kill:, fail: or warning:")
}
