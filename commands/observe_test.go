package commands_test

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// observed is a commands.Observer that keeps what it was told.
type observed struct {
	mu       sync.Mutex
	commands []string
	jobs     []string
	status   []string
}

func (o *observed) Command(sub, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commands = append(o.commands, sub+" "+outcome)
}

func (o *observed) AgentJob(host, op, state string, d time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if d <= 0 {
		state += " (no duration)"
	}
	o.jobs = append(o.jobs, host+" "+op+" "+state)
}

func (o *observed) MigrationStatus(host, db string, down int, at time.Time) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.status = append(o.status, fmt.Sprintf("%s %s %d", host, db, down))
}

// TestObserverSeesCommandsJobsAndStatus: every command is reported with
// its subcommand and outcome (text naming no subcommand as "unknown"),
// every job the router followed with its end state and a duration, and
// every successful db:migrate:status with the down count per database,
// the approval check's and the after-check's included.
func TestObserverSeesCommandsJobsAndStatus(t *testing.T) {
	obs := &observed{}
	s, rec := setup(t, simtest.Options{Router: commands.Options{Observer: obs}})
	if err := command(t, s, rec, alice, "status"); err != nil {
		t.Fatal(err)
	}
	if err := command(t, s, rec, alice, "frobnicate now"); err == nil {
		t.Fatal("an unknown subcommand was accepted")
	}
	id, _ := openMigrate(t, s, rec)
	if err := command(t, s, rec, alice, "approve "+id); err == nil {
		t.Fatal("the requester approved their own request")
	}
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}

	wantCommands := []string{"status accepted", "unknown refused", "migrate accepted", "approve refused", "approve accepted"}
	if !slices.Equal(obs.commands, wantCommands) {
		t.Errorf("commands %q, want %q", obs.commands, wantCommands)
	}
	jobs := strings.Join(obs.jobs, "\n")
	for _, want := range []string{"gitlab-sim migrate-status succeeded", "gitlab-sim migrate succeeded"} {
		if !strings.Contains(jobs, want) {
			t.Errorf("no %q in the jobs observed:\n%s", want, jobs)
		}
	}
	if strings.Contains(jobs, "no duration") {
		t.Errorf("a job was observed without its duration:\n%s", jobs)
	}
	// The first status sees 6 down on main; the last one (after the
	// migrate) none.
	if len(obs.status) < 2 || obs.status[0] != "gitlab-sim main 6" || obs.status[len(obs.status)-1] != "gitlab-sim main 0" {
		t.Errorf("status observed %q, want main 6 first and main 0 last", obs.status)
	}
}
