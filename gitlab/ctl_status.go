package gitlab

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// CtlStatus is what `gitlab-ctl status [service]` printed: one line per
// enabled service, in name order.
type CtlStatus struct {
	Services []Service `json:"services"`
}

// ServiceProcess is runit's view of one supervised process, as sv prints it
// (runit 2.1.2 sv.c, svstatus_print):
//
//	run: <name>: (pid <n>) <secs>s[, normally down][, paused][, want down][, got TERM]
//	down: <name>: <secs>s[, normally up][, want up]
//	finish: <name>: (pid <n>) <secs>s[, ...]
//
// The flags are stored as printed: sv only prints the ones that differ from
// the current state, so a running service without "normally down" is also
// normally up, yet NormallyUp is false for it.
type ServiceProcess struct {
	// State is run, down or finish; for a Service it can also be fail or
	// warning (see Service.Message).
	State string `json:"state"`
	// PID is 0 exactly when State is down.
	PID int `json:"pid,omitempty"`
	// Seconds in the current state.
	Seconds      int  `json:"seconds"`
	NormallyUp   bool `json:"normally_up,omitempty"`   // down, but would run at boot
	NormallyDown bool `json:"normally_down,omitempty"` // running, but would not at boot
	WantUp       bool `json:"want_up,omitempty"`       // down and runit keeps starting it: a crash loop
	WantDown     bool `json:"want_down,omitempty"`     // running and asked to stop
	Paused       bool `json:"paused,omitempty"`
	GotTERM      bool `json:"got_term,omitempty"` // sent TERM, not yet exited
}

// Service is one gitlab-ctl status line.
type Service struct {
	Name string `json:"name"`
	ServiceProcess
	// Log is the service's log process, the "; run: log: ..." part; nil when
	// the service has none. It can be down while the service runs and the
	// other way round.
	Log *ServiceProcess `json:"log,omitempty"`
	// Message is sv's text for State fail or warning, e.g. "runsv not
	// running" (the gitlab-runsvdir supervisor is down) or "unable to open
	// supervise/ok: file does not exist" (never started or reconfigured).
	Message string `json:"message,omitempty"`
}

// Up reports whether the service process is running. A log process alone
// does not count.
func (s Service) Up() bool { return s.State == "run" }

// Down returns the services that are not running (down, finish, fail,
// warning), in output order.
func (c CtlStatus) Down() []Service {
	var down []Service
	for _, s := range c.Services {
		if !s.Up() {
			down = append(down, s)
		}
	}
	return down
}

// Lookup returns the service called name.
func (c CtlStatus) Lookup(name string) (Service, bool) {
	for _, s := range c.Services {
		if s.Name == name {
			return s, true
		}
	}
	return Service{}, false
}

// ParseCtlStatus parses gitlab-ctl status output. Empty output is valid and
// means zero services: gitlab-ctl prints nothing for a service name that does
// not exist or is disabled, so callers asking about one service must check
// that it is there. Empty lines are skipped; any other line that is not an sv
// status line is an error naming it. Exit codes are not needed (and lie: they
// are summed over services).
func ParseCtlStatus(out []byte) (CtlStatus, error) {
	var st CtlStatus
	lineNo := 0
	for line := range strings.Lines(string(out)) {
		lineNo++
		line = chompLine(line)
		if strings.TrimSpace(line) == "" {
			continue
		}
		svc, err := parseServiceLine(line)
		if err != nil {
			return st, fmt.Errorf("gitlab-ctl status: line %d %q: %w", lineNo, line, err)
		}
		st.Services = append(st.Services, svc)
	}
	return st, nil
}

// parseServiceLine parses one sv line without an outcome prefix: a status
// (run:, down:, finish:) with an optional "; <log status>", or a
// "fail: <name>: <message>" / "warning: <name>: <message>" line. It is shared
// by gitlab-ctl status and, after the "ok: "/"timeout: " prefix, by restart,
// start and stop.
func parseServiceLine(line string) (Service, error) {
	if state, rest, ok := strings.Cut(line, ": "); ok && (state == "fail" || state == "warning") {
		name, msg, ok := strings.Cut(rest, ": ")
		if !ok || !isServiceName(name) || msg == "" {
			return Service{}, fmt.Errorf("want %s: <service>: <message>", state)
		}
		return Service{Name: name, ServiceProcess: ServiceProcess{State: state}, Message: msg}, nil
	}
	main, logPart, hasLog := strings.Cut(line, "; ")
	name, proc, err := parseSvProcess(main)
	if err != nil {
		return Service{}, err
	}
	svc := Service{Name: name, ServiceProcess: proc}
	if hasLog {
		logName, logProc, err := parseSvProcess(logPart)
		if err != nil {
			return Service{}, fmt.Errorf("log part: %w", err)
		}
		if logName != "log" {
			return Service{}, fmt.Errorf("after \"; \" want the log status, got %q", logName)
		}
		svc.Log = &logProc
	}
	return svc, nil
}

// parseSvProcess parses "<state>: <name>: [(pid <n>) ]<secs>s[, flag]...".
func parseSvProcess(s string) (name string, p ServiceProcess, err error) {
	state, rest, ok := strings.Cut(s, ": ")
	if !ok || (state != "run" && state != "down" && state != "finish") {
		return "", p, errors.New("want run:, down:, finish:, fail: or warning:")
	}
	p.State = state
	name, body, ok := strings.Cut(rest, ": ")
	if !ok || !isServiceName(name) {
		return "", p, fmt.Errorf("want %s: <service>: ...", state)
	}
	// sv prints the pid whenever there is a process (run, finish).
	if state != "down" {
		pid, after, ok := strings.Cut(body, ") ")
		pid, ok2 := strings.CutPrefix(pid, "(pid ")
		if !ok || !ok2 {
			return "", p, errors.New("want (pid <n>)")
		}
		if p.PID, err = parseSvNumber(pid); err != nil || p.PID == 0 {
			// sv prints the pid only when there is a process.
			return "", p, fmt.Errorf("bad pid %q", pid)
		}
		body = after
	}
	flags := strings.Split(body, ", ")
	secs, ok := strings.CutSuffix(flags[0], "s")
	if !ok {
		return "", p, errors.New("want <seconds>s")
	}
	if p.Seconds, err = parseSvNumber(secs); err != nil {
		return "", p, fmt.Errorf("seconds: %w", err)
	}
	for _, f := range flags[1:] {
		switch f {
		case "normally up":
			p.NormallyUp = true
		case "normally down":
			p.NormallyDown = true
		case "want up":
			p.WantUp = true
		case "want down":
			p.WantDown = true
		case "paused":
			p.Paused = true
		case "got TERM":
			p.GotTERM = true
		default:
			return "", p, fmt.Errorf("unknown flag %q", f)
		}
	}
	return name, p, nil
}

// parseSvNumber accepts the unsigned decimals sv prints, refusing anything
// that would not fit an int.
func parseSvNumber(s string) (int, error) {
	if s == "" || len(s) > 18 || strings.TrimLeft(s, "0123456789") != "" {
		return 0, fmt.Errorf("not a number: %q", s)
	}
	return strconv.Atoi(s)
}

// isServiceName accepts the names of runit service directories: no space,
// no colon, not empty.
func isServiceName(s string) bool {
	return s != "" && !strings.ContainsAny(s, " :\t")
}
