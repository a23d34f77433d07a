package sim

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// Every output is read back with the gitlab package's parsers, as the bot
// reads it: the tests prove that what the simulator prints parses to what
// its state says.

func parseStatus(t *testing.T, out string) gitlab.MigrateStatus {
	t.Helper()
	st, err := gitlab.ParseMigrateStatus([]byte(out))
	if err != nil {
		t.Fatalf("ParseMigrateStatus: %v\n%s", err, out)
	}
	return st
}

// checkStatusMatchesState compares parsed db:migrate:status output with
// the state file, row by row.
func checkStatusMatchesState(t *testing.T, h *host, st gitlab.MigrateStatus) {
	t.Helper()
	s := h.load()
	if len(st.Databases) != len(s.Databases) {
		t.Fatalf("%d sections, state has %d databases", len(st.Databases), len(s.Databases))
	}
	files := map[string]*Migration{}
	for _, m := range s.Migrations {
		files[m.Version] = m
	}
	for i, d := range st.Databases {
		sd := s.Databases[i]
		if d.Database != sd.PGName || d.Config != sd.Name {
			t.Fatalf("section %d is %s (%s), state has %s (%s)", i, d.Database, d.Config, sd.PGName, sd.Name)
		}
		for _, r := range d.Migrations {
			if r.Up != sd.applied(r.Version) {
				t.Fatalf("%s %s: parsed up=%v, state applied=%v", d.Config, r.Version, r.Up, sd.applied(r.Version))
			}
			if m, ok := files[r.Version]; ok {
				if r.NoFile || r.Name != humanize(m.Name) {
					t.Fatalf("%s: name %q, want %q", r.Version, r.Name, humanize(m.Name))
				}
			} else if !r.NoFile {
				t.Fatalf("%s has no file but is not a NO FILE row", r.Version)
			}
		}
		if want := len(files) + countNoFile(sd, files); len(d.Migrations) != want {
			t.Fatalf("%s: %d rows, want %d", d.Config, len(d.Migrations), want)
		}
	}
}

func countNoFile(d *Database, files map[string]*Migration) int {
	n := 0
	for _, v := range d.Applied {
		if _, ok := files[v]; !ok {
			n++
		}
	}
	return n
}

func parseBBM(t *testing.T, out string) gitlab.BBMStatus {
	t.Helper()
	st, err := gitlab.ParseBBMStatus([]byte(out))
	if err != nil {
		t.Fatalf("ParseBBMStatus: %v\n%s", err, out)
	}
	return st
}

func checkBBMMatchesState(t *testing.T, h *host, st gitlab.BBMStatus) {
	t.Helper()
	s := h.load()
	if len(st.Databases) != len(s.Databases) {
		t.Fatalf("%d blocks, state has %d databases", len(st.Databases), len(s.Databases))
	}
	for i, d := range st.Databases {
		sd := s.Databases[i]
		if d.Name != sd.Name || len(d.Migrations) != len(sd.BBMs) {
			t.Fatalf("block %s with %d rows, state %s has %d", d.Name, len(d.Migrations), sd.Name, len(sd.BBMs))
		}
		for j, r := range d.Migrations {
			b := sd.BBMs[j]
			if r.Status != b.Status || r.JobClass != b.JobClass || r.Table != b.Table || r.Column != b.Column || !jsonEqual(r.JobArguments, b.JobArguments) {
				t.Fatalf("row %+v does not match state %+v", r, *b)
			}
		}
	}
}

// finalizeArgv builds the finalize argv element exactly as the bot does,
// through the gitlab catalogue.
func finalizeArgv(t *testing.T, db string, bm gitlab.BatchedMigration) string {
	t.Helper()
	op, err := gitlab.Lookup(gitlab.OpFinalize)
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := op.Command(gitlab.Args{Database: db, BatchedMigration: bm})
	if err != nil {
		t.Fatal(err)
	}
	if cmd.Program != gitlab.Rake || len(cmd.Args) != 1 {
		t.Fatalf("unexpected command %v", cmd)
	}
	return cmd.Args[0]
}

func TestLifecycleDefault(t *testing.T) {
	h := newHost(t, "default")
	out, _ := h.mustRake(0, "db:migrate:status")
	st := parseStatus(t, out)
	checkStatusMatchesState(t, h, st)
	if st.Down() != 6 {
		t.Fatalf("%d down, want 6", st.Down())
	}
	bbm := parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status")))
	if !bbm.AllDone() {
		t.Fatalf("default scenario has unfinished batched migrations: %+v", bbm.Pending())
	}

	out, _ = h.mustRake(0, "db:migrate")
	res := gitlab.ParseMigrate([]byte(out))
	if !res.OK() || len(res.Migrated) != 6 {
		t.Fatalf("migrate: %+v", res)
	}
	for i, m := range res.Migrated {
		if m.Database != "main" || m.Version != st.Databases[0].DownRows()[i].Version {
			t.Fatalf("migrated[%d] = %+v, want %s on main", i, m, st.Databases[0].DownRows()[i].Version)
		}
	}
	st = parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status")))
	checkStatusMatchesState(t, h, st)
	if !st.AllUp() {
		t.Fatalf("after migrate %d still down", st.Down())
	}

	// The queue migration queued a batched background migration; the
	// background worker finishes it (at once at GITLAB_SIM_SPEED=0).
	bbm = parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status")))
	checkBBMMatchesState(t, h, bbm)
	if len(bbm.Databases[0].Migrations) != 5 || !bbm.AllDone() {
		t.Fatalf("after migrate: %+v", bbm)
	}
	// Nothing pending: just the advisory-lock lines.
	out, _ = h.mustRake(0, "db:migrate")
	if res := gitlab.ParseMigrate([]byte(out)); !res.OK() || len(res.Migrated) != 0 || strings.Count(out, "\n") != 2 {
		t.Fatalf("second migrate: %q", out)
	}
}

func mustOut(out, _ string) string { return out }

func TestLifecycleBBMUnfinished(t *testing.T) {
	h := newHost(t, "bbm-unfinished")
	bbm := parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status")))
	if p := bbm.Pending(); len(p) != 1 || p[0].Status != "active" || p[0].Table != "merge_request_metrics" {
		t.Fatalf("pending: %+v", p)
	}

	out, errs := h.mustRake(1, "db:migrate")
	res := gitlab.ParseMigrate([]byte(out + errs))
	f := res.Failure
	if f == nil || f.Kind != gitlab.FailureUnfinishedBBM || f.Database != "main" || f.Version != "20250514124512" || f.Status != "active" || f.Finalize == nil {
		t.Fatalf("failure: %+v", f)
	}
	want := gitlab.BatchedMigration{JobClass: "CopyColumnUsingBackgroundMigrationJob", Table: "merge_request_metrics", Column: "id", JobArguments: `[["id"],["id_convert_to_bigint"]]`}
	if *f.Finalize != want {
		t.Fatalf("suggested finalize %+v, want %+v", *f.Finalize, want)
	}
	// The migration before the failing one was applied, the rest not.
	s := h.load()
	if !s.db("main").applied("20250508093412") || s.db("main").applied("20250514124512") || s.db("main").applied("20250610142207") {
		t.Fatalf("applied after the failure: %v", s.db("main").Applied)
	}
	checkStatusMatchesState(t, h, parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status"))))

	// Shell quotes sent without a shell reach rake and break the JSON parse.
	before := h.stateBytes()
	out, errs = h.mustRake(1, `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,'[["id"]\,["id_convert_to_bigint"]]']`)
	if fr := gitlab.ParseFinalize([]byte(out + errs)); fr.OK() || fr.Failure == nil || fr.Failure.Kind != gitlab.FinalizeJSONParse {
		t.Fatalf("quoted finalize: %+v\n%s", fr, errs)
	}
	if !strings.HasPrefix(errs, "rake aborted!\nJSON::ParserError: ") {
		t.Fatalf("quoted finalize stderr:\n%s", errs)
	}
	// An unescaped comma truncates job_arguments: also a JSON error.
	h.mustRake(1, `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,[["id"],["id_convert_to_bigint"]]]`)

	// A finalize that matches nothing still prints Done. and changes nothing.
	out, _ = h.mustRake(0, finalizeArgv(t, "", gitlab.BatchedMigration{JobClass: want.JobClass, Table: want.Table, Column: "created_at", JobArguments: want.JobArguments}))
	if fr := gitlab.ParseFinalize([]byte(out)); !fr.OK() {
		t.Fatalf("non-matching finalize: %+v", fr)
	}
	if !bytes.Equal(before, h.stateBytes()) {
		t.Fatal("a failed or non-matching finalize changed the state")
	}

	// The finalize GitLab suggested, escaped as the bot sends it.
	arg := finalizeArgv(t, "", *f.Finalize)
	if arg != `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,[["id"]\,["id_convert_to_bigint"]]]` {
		t.Fatalf("catalogue built %q", arg)
	}
	out, _ = h.mustRake(0, arg)
	if fr := gitlab.ParseFinalize([]byte(out)); !fr.OK() {
		t.Fatalf("finalize: %+v", fr)
	}
	bbm = parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status")))
	checkBBMMatchesState(t, h, bbm)
	if !bbm.AllDone() {
		t.Fatalf("after finalize: %+v", bbm.Pending())
	}

	out, _ = h.mustRake(0, "db:migrate")
	res = gitlab.ParseMigrate([]byte(out))
	if !res.OK() || len(res.Migrated) != 6 || res.Migrated[0].Version != "20250514124512" {
		t.Fatalf("migrate after finalize: %+v", res)
	}
	st := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status")))
	checkStatusMatchesState(t, h, st)
	if !st.AllUp() || st.Databases[0].NoFile != 2 {
		t.Fatalf("after migrate: %d down, %d NO FILE", st.Down(), st.Databases[0].NoFile)
	}
}

func TestLifecycleDecomposed(t *testing.T) {
	h := newHost(t, "decomposed")
	st := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status")))
	checkStatusMatchesState(t, h, st)
	if len(st.Databases) != 2 || st.Databases[0].Down != 4 || st.Databases[1].Down != 4 || st.Databases[0].NoFile != 1 {
		t.Fatalf("status: %+v", st)
	}
	ci := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status:ci")))
	if len(ci.Databases) != 1 || ci.Databases[0].Config != "ci" || ci.Databases[0].Database != "gitlabhq_production_ci" {
		t.Fatalf("status:ci: %+v", ci)
	}
	if b := parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status:ci"))); len(b.Databases) != 1 || b.Databases[0].Name != "ci" {
		t.Fatalf("bbm status:ci: %+v", b)
	}
	checkBBMMatchesState(t, h, parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status"))))

	// Plain finalize is refused before anything else, even without arguments.
	for _, arg := range []string{"gitlab:background_migrations:finalize", finalizeArgv(t, "", gitlab.BatchedMigration{JobClass: "BackfillCiRunnerMachinesOrganizationId", Table: "ci_runner_machines", Column: "id", JobArguments: "[]"})} {
		out, _ := h.mustRake(1, arg)
		if fr := gitlab.ParseFinalize([]byte(out)); fr.Failure == nil || fr.Failure.Kind != gitlab.FinalizeSpecifyDatabase {
			t.Fatalf("plain finalize: %+v", fr)
		}
	}
	out, _ := h.mustRake(0, finalizeArgv(t, "ci", gitlab.BatchedMigration{JobClass: "BackfillCiRunnerMachinesOrganizationId", Table: "ci_runner_machines", Column: "id", JobArguments: "[]"}))
	if out != "Done.\n" {
		t.Fatalf("finalize:ci printed %q", out)
	}

	out, _ = h.mustRake(0, "db:migrate")
	res := gitlab.ParseMigrate([]byte(out))
	if !res.OK() || len(res.Migrated) != 8 || len(res.SkippedMigrations()) != 2 {
		t.Fatalf("migrate: %+v", res)
	}
	st = parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status")))
	checkStatusMatchesState(t, h, st)
	if !st.AllUp() {
		t.Fatalf("after migrate %d down", st.Down())
	}
	// With nothing pending on any database Rails runs no Migrator at all.
	if out, _ := h.mustRake(0, "db:migrate"); out != "" {
		t.Fatalf("decomposed migrate with nothing pending printed %q", out)
	}
}

func TestLifecycleDecomposedBBMUnfinished(t *testing.T) {
	h := newHost(t, "decomposed-bbm-unfinished")
	out, errs := h.mustRake(1, "db:migrate")
	f := gitlab.ParseMigrate([]byte(out + errs)).Failure
	if f == nil || f.Kind != gitlab.FailureUnfinishedBBM || f.Database != "ci" || f.Finalize == nil {
		t.Fatalf("failure: %+v", f)
	}
	// main already recorded the (skipped) migration, ci did not.
	s := h.load()
	if !s.db("main").applied(f.Version) || s.db("ci").applied(f.Version) {
		t.Fatalf("after failure: main %v ci %v", s.db("main").applied(f.Version), s.db("ci").applied(f.Version))
	}
	// GitLab's suggestion names plain finalize, which refuses; on main the
	// migration does not exist, so finalize:main says Done. and does nothing.
	h.mustRake(1, finalizeArgv(t, "", *f.Finalize))
	before := h.stateBytes()
	h.mustRake(0, finalizeArgv(t, "main", *f.Finalize))
	if !bytes.Equal(before, h.stateBytes()) {
		t.Fatal("finalize:main changed a ci migration")
	}
	out, _ = h.mustRake(0, finalizeArgv(t, "ci", *f.Finalize))
	if !gitlab.ParseFinalize([]byte(out)).OK() {
		t.Fatalf("finalize:ci: %q", out)
	}
	if b := parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status"))); !b.AllDone() {
		t.Fatalf("after finalize:ci: %+v", b.Pending())
	}
	out, _ = h.mustRake(0, "db:migrate")
	res := gitlab.ParseMigrate([]byte(out))
	if !res.OK() || res.Migrated[0].Database != "ci" || res.Migrated[0].Version != f.Version {
		t.Fatalf("migrate after finalize: %+v", res)
	}
	if st := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status"))); !st.AllUp() {
		t.Fatalf("still down: %d", st.Down())
	}
}

func TestLifecycleServicesDown(t *testing.T) {
	h := newHost(t, "services-down")
	st, err := gitlab.ParseCtlStatus([]byte(h.mustCtl(6, "status")))
	if err != nil {
		t.Fatal(err)
	}
	down := st.Down()
	if len(down) != 2 || down[0].Name != "puma" || !down[0].WantUp || down[1].Name != "sidekiq" || !down[1].NormallyUp || down[1].WantUp {
		t.Fatalf("down: %+v", down)
	}
	h.mustCtl(3, "status", "sidekiq")
	h.mustCtl(0, "status", "redis")

	r, err := gitlab.ParseCtlRestart([]byte(h.mustCtl(0, "restart")))
	if err != nil || len(r.Services) != 15 || len(r.Failed()) != 0 {
		t.Fatalf("restart: %+v %v", r, err)
	}
	pids := map[int]bool{}
	s := h.load()
	for i, l := range r.Services {
		if l.Name != s.Services[i].Name || l.PID != s.Services[i].PID || pids[l.PID] {
			t.Fatalf("restart line %+v vs state %+v", l, s.Services[i])
		}
		pids[l.PID] = true
	}
	st, err = gitlab.ParseCtlStatus([]byte(h.mustCtl(0, "status")))
	if err != nil || len(st.Down()) != 0 || len(st.Services) != 15 {
		t.Fatalf("after restart: %+v %v", st, err)
	}
}

func TestCtlStopStartAndUnknownServices(t *testing.T) {
	h := newHost(t, "default")
	for _, args := range [][]string{{"status", "nosuch"}, {"restart", "nosuch"}, {"stop", "Sidekiq"}, {"start", "sidekiq2"}} {
		if out := h.mustCtl(0, args...); out != "" {
			t.Fatalf("%v printed %q, want nothing", args, out)
		}
	}
	// A disabled service is skipped silently, like an unknown one.
	s := h.load()
	s.service("gitlab-kas").Disabled = true
	if err := (store{h.state}).save(s); err != nil {
		t.Fatal(err)
	}
	if out := h.mustCtl(0, "status", "gitlab-kas"); out != "" {
		t.Fatalf("disabled service printed %q", out)
	}
	if st, _ := gitlab.ParseCtlStatus([]byte(h.mustCtl(0, "status"))); len(st.Services) != 14 {
		t.Fatalf("%d services listed with one disabled", len(st.Services))
	}

	h.mustCtl(0, "stop", "postgresql")
	h.mustCtl(3, "status", "postgresql")
	// Without PostgreSQL every database task fails as rake does.
	out, errs := h.mustRake(1, "db:migrate:status")
	if _, err := gitlab.ParseMigrateStatus([]byte(out + errs)); err == nil {
		t.Fatal("status with the database down parsed as a success")
	}
	if !strings.HasPrefix(errs, "rake aborted!\nActiveRecord::ConnectionNotEstablished: ") {
		t.Fatalf("stderr:\n%s", errs)
	}
	if got := h.mustCtl(0, "start", "postgresql"); !strings.HasPrefix(got, "ok: run: postgresql: (pid ") {
		t.Fatalf("start: %q", got)
	}
	// start on a running service reports it with its uptime, same pid.
	pid := h.load().service("postgresql").PID
	h.env["GITLAB_SIM_NOW"] = "2025-06-15T10:00:42Z"
	if got := h.mustCtl(0, "start", "postgresql"); got != "ok: run: postgresql: (pid "+strconv.Itoa(pid)+") 43s\n" {
		t.Fatalf("start of a running service: %q", got)
	}
	h.mustRake(0, "db:migrate:status")
}

func TestUnknownTasks(t *testing.T) {
	h := newHost(t, "default")
	out, errs := h.mustRake(1, "db:migrate:status:ci")
	want := "rake aborted!\n" +
		"Don't know how to build task 'db:migrate:status:ci' (See the list of available tasks with `rake --tasks`)\n" +
		"Did you mean?  db:migrate:status\n" +
		"/opt/gitlab/embedded/bin/bundle:25:in `load'\n" +
		"/opt/gitlab/embedded/bin/bundle:25:in `<main>'\n" +
		"(See full trace by running task with --trace)\n"
	sameBytes(t, "unknown task", errs, want)
	var se *gitlab.MigrateStatusError
	if _, err := gitlab.ParseMigrateStatus([]byte(out + errs)); !errors.As(err, &se) || se.Kind != gitlab.MigrateStatusNoSuchTask {
		t.Fatalf("parsed as %v", err)
	}
	for _, task := range []string{"db:migrate:main", "gitlab:background_migrations:finalize:ci[A,b,c,[]]", "gitlab:background_migrations:status:main", "nonsense", "db:migrate:status\nx"} {
		_, errs := h.mustRake(1, task)
		name, _ := gitlab.ParseRakeTask(task)
		if !strings.Contains(errs, "Don't know how to build task '"+name+"'") {
			t.Fatalf("%q: %s", task, errs)
		}
	}
	if fr := gitlab.ParseFinalize([]byte(mustErr(h.mustRake(1, "gitlab:background_migrations:finalize:ci[A,b,c,[]]")))); fr.Failure == nil || fr.Failure.Kind != gitlab.FinalizeUnknownTask {
		t.Fatalf("finalize:ci on a single database: %+v", fr)
	}
	// Tasks run in order; an unknown one stops the rest.
	out, _ = h.mustRake(1, "gitlab:background_migrations:status", "nonsense", "db:migrate")
	if !strings.HasPrefix(out, "Database: main\n") || strings.Contains(out, "migrating") {
		t.Fatalf("stdout %q", out)
	}
}

func mustErr(_, errs string) string { return errs }

func TestFinalizeArguments(t *testing.T) {
	h := newHost(t, "bbm-unfinished")
	cases := []struct {
		arg  string
		exit int
		out  string
	}{
		{"gitlab:background_migrations:finalize", 1, "Must specify job_class_name as an argument\n"},
		{"gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob]", 1, "Must specify table_name as an argument\n"},
		{"gitlab:background_migrations:finalize[A,b]", 1, "Must specify column_name as an argument\n"},
		{"gitlab:background_migrations:finalize[]", 1, "Must specify job_class_name as an argument\n"},
		// Rake's TaskArguments drop empty values (checked with rake 13.0.6).
		{"gitlab:background_migrations:finalize[,,,[]]", 1, "Must specify job_class_name as an argument\n"},
		{"gitlab:background_migrations:finalize[A,,c,[]]", 1, "Must specify table_name as an argument\n"},
		{"gitlab:background_migrations:finalize[A,b,c,[1,2]]", 1, ""},
		{"gitlab:background_migrations:finalize[A,b,c,[1\\,2]]", 0, "Done.\n"},
		{"gitlab:background_migrations:finalize[A,b,c,{\"a\":1}]", 0, "Done.\n"},
		{"gitlab:background_migrations:finalize[A,b,c,]", 1, "Must specify job_arguments as an argument\n"},
		{"gitlab:background_migrations:finalize[A,b,c,[],extra,args]", 0, "Done.\n"},
	}
	for _, c := range cases {
		out, _ := h.mustRake(c.exit, c.arg)
		if out != c.out {
			t.Fatalf("%s: stdout %q, want %q", c.arg, out, c.out)
		}
	}
	if b := h.load().db("main").findBBM(bbmMRMetrics); b.Status != "active" {
		t.Fatalf("status changed to %s", b.Status)
	}
	// Spaces around arguments are trimmed by rake; JSON spacing does not
	// matter to the jsonb comparison.
	h.mustRake(0, `gitlab:background_migrations:finalize[ CopyColumnUsingBackgroundMigrationJob , merge_request_metrics , id , [ ["id"]\, ["id_convert_to_bigint"] ] ]`)
	if b := h.load().db("main").findBBM(bbmMRMetrics); b.Status != "finished" {
		t.Fatalf("status %s after a matching finalize with spaces", b.Status)
	}
	// Finalizing a finished migration is a no-op that prints Done.
	if out, _ := h.mustRake(0, `gitlab:background_migrations:finalize[CopyColumnUsingBackgroundMigrationJob,merge_request_metrics,id,[["id"]\,["id_convert_to_bigint"]]]`); out != "Done.\n" {
		t.Fatal(out)
	}
}

// Post-deployment migrations can be held back as in a zero-downtime
// upgrade; they are then not even listed.
func TestSkipPostDeploymentMigrations(t *testing.T) {
	h := newHost(t, "default")
	out, _ := h.mustRake(0, "SKIP_POST_DEPLOYMENT_MIGRATIONS=true", "db:migrate")
	res := gitlab.ParseMigrate([]byte(out))
	if !res.OK() || len(res.Migrated) != 3 {
		t.Fatalf("regular migrations only: %+v", res)
	}
	st := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status")))
	if st.Down() != 3 {
		t.Fatalf("%d post-deployment migrations down, want 3", st.Down())
	}
	h.env["SKIP_POST_DEPLOYMENT_MIGRATIONS"] = "1"
	st = parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status")))
	if st.Down() != 0 || len(st.Databases[0].Migrations) != 51 {
		t.Fatalf("hidden post-deployment migrations: %d down, %d rows", st.Down(), len(st.Databases[0].Migrations))
	}
}

// A queued batched background migration finishes on its own after a while.
func TestQueuedBBMFinishesOverTime(t *testing.T) {
	h := newHost(t, "default")
	h.env["GITLAB_SIM_SPEED"] = "0.001"
	h.mustRake(0, "db:migrate")
	b := parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status")))
	if p := b.Pending(); len(p) != 1 || p[0].JobClass != "BackfillProjectComplianceViolationsNamespaceId" || p[0].Status != "active" {
		t.Fatalf("right after migrate: %+v", p)
	}
	h.env["GITLAB_SIM_NOW"] = "2025-06-15T10:00:01Z"
	if b := parseBBM(t, mustOut(h.mustRake(0, "gitlab:background_migrations:status"))); !b.AllDone() {
		t.Fatalf("later: %+v", b.Pending())
	}
}

// The "gitlab" status layout (GitLab's own migrate_status override) parses
// too, with the same up/down rows.
func TestGitLabStatusLayout(t *testing.T) {
	h := newHost(t, "")
	if _, _, code := h.main("init", "--scenario", "decomposed", "--status-layout", "gitlab"); code != 0 {
		t.Fatal("init failed")
	}
	out, _ := h.mustRake(0, "db:migrate:status")
	if !strings.Contains(out, "\n Status   Migration ID    Type     Milestone    Name\n") {
		t.Fatalf("header missing:\n%s", out)
	}
	st := parseStatus(t, out)
	if len(st.Databases) != 2 || st.Databases[0].Down != 4 || st.Databases[0].NoFile != 0 {
		t.Fatalf("%+v", st.Databases[0])
	}
	for _, r := range st.Databases[0].Migrations {
		if r.Type == gitlab.MigrationTypeUnknown || r.Milestone.String() == "" || strings.Contains(r.Name, " ") {
			t.Fatalf("row %+v", r)
		}
	}
	if _, _, code := h.main("init", "--status-layout", "fancy"); code != 2 {
		t.Fatal("bad layout accepted")
	}
}

func TestStatusDuringMigrateShowsProgress(t *testing.T) {
	h := newHost(t, "default")
	h.env["GITLAB_SIM_SPEED"] = "0.05"
	done := make(chan struct{})
	go func() {
		defer close(done)
		var out, errb bytes.Buffer
		Main([]string{"rake", "db:migrate"}, &out, &errb, func(k string) string { return h.env2(k) })
	}()
	seen := map[int]bool{}
	deadline := time.Now().Add(30 * time.Second)
	for {
		select {
		case <-done:
			if len(seen) < 2 {
				t.Logf("saw down counts %v", seen)
			}
			st := parseStatus(t, mustOut(h.mustRake(0, "db:migrate:status")))
			if !st.AllUp() {
				t.Fatal("not all up after migrate")
			}
			return
		default:
		}
		var out, errb bytes.Buffer
		if Main([]string{"rake", "db:migrate:status"}, &out, &errb, func(k string) string {
			if k == "GITLAB_SIM_SPEED" {
				return "0"
			}
			return h.env2(k)
		}) != 0 {
			t.Fatalf("status during migrate failed: %s", errb.String())
		}
		st, err := gitlab.ParseMigrateStatus(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		seen[st.Down()] = true
		if time.Now().After(deadline) {
			t.Fatal("migrate did not finish")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// env2 reads the host environment without the test helper's banner check
// (for use from other goroutines; the map is not written meanwhile).
func (h *host) env2(k string) string { return h.env[k] }

// The unprefixed scenarios print db:migrate as GitLab did before the
// database prefixes (and plain Rails 6.1): no "main: "/"ci: ", no
// advisory-lock lines, each database in turn. The status before the run is
// what names the databases, as with the real capture in the fixtures.
func TestUnprefixedDecomposedMigrate(t *testing.T) {
	h := newHost(t, "decomposed-unprefixed")
	st, _ := h.mustRake(0, "db:migrate:status")
	before := gitlab.DownBeforeOf(parseStatus(t, st))
	out, errOut, code := h.rake("db:migrate")
	if code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if strings.Contains(out, "main: ") || strings.Contains(out, "ci: ") || strings.Contains(out, "advisory_lock") {
		t.Fatalf("output names a database:\n%s", out)
	}
	res := gitlab.ParseMigrate([]byte(out + errOut)).Attribute(before)
	var got []string
	for _, m := range res.Migrated {
		got = append(got, m.Database+":"+m.Version)
	}
	want := "main:20250610142207 main:20250611093054 main:20250613150102"
	if strings.Join(got, " ") != want {
		t.Errorf("migrated %v, want %s", got, want)
	}
	if f := res.Failure; f == nil || f.Database != "ci" || f.Version != "20250612112233" || f.Kind != gitlab.FailureUnfinishedBBM {
		t.Errorf("failure %+v, want the ci ensure migration", f)
	}

	h = newHost(t, "decomposed-bbm-unfinished-unprefixed")
	st, _ = h.mustRake(0, "db:migrate:status")
	before = gitlab.DownBeforeOf(parseStatus(t, st))
	out, errOut, _ = h.rake("db:migrate")
	res = gitlab.ParseMigrate([]byte(out + errOut)).Attribute(before)
	if f := res.Failure; f == nil || f.Database != "" || f.Version != "20250612112233" {
		t.Errorf("failure %+v: pending on both databases, it must stay unnamed", f)
	}
}
