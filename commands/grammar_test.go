package commands

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	cases := []struct {
		in   string
		want Invocation
	}{
		{"", Invocation{Sub: "help"}},
		{"status", Invocation{Sub: "status"}},
		{"STATUS --db ci", Invocation{Sub: "status", DB: "ci"}},
		{"status --host=gitlab-2 --db main", Invocation{Sub: "status", Host: "gitlab-2", DB: "main"}},
		{"migrate -- upgrade to 17.5", Invocation{Sub: "migrate", Reason: "upgrade to 17.5"}},
		{"migrate --host gitlab-1 --   spaced   reason ", Invocation{Sub: "migrate", Host: "gitlab-1", Reason: "spaced reason"}},
		{`finalize CopyColumnUsingBackgroundMigrationJob events id '[["id"],["id_convert_to_bigint"]]' --db ci -- why`,
			Invocation{Sub: "finalize", DB: "ci", Args: []string{"CopyColumnUsingBackgroundMigrationJob", "events", "id", `[["id"],["id_convert_to_bigint"]]`}, Reason: "why"}},
		// Slack turns quotes into typographic ones.
		{"finalize Job t c \u2018[\u201cid\u201d]\u2019", Invocation{Sub: "finalize", Args: []string{"Job", "t", "c", `["id"]`}}},
		{`finalize Job t c "[\"a b\"]"`, Invocation{Sub: "finalize", Args: []string{"Job", "t", "c", `["a b"]`}}},
		{"finalize --from r7k2qxa9 -- as GitLab asked", Invocation{Sub: "finalize", From: "r7k2qxa9", Reason: "as GitLab asked"}},
		{"finalize --from r7k2qxa9 --db ci", Invocation{Sub: "finalize", From: "r7k2qxa9", DB: "ci"}},
		{"restart sidekiq", Invocation{Sub: "restart", Args: []string{"sidekiq"}}},
		{"approve r7k2qxa9", Invocation{Sub: "approve", Args: []string{"r7k2qxa9"}}},
		{"deny r7k2qxa9 not during business hours", Invocation{Sub: "deny", Args: []string{"r7k2qxa9"}, Reason: "not during business hours"}},
		{"audit 5", Invocation{Sub: "audit", Args: []string{"5"}}},
		{"help finalize", Invocation{Sub: "help", Args: []string{"finalize"}}},
		{"restart '--'", Invocation{Sub: "restart", Args: []string{"--"}}},
		// Autocorrection turns -- into a dash, before a flag too.
		{"status \u2014db ci", Invocation{Sub: "status", DB: "ci"}},
		{"bbm \u2013host=gitlab-2 \u2014db ci", Invocation{Sub: "bbm", Host: "gitlab-2", DB: "ci"}},
		{"migrate \u2014host gitlab-2 \u2014 upgrade", Invocation{Sub: "migrate", Host: "gitlab-2", Reason: "upgrade"}},
		{"schedules", Invocation{Sub: "schedules"}},
		{`schedules add "0 8 * * 1-5" status --when changed --tz Europe/Berlin --host all`,
			Invocation{Sub: "schedules", Args: []string{"add", "0 8 * * 1-5", "status"}, When: "changed", TZ: "Europe/Berlin", Host: "all"}},
		{"schedules ADD @hourly bbm", Invocation{Sub: "schedules", Args: []string{"ADD", "@hourly", "bbm"}}},
		{"schedules run s3", Invocation{Sub: "schedules", Args: []string{"run", "s3"}}},
		{"schedules remove daily-status", Invocation{Sub: "schedules", Args: []string{"remove", "daily-status"}}},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%q): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%q) =\n %+v\nwant\n %+v", c.in, got, c.want)
		}
	}
}

func TestParseRefusals(t *testing.T) {
	cases := []struct{ in, says, usage string }{
		{"stauts", `unknown subcommand "stauts"`, "help"},
		{"schedules add 0 8 * * 1-5 status", "the cron spec as one argument in quotes", "schedules"},
		{"schedules add @hourly", "schedules add needs a cron spec in quotes and what to run", "schedules"},
		{"schedules run", "schedules run needs the schedule's id", "schedules"},
		{"schedules remove s1 --when changed", "schedules remove takes only the schedule's id", "schedules"},
		{"schedules --host gitlab-1", "--host, --when and --tz go with schedules add", "schedules"},
		{"schedules edit s1", `schedules takes add, remove or run (or nothing, to list them), not "edit"`, "schedules"},
		{"schedules run s1 -- now", "schedules takes no reason after --", "schedules"},
		{"schedules add @hourly status --db ci", "schedules does not take --db", "schedules"},
		{"'status'", "unknown subcommand", "help"},
		{"status --db", "--db needs a value", "status"},
		{"status --host all --host gitlab-1", "--host is given twice (all, then gitlab-1): give it once", "status"},
		{"migrate --host=gitlab-1 --host gitlab-2 -- x", "--host is given twice (gitlab-1, then gitlab-2)", "migrate"},
		{"status --db main --db ci", "--db is given twice", "status"},
		{"sudo gitlab-rake db:migrate --host gitlab-1 --host gitlab-2", "--host is given twice (gitlab-1, then gitlab-2)", ""},
		{"status --service puma", "status does not take --service", "status"},
		{"services --db ci", "services does not take --db", "services"},
		{"migrate now", "migrate takes no arguments", "migrate"},
		{"finalize Job t c", "finalize needs 4 arguments", "finalize"},
		{"finalize Job t c [\"id\"] extra", "is not valid JSON", "finalize"},
		{`finalize Job t c '["id"]`, "the ' at character 9 is never closed", "finalize"},
		{"finalize --from r1 Job", "finalize --from takes no other arguments", "finalize"},
		{"approve", "approve needs 1 argument", "approve"},
		{"approve a b", "approve takes at most 1", "approve"},
		{"restart puma sidekiq", "restart takes at most 1", "restart"},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%q): want a UsageError, got %v", c.in, err)
			continue
		}
		if !strings.Contains(ue.Msg, c.says) {
			t.Errorf("Parse(%q): message %q does not say %q", c.in, ue.Msg, c.says)
		}
		if !strings.Contains(ue.Usage, c.usage) {
			t.Errorf("Parse(%q): usage %q is not the usage of %s", c.in, ue.Usage, c.usage)
		}
	}
}

func TestAuditPage(t *testing.T) {
	type page struct {
		n      int
		before uint64
	}
	for in, want := range map[string]page{
		"audit": {10, 0}, "audit 1": {1, 0}, "audit 100": {100, 0}, "audit 250": {250, 0}, "audit 10000": {10000, 0},
		"audit --before 4123": {10, 4123}, "audit 250 --before 4123": {250, 4123}, "audit --before=2 5": {5, 2},
	} {
		inv, err := Parse(in)
		if err != nil {
			t.Fatalf("%q: %v", in, err)
		}
		if n, before, err := auditPage(inv); err != nil || (page{n, before}) != want {
			t.Errorf("%q: %d before %d, %v; want %+v", in, n, before, err, want)
		}
	}
	for _, in := range []string{"audit 0", "audit 10001", "audit x", "audit --before 1", "audit --before x", "audit 5 --before -3"} {
		inv, err := Parse(in)
		if err != nil {
			continue // refused by the grammar already
		}
		if _, _, err := auditPage(inv); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
	if _, err := Parse("status --before 3"); err == nil {
		t.Error("status took --before")
	}
}

func TestThousands(t *testing.T) {
	for n, want := range map[int]string{0: "0", 999: "999", 1000: "1,000", 1523: "1,523", 1234567: "1,234,567", -1523: "-1,523"} {
		if got := thousands(n); got != want {
			t.Errorf("thousands(%d) = %q, want %q", n, got, want)
		}
	}
}

// runbookLine is the fourth finalize line of the shared runbook, as an
// administrator copies it.
const runbookLine = `sudo gitlab-rake gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,push_event_payloads,event_id,'[["event_id"]\, ["event_id_convert_to_bigint"]]']`

// TestParsePastedFinalize: GitLab's command pasted in every form gives the
// same invocation (the gitlab package's tests cover all six runbook lines).
func TestParsePastedFinalize(t *testing.T) {
	want := []string{"CopyColumnUsingBackgroundMigrationJob", "push_event_payloads", "event_id", `[["event_id"], ["event_id_convert_to_bigint"]]`}
	task := strings.TrimPrefix(runbookLine, "sudo gitlab-rake ")
	cases := []struct {
		in, db, reason string
	}{
		{"finalize " + runbookLine, "", ""},
		{runbookLine, "", ""},
		{"`" + runbookLine + "` -- can't wait: upgrade to 17.5", "", "can't wait: upgrade to 17.5"},
		{"finalize " + strings.TrimPrefix(runbookLine, "sudo "), "", ""},
		{"finalize $ " + runbookLine, "", ""}, // the prompt copied from GitLab's docs
		{"$ " + runbookLine + " -- runbook", "", "runbook"},
		{runbookLine + " RAILS_ENV=production", "", ""}, // an environment setting omnibus makes anyway
		{"finalize " + task + " -- runbook step 4", "", "runbook step 4"},
		{"finalize --host gitlab-1 " + task, "", ""},
		{strings.Replace(task, "finalize[", "finalize:ci[", 1) + " --db ci", "ci", ""},
		{"finalize " + strings.Replace(task, "finalize[", "finalize:main[", 1), "main", ""},
		{"finalize --db ci CopyColumnUsingBackgroundMigrationJob push_event_payloads event_id '[[\"event_id\"]\\, [\"event_id_convert_to_bigint\"]]'", "ci", ""},
		{"finalize CopyColumnUsingBackgroundMigrationJob push_event_payloads event_id [[\"event_id\"]\\, [\"event_id_convert_to_bigint\"]] --db ci -- why", "ci", "why"},
		{"finalize CopyColumnUsingBackgroundMigrationJob push_event_payloads event_id \u2018[[\u201cevent_id\u201d]\\, [\u201cevent_id_convert_to_bigint\u201d]]\u2019 \u2014 autocorrected", "", "autocorrected"},
	}
	for _, c := range cases {
		inv, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%s): %v", c.in, err)
			continue
		}
		if inv.Sub != "finalize" || !reflect.DeepEqual(inv.Args, want) || inv.DB != c.db || inv.Reason != c.reason {
			t.Errorf("Parse(%s) = %+v, want finalize %q db %q reason %q", c.in, inv, want, c.db, c.reason)
		}
	}
}

// TestParsePastedFinalizeRefusals: near-misses are refused with the line to
// paste instead.
func TestParsePastedFinalizeRefusals(t *testing.T) {
	fixed := "`/gitlab-migrations finalize gitlab:background_migrations:finalize[Job,t,c,'[[\"id\"]\\, [\"x\"]]']`"
	cases := []struct{ in, says, fix string }{
		{`finalize gitlab:background_migrations:finalize[Job,t,c,'[["id"]\, ["x"]]' ]`, "a shell splits this", fixed},
		{`finalize gitlab:background_migrations:finalize[Job,t,c,[["id"]\, ["x"]]]`, "a shell splits this", fixed},
		{`sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[["id"]\, ["x"]]]`, "never closed", fixed},
		{`finalize gitlab:background_migrations:finalize[Job,t,c,'[1, 2]']`, "comma without a backslash", "`/gitlab-migrations finalize gitlab:background_migrations:finalize[Job,t,c,'[1\\,2]']`"},
		{`finalize gitlab:background_migrations:finalize:ci[Job,t,c,'["a\"b"]']`, "backslashes", "`/gitlab-migrations finalize Job t c '[\"a\\\"b\"]' --db ci`"},
		{`finalize gitlab:background_migrations:finalize:ci[Job,t,c,[]] --db main`, "the task says :ci but --db says main", ""},
		{`finalize Job --db ci t c []`, "not among them", ""},
		{`finalize`, "paste GitLab's command", ""},
		{`sudo gitlab-rake gitlab:background_migrations:finalise[Job,t,c,'[["id"]\, ["x"]]']`, "spelt finalize, with a z", fixed},
		{`sudo -u git -H gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[["id"]\, ["x"]]']`, "sudo's options (-u git -H) are not needed", fixed},
		{`$ sudo -u git gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[["id"]\, ["x"]]']`, "sudo's options (-u git) are not needed", fixed},
		{`sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[["id"]\, ["x"]]'] extra`, `try to run "extra" as a task of its own`, fixed},
		{`sudo gitlab-rake gitlab:background_migrations:finalize[Job,t,c,'[["id"]\, ["x"]]'] VERBOSE=true`, `rake reads "VERBOSE=true" as an environment setting`, fixed},
		{`finalize Job t c 'gg'`, `job_arguments "gg" is not valid JSON near column 1: expected a value`, ""},
		{`finalize Job t c '[["id"], x]'`, `is not valid JSON near column 10: expected a value ([, a "quoted string", a number, true, false or null), found 'x'`, ""},
		{`finalize Job t c '[["id"]'`, `is not valid JSON: it ends too early`, ""},
	}
	for _, c := range cases {
		_, err := Parse(c.in)
		var ue *UsageError
		if !errors.As(err, &ue) {
			t.Errorf("Parse(%s): want a UsageError, got %v", c.in, err)
			continue
		}
		if !strings.Contains(ue.Msg, c.says) {
			t.Errorf("Parse(%s): %q does not say %q", c.in, ue.Msg, c.says)
		}
		if strings.Contains(ue.Msg, "invalid character") || strings.Contains(ue.Msg, "looking for") {
			t.Errorf("Parse(%s): Go's JSON error reaches the user: %q", c.in, ue.Msg)
		}
		if c.fix != "" && !strings.Contains(ue.Msg, "Paste this instead:\n"+c.fix) {
			t.Errorf("Parse(%s): %q does not show the fix %s", c.in, ue.Msg, c.fix)
		}
	}
}

// TestParsePastedGitLabCommands: the runbook's other commands paste as
// they stand too, as the subcommand that runs them.
func TestParsePastedGitLabCommands(t *testing.T) {
	cases := []struct {
		in   string
		want Invocation
	}{
		{"sudo gitlab-rake db:migrate:status", Invocation{Sub: "status"}},
		{"gitlab-rake db:migrate:status:ci", Invocation{Sub: "status", DB: "ci"}},
		{"sudo gitlab-rake db:migrate -- runbook", Invocation{Sub: "migrate", Reason: "runbook"}},
		{"`sudo gitlab-rake gitlab:background_migrations:status`", Invocation{Sub: "bbm"}},
		{"sudo gitlab-ctl restart -- after the upgrade", Invocation{Sub: "restart", Reason: "after the upgrade"}},
		{"sudo /opt/gitlab/bin/gitlab-ctl restart sidekiq", Invocation{Sub: "restart", Args: []string{"sidekiq"}}},
		{"sudo gitlab-ctl status", Invocation{Sub: "services"}},
		{"sudo gitlab-rake db:migrate:status:ci --host gitlab-2", Invocation{Sub: "status", DB: "ci", Host: "gitlab-2"}},
		{"gitlab-ctl restart puma --host=gitlab-2 -- oom", Invocation{Sub: "restart", Args: []string{"puma"}, Host: "gitlab-2", Reason: "oom"}},
		{"$ sudo gitlab-rake db:migrate:status", Invocation{Sub: "status"}},
		{"gitlab-rake db:migrate RAILS_ENV=production", Invocation{Sub: "migrate"}},
		{"sudo gitlab-rake db:migrate RAILS_ENV=production -- runbook", Invocation{Sub: "migrate", Reason: "runbook"}},
	}
	for _, c := range cases {
		got, err := Parse(c.in)
		if err != nil {
			t.Errorf("Parse(%s): %v", c.in, err)
			continue
		}
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("Parse(%s) = %+v, want %+v", c.in, got, c.want)
		}
	}
	for in, says := range map[string]string{
		"sudo gitlab-ctl status puma":          "services takes no arguments",
		"sudo gitlab-rake db:rollback":         "db:migrate:status, db:migrate, gitlab:background_migrations:status and gitlab-ctl status / restart can be pasted",
		"sudo gitlab-ctl stop":                 "gitlab-ctl stop is not offered here: of gitlab-ctl, only status (or /gitlab-migrations services) and restart [SERVICE]",
		"$ gitlab-ctl reconfigure":             "gitlab-ctl reconfigure is not offered here",
		"sudo gitlab-rake db:migrate:status:X": "db:migrate:status, db:migrate",
	} {
		if _, err := Parse(in); err == nil || !strings.Contains(err.Error(), says) {
			t.Errorf("Parse(%s): %v, want %q", in, err, says)
		} else if strings.Contains(in, "gitlab-ctl") && strings.Contains(err.Error(), "finalize") {
			t.Errorf("Parse(%s) speaks of finalize: %v", in, err)
		}
	}
}
