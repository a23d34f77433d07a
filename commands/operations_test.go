package commands_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// bbmListOperation is a read-only subcommand the bot does not offer,
// `bbm-list`, over the catalogue's real bbm-list operation (the 18.x
// gitlab:background_migrations:list), described by one row and nothing
// else: its own summary, one line and facts.
var bbmListOperation = commands.ReadOnlyOperation{
	Sub: "bbm-list", Op: gitlab.OpBBMList,
	Usage: "/gitlab-migrations bbm-list [--host NAME|all]", Summary: "the 18.x CLI's list of batched background migrations",
	Flags: []string{"host"},
	Summarize: func(host string, text []byte) (bot.Message, string, error) {
		l, err := gitlab.ParseBBMList(text)
		var lines []string
		for _, m := range l.Migrations {
			lines = append(lines, fmt.Sprintf("• %s %s.%s: %s", m.ID, m.JobClass, m.Table, m.Status))
		}
		line := fmt.Sprintf("%d listed", len(l.Migrations))
		return bot.Message{Title: bot.Plain("Batched background migrations on " + host), Text: bot.Plain(strings.Join(lines, "\n")), Tone: bot.ToneInfo}, line, err
	},
	Facts: func(text []byte) (map[string]string, bool, error) {
		l, err := gitlab.ParseBBMList(text)
		facts := map[string]string{}
		for _, m := range l.Migrations {
			facts[m.ID] = m.Status
		}
		return facts, false, err
	},
}

// TestOperationAddedThroughTheTableOnly: a read-only operation added as
// one row of the operation table (AddReadOnlyOperation: no other code
// knows its name) parses with its own flags, shows in help, runs over a
// real agent and simulator, renders with its own summary, is audited,
// fans out with --host all, and runs as a schedule on every host.
func TestOperationAddedThroughTheTableOnly(t *testing.T) {
	commands.AddReadOnlyOperation(t, bbmListOperation)
	s, rec := setup(t, simtest.Options{Scenario: "bbm-list-only", Default: true,
		More: []simtest.MoreHost{{Name: "gitlab-2", Scenario: "bbm-list-only"}}})

	if _, err := commands.Parse("bbm-list --db main"); err == nil || !strings.Contains(err.Error(), "does not take --db") {
		t.Errorf("bbm-list --db main: %v, want its flags checked", err)
	}
	help := commands.HelpMessage()
	if !strings.Contains(help.Text.String(), bbmListOperation.Usage) {
		t.Errorf("help does not list bbm-list:\n%s", help.Text)
	}

	// One host: root post, the row's summary in the thread, one audit entry.
	if err := command(t, s, rec, alice, "bbm-list"); err != nil {
		t.Fatal(err)
	}
	roots := rec.roots()
	root := rec.message(roots[len(roots)-1])
	if want := "*bbm-list* on *" + simtest.HostName + "*"; !strings.Contains(root.Text.String(), want) || !strings.Contains(root.Context.String(), "gitlab:background_migrations:list") {
		t.Errorf("root post %q / %q, want %q and the command", root.Text, root.Context, want)
	}
	replies := rec.replies(roots[len(roots)-1])
	if len(replies) != 1 || replies[0].Title.String() != "Batched background migrations on "+simtest.HostName || !strings.Contains(replies[0].Text.String(), "CopyColumnUsingBackgroundMigrationJob") {
		t.Fatalf("thread %+v, want the row's summary of the list", replies)
	}
	audited := func() []approvals.AuditEntry {
		entries, err := s.DB.TailAudit(context.Background(), 100)
		if err != nil {
			t.Fatal(err)
		}
		var runs []approvals.AuditEntry
		for _, e := range entries {
			if e.Action == approvals.ActionReadOnlyRun && e.Operation == gitlab.OpBBMList {
				runs = append(runs, e)
			}
		}
		return runs
	}
	runs := audited()
	if len(runs) != 1 || runs[0].Actor != approvals.Qualify(rec.Platform(), alice.ID) || runs[0].Outcome != "succeeded" || !slices.Equal(runs[0].Argv, []string{"gitlab-rake", gitlab.BBMListTask}) || runs[0].OutputDigest == "" {
		t.Fatalf("audit %+v, want alice's one succeeded run of gitlab-rake %s with its digest", runs, gitlab.BBMListTask)
	}

	// --host all: one line per host, each host's details in the thread.
	if err := command(t, s, rec, alice, "bbm-list --host all"); err != nil {
		t.Fatal(err)
	}
	roots = rec.roots()
	all := rec.message(roots[len(roots)-1])
	for _, h := range []string{simtest.HostName, "gitlab-2"} {
		if !strings.Contains(all.Text.String(), h) || !strings.Contains(all.Text.String(), h+"*: 4 listed") {
			t.Errorf("combined answer %q: no line for %s with the row's one line", all.Text, h)
		}
	}
	if got := len(rec.replies(roots[len(roots)-1])); got != 2 {
		t.Errorf("%d replies under --host all, want one per host", got)
	}
	if got := len(audited()); got != 3 {
		t.Errorf("%d audited runs after --host all, want 3", got)
	}

	// A schedule on every host: what may be scheduled is the table's to
	// say, and the run gives the row's facts, prefixed with the host.
	if _, err := schedule.Validate(schedule.Schedule{Spec: "@daily", What: "bbm-list", Platform: "test", Channel: "C1"}, nil, commands.ScheduleWhats()); err != nil {
		t.Errorf("a bbm-list schedule: %v", err)
	}
	res, post, err := s.Router.Run(context.Background(), schedule.Schedule{ID: "list", Spec: "@daily", What: "bbm-list", Host: schedule.AllHosts, Platform: rec.Platform(), Channel: "C1"})
	if err != nil {
		t.Fatal(err)
	}
	if res.Failed || len(res.Facts) != 8 || res.Facts[simtest.HostName+" main_84"] != "active" || res.Facts["gitlab-2 main_84"] != "active" {
		t.Errorf("scheduled result %+v, want the row's facts (4 migrations) of each host", res)
	}
	before := len(rec.roots())
	if err := post(context.Background(), schedule.Post{}); err != nil {
		t.Fatal(err)
	}
	if got := len(rec.roots()) - before; got != 1 {
		t.Errorf("the schedule posted %d roots, want 1", got)
	}
	if got := len(audited()); got != 5 {
		t.Errorf("%d audited runs after the schedule, want 5", got)
	}
}
