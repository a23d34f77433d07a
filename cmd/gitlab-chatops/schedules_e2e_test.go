package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
	"github.com/gitlab-chatops/gitlab-chatops/schedule/scheduletest"
)

// syncBuffer is an io.Writer the console writes from several goroutines
// while the test reads it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitOutput waits until out holds want (a deadlock guard of 30 s, not a
// timing assumption: the scheduler's clock is manual).
func waitOutput(t *testing.T, out *syncBuffer, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(out.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("the console never printed %q:\n%s", want, out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConsoleScheduleFires: the console with --config (a real agent over
// the simulator) and --schedule: the schedule fires when the scheduler's
// clock reaches it and posts into the console's channel, the status
// summary in its thread. An admin adds a schedule from the console; it is
// stored, and the next console on the same store lists it (chat-defined
// schedules survive a restart).
func TestConsoleScheduleFires(t *testing.T) {
	stack := simtest.Start(t, simtest.Options{})
	certs := filepath.Join(stack.Dir, "certs")
	dir := t.TempDir()
	config := filepath.Join(dir, "bot.yaml")
	if err := os.WriteFile(config, []byte(fmt.Sprintf(
		"store: %s\naudit: {key_file: %s}\napproval_key: %s\npolicy: {admins: [alice]}\nhosts:\n  - name: gitlab-sim\n    agent: %s\n    ca: %s\n    cert: %s\n    key: %s\n",
		filepath.Join(dir, "chatops.db"), writeAuditKey(t, dir), filepath.Join(certs, agent.ApprovalKeyFile), stack.AgentURL,
		filepath.Join(certs, "ca.pem"), filepath.Join(certs, "bot.pem"), filepath.Join(certs, "bot-key.pem"))), 0o600); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 2, 7, 59, 30, 0, time.UTC)

	// console runs the console until its input ends, on clock.
	console := func(clock *scheduletest.Clock, in io.Reader, out *syncBuffer, args ...string) chan error {
		done := make(chan error, 1)
		go func() {
			done <- runConsoleWith(context.Background(), append([]string{"--config", config}, args...), in, out, out, clock)
		}()
		return done
	}

	clock := scheduletest.NewClock(t0)
	in, typed := io.Pipe()
	out := &syncBuffer{}
	done := console(clock, in, out, "--schedule", "0 8 * * 1-5 status --when changed")
	waitOutput(t, out, "Schedule c1: status at 0 8 * * 1-5 UTC, when changed, posts into #ops")
	clock.MustWaitDue(t, time.Date(2026, 3, 2, 8, 0, 0, 0, time.UTC))
	clock.Advance(30 * time.Second)
	waitOutput(t, out, "SCHEDULED STATUS ON GITLAB-SIM (SCHEDULE C1)")
	waitOutput(t, out, "MIGRATION STATUS ON GITLAB-SIM")
	post := out.String()[strings.Index(out.String(), "SCHEDULED STATUS ON GITLAB-SIM"):]
	for _, want := range []string{"#ops", "main: 6 down", "`0 8 * * 1-5` UTC · when changed · `gitlab-rake db:migrate:status`"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("the scheduled post lacks %q:\n%s", want, post)
		}
	}

	if _, err := io.WriteString(typed, "alice: /gitlab-migrations schedules add \"@daily\" services --when problems\n"); err != nil {
		t.Fatal(err)
	}
	waitOutput(t, out, "SCHEDULE S1 ADDED")
	typed.Close()
	if err := <-done; err != nil {
		t.Fatalf("console: %v\n%s", err, out.String())
	}

	// The next process, on the same store, without --schedule.
	again := &syncBuffer{}
	if err := <-console(scheduletest.NewClock(t0.Add(time.Hour)), strings.NewReader("bob: /gitlab-migrations schedules\n"), again); err != nil {
		t.Fatalf("console after the restart: %v\n%s", err, again.String())
	}
	list := again.String()
	if !strings.Contains(list, "*s1*: services on the default host at `@daily` UTC, when problems, into #ops (console)") {
		t.Errorf("the schedule added before the restart is not listed:\n%s", list)
	}
	if strings.Contains(list, "*c1*") {
		t.Errorf("a --schedule of the first run outlived it:\n%s", list)
	}
}

// TestConsoleScheduleREADME: the README's "Scheduled posts" console
// example, run as it stands against the real binary: `schedules run`
// posts the scheduled status into the console's channel at once, and
// `schedules` lists the schedule with its next run.
func TestConsoleScheduleREADME(t *testing.T) {
	b, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	i := strings.Index(string(b), "## Scheduled posts")
	if i < 0 {
		t.Fatal("the README has no Scheduled posts section")
	}
	start := regexp.MustCompile(`go run ./cmd/gitlab-chatops console --simulate((?: --schedule "[^"]+")+)`).FindStringSubmatch(string(b[i:]))
	if start == nil {
		t.Fatal("the Scheduled posts section shows no `console --simulate --schedule` command")
	}
	var flags []string
	for _, m := range regexp.MustCompile(`--schedule "([^"]+)"`).FindAllStringSubmatch(start[1], -1) {
		flags = append(flags, "--schedule", m[1])
	}
	blocks := readmeConsoleBlocks(t)
	script := blocks[len(blocks)-1]
	if !strings.Contains(script, "schedules run c1") {
		t.Fatalf("the README's last console example is not the schedules one:\n%s", script)
	}
	out := runConsoleScript(t, t.TempDir(), "default", script, flags...)
	mustContain(t, out,
		"SCHEDULED STATUS ON GITLAB-SIM (SCHEDULE C1)",
		"Run now by hand (`schedules run c1`).",
		"MIGRATION STATUS ON GITLAB-SIM",
		"*c1*: status on the default host at `@every 1m` UTC, when changed, into #ops (console)",
		"last: main: 6 down (just now, posted)",
	)
	if strings.Contains(out, "Usage:") {
		t.Errorf("a README line was refused:\n%s", out)
	}
}
