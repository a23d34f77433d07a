package sim

import (
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"
)

// env is what one invocation runs with.
type env struct {
	stdout, stderr io.Writer
	getenv         func(string) string
	// speed multiplies every simulated delay; 0 means no sleeping.
	speed float64
	// fixedNow, when set (GITLAB_SIM_NOW), replaces the wall clock.
	fixedNow *time.Time
}

func (e *env) now() time.Time {
	if e.fixedNow != nil {
		return *e.fixedNow
	}
	return time.Now()
}

func (e *env) sleep(d time.Duration) {
	if e.speed <= 0 || d <= 0 {
		return
	}
	time.Sleep(time.Duration(float64(d) * e.speed))
}

const helpText = `gitlab-sim - a SIMULATOR of GitLab's gitlab-rake and gitlab-ctl, for tests and demos.

It touches no real GitLab, database or service. It keeps a pretend GitLab host
(databases, migrations, batched background migrations, runit services) in a
JSON state file and prints exactly what the real commands print, in the same
formats and with the same exit codes, so that gitlab-chatops can be tested and
demonstrated without a GitLab installation. Every run says so on stderr.
Never put its gitlab-rake / gitlab-ctl symlinks on a real GitLab host's PATH.

Usage:
  gitlab-sim [--state FILE] init [--scenario NAME] [--status-layout rails|gitlab]
                                                     create a fresh state (default scenario: default;
                                                     layout rails = stock Rails db:migrate:status as in
                                                     the fixtures, gitlab = GitLab's Type/Milestone one)
  gitlab-sim scenarios                               list the scenarios
  gitlab-sim [--state FILE] rake TASK...             act as gitlab-rake
  gitlab-sim [--state FILE] ctl COMMAND [SERVICE]    act as gitlab-ctl
  gitlab-rake TASK...   /   gitlab-ctl COMMAND       the same through symlinks named like the real programs

Rake tasks:
  db:migrate:status[:main|:ci]    db:migrate[:main|:ci]
  gitlab:background_migrations:status[:main|:ci]
  gitlab:background_migrations:finalize[:main|:ci][JOB_CLASS,TABLE,COLUMN,JOB_ARGUMENTS_JSON]
  (:main/:ci exist only on decomposed scenarios, as on a real GitLab)
gitlab-ctl commands: status, restart, start, stop, each optionally for one service.

Environment:
  GITLAB_SIM_STATE   the state file, when --state is not given
  GITLAB_SIM_SPEED   multiplier for the simulated delays (default 1; 0 = no sleeping)
  GITLAB_SIM_NOW     pretend the time is this (RFC 3339 or Unix seconds), for reproducible output
  SKIP_POST_DEPLOYMENT_MIGRATIONS   as in GitLab: hide post-deployment migrations

Scenarios:
`

func writeHelp(w io.Writer) {
	io.WriteString(w, helpText)
	writeScenarios(w)
}

func writeScenarios(w io.Writer) {
	for _, sc := range scenarios {
		fmt.Fprintf(w, "  %-26s %s\n", sc.name, sc.about)
	}
}

// Main runs one gitlab-sim invocation. args are the arguments after the
// program name, e.g. ["rake", "db:migrate:status"], ["ctl", "status"],
// ["init", "--scenario", "bbm-unfinished"], optionally preceded by
// "--state FILE". It returns the process exit code.
func Main(args []string, stdout, stderr io.Writer, getenv func(string) string) (code int) {
	if stdout == nil {
		stdout = io.Discard
	}
	if stderr == nil {
		stderr = io.Discard
	}
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(stderr, "gitlab-sim: internal error (please report): %v\n", p)
			code = 70
		}
	}()

	statePath := ""
	i := 0
	for i < len(args) {
		a := args[i]
		switch {
		case a == "--state":
			if i+1 >= len(args) || args[i+1] == "" {
				fmt.Fprintln(stderr, "gitlab-sim: --state needs a file name")
				return 2
			}
			statePath = args[i+1]
			i += 2
			continue
		case strings.HasPrefix(a, "--state="):
			statePath = strings.TrimPrefix(a, "--state=")
			if statePath == "" {
				fmt.Fprintln(stderr, "gitlab-sim: --state needs a file name")
				return 2
			}
			i++
			continue
		case a == "-h" || a == "--help" || a == "help":
			fmt.Fprintln(stderr, "gitlab-sim: GitLab simulator (no real GitLab is touched)")
			writeHelp(stdout)
			return 0
		}
		break
	}
	if i >= len(args) {
		fmt.Fprintln(stderr, "gitlab-sim: GitLab simulator (no real GitLab is touched)")
		fmt.Fprintln(stderr, "gitlab-sim: say what to simulate: rake, ctl, init or scenarios (see gitlab-sim --help)")
		return 2
	}
	mode, rest := args[i], args[i+1:]

	e := &env{stdout: stdout, stderr: stderr, getenv: getenv}
	var banner string
	switch mode {
	case "rake", "gitlab-rake":
		banner = "gitlab-sim: simulated gitlab-rake (no real GitLab is touched)"
	case "ctl", "gitlab-ctl":
		banner = "gitlab-sim: simulated gitlab-ctl (no real GitLab is touched)"
	default:
		banner = "gitlab-sim: GitLab simulator (no real GitLab is touched)"
	}
	fmt.Fprintln(stderr, banner)

	if err := e.configure(); err != nil {
		fmt.Fprintf(stderr, "gitlab-sim: %v\n", err)
		return 2
	}
	if statePath == "" {
		statePath = getenv("GITLAB_SIM_STATE")
	}
	needState := func() bool {
		if statePath == "" {
			fmt.Fprintln(stderr, "gitlab-sim: no state file: pass --state FILE before the mode or set GITLAB_SIM_STATE, then create it with `gitlab-sim --state FILE init --scenario default`")
			return false
		}
		return true
	}

	switch mode {
	case "rake", "gitlab-rake", "ctl", "gitlab-ctl":
		for _, a := range rest {
			if a == "--help" || a == "-h" {
				writeHelp(stdout)
				return 0
			}
		}
		if !needState() {
			return 2
		}
		if mode == "rake" || mode == "gitlab-rake" {
			return (&rakeRun{env: e, st: store{statePath}}).run(rest)
		}
		return (&ctlRun{env: e, st: store{statePath}}).run(rest)
	case "init":
		return e.initMode(statePath, rest, needState)
	case "scenarios":
		writeScenarios(stdout)
		return 0
	}
	fmt.Fprintf(stderr, "gitlab-sim: unknown mode %q: use rake, ctl, init or scenarios (see gitlab-sim --help)\n", mode)
	return 2
}

// configure reads GITLAB_SIM_SPEED and GITLAB_SIM_NOW.
func (e *env) configure() error {
	e.speed = 1
	if v := strings.TrimSpace(e.getenv("GITLAB_SIM_SPEED")); v != "" {
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || math.IsNaN(f) || math.IsInf(f, 0) || f < 0 || f > 1000 {
			return fmt.Errorf("GITLAB_SIM_SPEED=%q is not a usable speed: give a number from 0 (no delays) to 1000, e.g. 1 or 0.1", v)
		}
		e.speed = f
	}
	if v := strings.TrimSpace(e.getenv("GITLAB_SIM_NOW")); v != "" {
		t, err := parseNow(v)
		if err != nil {
			return err
		}
		e.fixedNow = &t
	}
	return nil
}

func parseNow(v string) (time.Time, error) {
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return t.UTC(), nil
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 && n < 1<<40 {
		return time.Unix(n, 0).UTC(), nil
	}
	return time.Time{}, fmt.Errorf("GITLAB_SIM_NOW=%q is not a time: give RFC 3339 (2025-06-15T10:00:00Z) or Unix seconds", v)
}

func (e *env) initMode(statePath string, args []string, needState func() bool) int {
	name, layout := "default", LayoutRails
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "--scenario":
			if i+1 >= len(args) {
				fmt.Fprintf(e.stderr, "gitlab-sim: --scenario needs a name: %s\n", scenarioNames())
				return 2
			}
			name = args[i+1]
			i++
		case strings.HasPrefix(a, "--scenario="):
			name = strings.TrimPrefix(a, "--scenario=")
		case a == "--state":
			if i+1 >= len(args) || args[i+1] == "" {
				fmt.Fprintln(e.stderr, "gitlab-sim: --state needs a file name")
				return 2
			}
			statePath = args[i+1]
			i++
		case strings.HasPrefix(a, "--state=") && len(a) > len("--state="):
			statePath = strings.TrimPrefix(a, "--state=")
		case a == "--status-layout" && i+1 < len(args):
			layout = args[i+1]
			i++
		case strings.HasPrefix(a, "--status-layout="):
			layout = strings.TrimPrefix(a, "--status-layout=")
		case a == "--list":
			writeScenarios(e.stdout)
			return 0
		default:
			fmt.Fprintf(e.stderr, "gitlab-sim: init does not understand %q: use init [--scenario NAME] (scenarios: %s)\n", a, scenarioNames())
			return 2
		}
	}
	if !needState() {
		return 2
	}
	if layout != LayoutRails && layout != LayoutGitLab {
		fmt.Fprintf(e.stderr, "gitlab-sim: --status-layout must be %s (stock Rails, as in the fixtures) or %s (GitLab's Type/Milestone layout)\n", LayoutRails, LayoutGitLab)
		return 2
	}
	if err := initAt(statePath, name, layout, e.now()); err != nil {
		fmt.Fprintf(e.stderr, "gitlab-sim: %v\n", err)
		return 2
	}
	sc, _ := findScenario(name)
	fmt.Fprintf(e.stdout, "gitlab-sim: %s now holds a simulated GitLab in scenario %q: %s\n", statePath, name, sc.about)
	return 0
}

// Init writes a fresh state for scenario to statePath, replacing any state
// there. It refuses unknown scenarios with a message that lists the known
// ones.
func Init(statePath, scenario string) error {
	return initAt(statePath, scenario, LayoutRails, time.Now())
}

func initAt(statePath, name, layout string, now time.Time) error {
	if statePath == "" {
		return errors.New("no state file given")
	}
	sc, err := findScenario(name)
	if err != nil {
		return err
	}
	s := sc.build(now)
	if layout != LayoutRails {
		s.StatusLayout = layout
	}
	if err := s.validate(); err != nil {
		return err
	}
	return store{statePath}.replace(s)
}
