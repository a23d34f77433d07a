package commands

import (
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// outputOf is out as the agent streams it: one line each, on stream.
func outputOf(stream, text string) *output {
	o := &output{}
	for i, l := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		o.add(&agent.Line{Seq: int64(i + 1), Stream: stream, Text: l})
	}
	return o
}

// TestUnusableAnswersReadAsSentences: when GitLab's answer cannot be
// read, the message says what that means and what to do, as a sentence;
// GitLab's own last lines are the code block (golden), never the parser's
// codes (rake-aborted, no-database-section) or "did not give a usable
// answer: …".
func TestUnusableAnswersReadAsSentences(t *testing.T) {
	exit1, exit0 := 1, 0
	failed := agent.JobRecord{State: agent.StateFailed, ExitCode: &exit1}
	failed.Argv = []string{"gitlab-rake", "db:migrate:status"}
	ok := agent.JobRecord{State: agent.StateSucceeded, ExitCode: &exit0}
	ok.Argv = []string{"gitlab-ctl", "status"}
	for _, tc := range []struct {
		name   string
		rec    agent.JobRecord
		stream string
		out    string
		ctl    bool
		want   string // in the text-only sentence too
	}{
		{"status-database-unreachable", failed, agent.StreamStderr,
			"rake aborted!\nPG::ConnectionBad: could not connect to server: No such file or directory\n\tIs the server running locally and accepting\n/opt/gitlab/embedded/bin/bundle:25:in `load'\n",
			false, "GitLab said: `PG::ConnectionBad: could not connect to server: No such file or directory`"},
		{"status-never-migrated", failed, agent.StreamStderr, "Schema migrations table does not exist yet.\n", false, "has never been migrated"},
		{"status-unrecognised", failed, agent.StreamStdout, "Welcome to the maintenance shell\n", false, "failed (exit 1), so I cannot tell which migrations are up"},
		{"services-unrecognised", ok, agent.StreamStdout, "run: puma (pid 1) 3s; run: log: (pid 2) 3s\nwhat is this line\n", true, "printed an answer I could not read, so I cannot tell which services run"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := outputOf(tc.stream, tc.out)
			var err error
			if tc.ctl {
				_, err = parseCtlRun(tc.rec, out)
			} else {
				_, err = parseStatusRun(tc.rec, out)
			}
			if err == nil {
				t.Fatal("parsed without error")
			}
			m := problemMessage("Could not check the status after migrate", "gitlab-1", err, "Check with /gitlab-migrations status.")
			checkMessage(t, "problem-"+tc.name, m)
			text := problem("gitlab-1", err)
			if !strings.Contains(text, tc.want) {
				t.Errorf("problem() = %q, want %q in it", text, tc.want)
			}
			for _, s := range []string{"usable answer", "rake-aborted", "never-migrated", "no-database-section", "line 1", "want run:"} {
				if strings.Contains(m.Text.String()+text, s) {
					t.Errorf("the parser's own words %q reach the channel: %q / %q", s, m.Text, text)
				}
			}
			if !strings.HasSuffix(m.Text.String(), ".") || !strings.HasSuffix(text, ".") {
				t.Errorf("not sentences: %q / %q", m.Text, text)
			}
		})
	}
}
