package commands

import (
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestSettledResultAgreesWithTheVerdict: the thread's result message says
// what the check after the run found, in the card's words (golden), never
// "succeeded" under a PARTLY or NO EFFECT card.
func TestSettledResultAgreesWithTheVerdict(t *testing.T) {
	exit0, exit1 := 0, 1
	ok := agent.JobRecord{State: agent.StateSucceeded, ExitCode: &exit0, DurationMS: 8200}
	failed := agent.JobRecord{State: agent.StateFailed, ExitCode: &exit1, DurationMS: 5400}
	before := gitlab.DownBefore{Databases: []string{"main"}}
	migrated := migrateMessage("gitlab-1", ok, gitlab.ParseMigrate(fixture(t, "migrate-success.txt")).Attribute(before), before, nil)
	nothing := migrateMessage("gitlab-1", ok, gitlab.ParseMigrate(fixture(t, "migrate-nothing-pending.txt")).Attribute(before), before, nil)
	stopped := migrateMessage("gitlab-1", failed, gitlab.ParseMigrate(fixture(t, "migrate-fail-batched-bbm.txt")).Attribute(before), before, nil)
	done := finalizeMessage("gitlab-1", ok, gitlab.ParseFinalize(fixture(t, "finalize-success.txt")), nil)
	restarted, err := gitlab.ParseCtlRestart(fixture(t, "ctl-restart-single.txt"))
	if err != nil {
		t.Fatal(err)
	}
	restart := restartMessage("gitlab-1", ok, restarted)
	for _, m := range []bot.Message{migrated, nothing, stopped, done, restart} {
		if strings.Contains(m.Title.String(), "succeeded") || m.Tone == bot.ToneSuccess {
			t.Errorf("before the check, %q already claims success", m.Title)
		}
	}
	for _, tc := range []struct {
		name  string
		op    string
		m     bot.Message
		v     verdict
		jobOK bool
		title string
	}{
		{"migrate-exit0-succeeded", gitlab.OpMigrate, migrated, verdict{verdictSucceeded, "6 migrated; every migration is up"}, true, "db:migrate on gitlab-1 succeeded"},
		{"migrate-exit0-partly", gitlab.OpMigrate, migrated, verdict{verdictPartly, "6 migrated, but 1 still down"}, true, "db:migrate on gitlab-1: partly done"},
		{"migrate-exit0-no-effect", gitlab.OpMigrate, nothing, verdict{verdictNoEffect, "db:migrate exited 0 but migrated nothing; 2 still down"}, true, "db:migrate on gitlab-1: no effect"},
		{"migrate-exit0-not-verified", gitlab.OpMigrate, migrated, verdict{verdictUnverified, "db:migrate exited 0 (6 migrated), but I could not check the status after it; check with /gitlab-migrations status"}, true, "db:migrate on gitlab-1: not verified"},
		{"migrate-exit1-partly", gitlab.OpMigrate, stopped, verdict{verdictPartly, "1 migrated, then it stopped at 20250514124512 EnsureMergeRequestMetricsIdBigintBackfillIsFinishedForSelfHosts (main): a batched background migration is active and must be finalized first; 1 still down"}, false, "db:migrate on gitlab-1: partly done"},
		{"finalize-no-effect", gitlab.OpFinalize, done, verdict{verdictNoEffect, "finalize printed Done., but it matched no batched background migration, so nothing was finalized"}, true, "finalize on gitlab-1: no effect"},
		{"finalize-succeeded", gitlab.OpFinalize, done, verdict{verdictSucceeded, "CopyColumnUsingBackgroundMigrationJob on ci_stages.id is finalized"}, true, "finalize on gitlab-1 succeeded"},
		{"restart-partly", gitlab.OpRestart, restart, verdict{verdictPartly, "sidekiq restarted and running; also not running: puma (down, crash loop?)"}, true, "restart on gitlab-1: partly done"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := settled(tc.op, "gitlab-1", tc.m, tc.v, tc.jobOK)
			checkMessage(t, "settled-"+tc.name, got)
			if got.Title.String() != tc.title || got.Tone != verdictTone(tc.v) {
				t.Errorf("title %q tone %s, want %q and the card's tone", got.Title, got.Tone, tc.title)
			}
			if tc.v.kind != verdictSucceeded && (strings.Contains(got.Title.String(), "succeeded") || got.Tone == bot.ToneSuccess) {
				t.Errorf("%s result reads as a success: %+v", tc.v.kind, got)
			}
			if tc.op == gitlab.OpFinalize && tc.v.kind == verdictSucceeded && (strings.Contains(got.Text.String(), "even when no migration matched") || !strings.Contains(got.Text.String(), "Verified with gitlab:background_migrations:status: "+tc.v.why)) {
				t.Errorf("a verified finalize does not say what was verified: %q", got.Text)
			}
			if tc.op == gitlab.OpFinalize && strings.Contains(got.Text.String(), finalizeDoneText) {
				t.Errorf("a settled finalize still shows the provisional text: %q", got.Text)
			}
			if tc.jobOK && tc.v.kind != verdictSucceeded && !strings.Contains(got.Text.String(), string(tc.v.kind)) {
				t.Errorf("a clean exit with verdict %s does not say why: %q", tc.v.kind, got.Text)
			}
		})
	}
}

// TestFinalizeFailuresReadAsSentences: a failed finalize says why in our
// words and what to do next; GitLab's own line is the code block (golden).
func TestFinalizeFailuresReadAsSentences(t *testing.T) {
	exit1 := 1
	failed := agent.JobRecord{State: agent.StateFailed, ExitCode: &exit1, DurationMS: 2100}
	for name, out := range map[string][]byte{
		"failed-to-finalize": fixture(t, "finalize-fail.txt"),
		"missing-argument":   fixture(t, "finalize-fail-missing-argument.txt"),
		"specify-database":   fixture(t, "finalize-fail-specify-database.txt"),
		"unknown-task":       []byte("rake aborted!\nDon't know how to build task 'gitlab:background_migrations:finalize:ci' (See the list of available tasks with `rake --tasks`)\n"),
		"json-parse":         []byte("rake aborted!\nJSON::ParserError: unexpected token at '[[\"id\"]'\n/opt/gitlab/embedded/lib/ruby/3.2.0/json/common.rb:216:in `parse'\n"),
	} {
		t.Run(name, func(t *testing.T) {
			res := gitlab.ParseFinalize(out)
			if res.Failure == nil {
				t.Fatal("no failure recognised")
			}
			m := finalizeMessage("gitlab-1", failed, res, nil)
			checkMessage(t, "finalize-failed-"+name, m)
			if strings.Contains(m.Text.String(), "::") || strings.Contains(m.Text.String(), "rake aborted") || !strings.HasSuffix(m.Text.String(), ".") {
				t.Errorf("text is not our sentence: %q", m.Text)
			}
			if why := finalizeFailureReason(res.Failure); strings.Contains(why, "::") || strings.HasSuffix(why, ".") {
				t.Errorf("verdict reason %q is GitLab's text or not a phrase", why)
			}
		})
	}
}

// TestMigrateGenericFailureReadsAsASentence: GitLab's error is the code
// block, the text says what to do, and the card's reason quotes GitLab's
// first line (golden).
func TestMigrateGenericFailureReadsAsASentence(t *testing.T) {
	exit1 := 1
	failed := agent.JobRecord{State: agent.StateFailed, ExitCode: &exit1, DurationMS: 3100}
	before := gitlab.DownBefore{Databases: []string{"main"}}
	res := gitlab.ParseMigrate(fixture(t, "migrate-fail-generic.txt")).Attribute(before)
	if res.Failure == nil || res.Failure.Kind != gitlab.FailureGeneric {
		t.Fatalf("failure = %+v", res.Failure)
	}
	m := migrateMessage("gitlab-1", failed, res, before, nil)
	checkMessage(t, "migrate-failed-generic", m)
	if strings.Contains(m.Text.String(), "PG::") || !strings.Contains(m.Code, "PG::DuplicateColumn") {
		t.Errorf("GitLab's error belongs in the code block only: %+v", m)
	}
	if why := failureReason(res.Failure); !strings.HasPrefix(why, "the migration raised `") || strings.Contains(why, "\n") {
		t.Errorf("card reason = %q", why)
	}
}

// TestAgentErrorNamesTheSubcommand: a failed read-only run is named by the
// subcommand people typed, not the catalogue's operation name.
func TestAgentErrorNamesTheSubcommand(t *testing.T) {
	for op, want := range map[string]string{gitlab.OpMigrateStatus: "Could not run status on gitlab-1", gitlab.OpBBMStatus: "Could not run bbm on gitlab-1", gitlab.OpServices: "Could not run services on gitlab-1"} {
		if got := agentErrorMessage("gitlab-1", op, agent.ErrJobNotFound).Title.String(); got != want {
			t.Errorf("%s: %q, want %q", op, got, want)
		}
	}
}
