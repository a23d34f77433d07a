package sim

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// ctlRun simulates gitlab-ctl (omnibus-ctl running runit's sv for each
// enabled service, in alphabetical order, summing the exit codes).
type ctlRun struct {
	*env
	st store
}

func (c *ctlRun) run(args []string) int {
	if len(args) == 0 {
		fmt.Fprintln(c.stderr, "gitlab-sim: simulated gitlab-ctl needs a command: status, restart, start or stop, optionally followed by a service name")
		return 1
	}
	cmd, name := args[0], ""
	if len(args) > 1 {
		name = args[1]
	}
	switch cmd {
	case "status":
		return c.status(name)
	case "restart", "start", "stop":
		return c.control(cmd, name)
	}
	fmt.Fprintf(c.stderr, "gitlab-sim: gitlab-ctl %s is not simulated; the simulator knows status, restart, start and stop\n", cmd)
	return 1
}

func elapsed(now, since time.Time) int {
	d := now.Sub(since)
	if d < 0 {
		return 0
	}
	return int(d / time.Second)
}

// selected returns the enabled services gitlab-ctl would act on: all of
// them, or the one named. Unknown or disabled names select nothing.
func selected(s *State, name string) []*Service {
	var out []*Service
	for _, svc := range s.Services {
		if svc.Disabled || (name != "" && svc.Name != name) {
			continue
		}
		out = append(out, svc)
	}
	return out
}

// statusLine is what `sv status` prints for a service, and its LSB exit
// code (0 running, 3 down, 1 failure).
func statusLine(s *State, svc *Service, now time.Time) (string, int) {
	if s.RunsvdirDown {
		return fmt.Sprintf("fail: %s: runsv not running", svc.Name), 1
	}
	log := fmt.Sprintf("; run: log: (pid %d) %ds", svc.LogPID, elapsed(now, svc.LogSince))
	if svc.Up {
		return fmt.Sprintf("run: %s: (pid %d) %ds%s", svc.Name, svc.PID, elapsed(now, svc.Since), log), 0
	}
	if svc.WantUp {
		// Crash loop: runsv restarts it every second, so it is never down long.
		return fmt.Sprintf("down: %s: %ds, normally up, want up%s", svc.Name, elapsed(now, svc.Since)%2, log), 3
	}
	return fmt.Sprintf("down: %s: %ds, normally up%s", svc.Name, elapsed(now, svc.Since), log), 3
}

func (c *ctlRun) status(name string) int {
	var b strings.Builder
	code := 0
	now := c.now()
	err := c.st.update(now, func(s *State) (bool, error) {
		for _, svc := range selected(s, name) {
			line, rc := statusLine(s, svc, now)
			b.WriteString(line + "\n")
			code += rc
		}
		return false, nil
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "gitlab-sim: %v\n", err)
		return 2
	}
	io.WriteString(c.stdout, b.String())
	return code & 0xff
}

// control runs restart, start or stop on the selected services one after
// the other, recording each as soon as it is done.
func (c *ctlRun) control(cmd, name string) int {
	var names []string
	err := c.st.update(c.now(), func(s *State) (bool, error) {
		for _, svc := range selected(s, name) {
			names = append(names, svc.Name)
		}
		return false, nil
	})
	if err != nil {
		fmt.Fprintf(c.stderr, "gitlab-sim: %v\n", err)
		return 2
	}
	code := 0
	for _, n := range names {
		var line string
		var rc int
		now := c.now()
		err := c.st.update(now, func(s *State) (bool, error) {
			svc := s.service(n)
			if svc == nil {
				return false, nil
			}
			line, rc = c.act(s, svc, cmd, now)
			return true, nil
		})
		if err != nil {
			fmt.Fprintf(c.stderr, "gitlab-sim: %v\n", err)
			return 2
		}
		if line == "" {
			continue
		}
		// sv waits for the service to come up or go down.
		c.sleep(150*time.Millisecond + time.Duration(len(n)%5)*70*time.Millisecond)
		io.WriteString(c.stdout, line+"\n")
		code += rc
	}
	return code & 0xff
}

func (c *ctlRun) act(s *State, svc *Service, cmd string, now time.Time) (string, int) {
	if s.RunsvdirDown {
		return fmt.Sprintf("fail: %s: runsv not running", svc.Name), 1
	}
	start := func() {
		svc.Up, svc.WantUp, svc.PID = true, false, s.newPID()
		svc.Since = now.UTC().Add(-time.Duration(svc.StartSecs) * time.Second)
	}
	switch cmd {
	case "restart":
		start()
	case "start":
		if !svc.Up {
			start()
		}
	case "stop":
		if svc.Up || svc.WantUp {
			svc.Up, svc.WantUp, svc.PID, svc.Since = false, false, 0, now.UTC()
		}
		return fmt.Sprintf("ok: down: %s: %ds, normally up", svc.Name, elapsed(now, svc.Since)), 0
	}
	return fmt.Sprintf("ok: run: %s: (pid %d) %ds", svc.Name, svc.PID, elapsed(now, svc.Since)), 0
}
