package sim

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// scenario describes one starting state.
type scenario struct {
	name  string
	about string
	build func(now time.Time) *State
}

// scenarios, in the order `gitlab-sim scenarios` lists them.
var scenarios = []scenario{
	{"default", "one database (gitlabhq_production), 6 pending migrations (one backported mid-list), all services up, all batched background migrations finished", buildDefault},
	{"up-to-date", "one database, every migration up, nothing pending, all services up", buildUpToDate},
	{"bbm-unfinished", "one database, 7 pending migrations; a post-deployment migration needs the active CopyColumnUsingBackgroundMigrationJob on merge_request_metrics, so db:migrate fails until it is finalized", buildBBMUnfinished},
	{"decomposed", "main + ci databases (gitlabhq_production, gitlabhq_production_ci), 4 migrations pending on both; plain finalize asks for the database", buildDecomposed},
	{"decomposed-bbm-unfinished", "main + ci; a ci post-deployment migration needs an active CopyColumnUsingBackgroundMigrationJob on ci_build_needs, so db:migrate fails on ci until finalize:ci[...] runs", buildDecomposedBBMUnfinished},
	{"bigint-runbook", "one database, every migration up; the six bigint conversions of the shared runbook (CopyColumnUsingBackgroundMigrationJob on ci_stages, ci_builds_metadata twice, push_event_payloads, deployments, taggings) are active and make no progress until finalized", buildBigintRunbook},
	{"decomposed-unprefixed", "main + ci as GitLab printed them before the main:/ci: prefixes (Rails 6.1 order, no database named in db:migrate output); 3 migrations pending on main only, 2 on ci only, and the last ci one needs the active CopyColumnUsingBackgroundMigrationJob on ci_build_needs", buildDecomposedUnprefixed},
	{"decomposed-bbm-unfinished-unprefixed", "decomposed-bbm-unfinished as GitLab printed it before the main:/ci: prefixes: every pending version is pending on both databases, so db:migrate output alone cannot say which database failed", buildDecomposedBBMUnfinishedUnprefixed},
	{"services-down", "database up to date; sidekiq stopped (down, normally up) and puma crash-looping (down, want up): gitlab-ctl status exits 6", buildServicesDown},
	{"runsvdir-down", "database up to date but the runit supervisor is stopped: every service reports `fail: <svc>: runsv not running`", buildRunsvdirDown},
	{"bbm-list-only", "one database, every migration up, merge_request_metrics' CopyColumnUsingBackgroundMigrationJob active; batched background migrations are listed only by the 18.x CLI's gitlab:background_migrations:list (no :status task), whose table has no column or job arguments", buildBBMListOnly},
	{"no-bbm-tasks", "GitLab before 14.5: one database, every migration up, all services up, and neither gitlab:background_migrations:status nor :list exists", buildNoBBMTasks},
}

// ScenarioNames lists the scenarios, in the registry's order, for help
// texts that must not fall behind it.
func ScenarioNames() []string {
	names := make([]string, len(scenarios))
	for i, sc := range scenarios {
		names[i] = sc.name
	}
	return names
}

func scenarioNames() string { return strings.Join(ScenarioNames(), ", ") }

func findScenario(name string) (scenario, error) {
	for _, sc := range scenarios {
		if sc.name == name {
			return sc, nil
		}
	}
	return scenario{}, fmt.Errorf("unknown scenario %q: choose one of %s", name, scenarioNames())
}

// ---------------------------------------------------------------------------
// Migration files. The names and versions are those of the fixtures in
// shared/fixtures/gitlab, so that scenario outputs can be compared with
// them byte for byte.

// singleDBBase: the 48 migrations of migrate-status-single-db-all-up.txt.
const singleDBBase = `
20250422043041 add_multi_column_not_null_constraint_to_ci_runners
20250423005300 swap_namespace_statistics_metadata_convert_to_bigint
20250423123212 add_merge_request_diffs_settings_trigger
20250423172633 validate_milestones_status_not_null_constraint
20250425175136 add_not_null_constraint_to_resource_label_events_organization
20250425185115 validate_users_scope_foreign_key
20250426164836 add_index_on_abuse_reports_partition
20250426231526 validate_topics_deleted_at_not_null_constraint
20250428064615 add_foreign_key_to_merge_request_metrics_expires_at
20250501201833 change_default_of_sharding_key_id_on_epics
20250503022840 add_check_constraint_for_verified_at_on_uploads
20250503234455 swap_p_ci_builds_metadata_token_encrypted_convert_to_bigint
20250504011143 add_not_null_constraint_to_protected_tags_partition
20250504132609 remove_expires_at_from_routes
20250504143822 add_verified_at_to_incident_management_timeline_events
20250504160329 add_text_limit_to_merge_requests_name
20250505111443 add_multi_column_not_null_constraint_to_boards
20250505191203 validate_project_topics_source_type_foreign_key
20250508042717 add_index_on_uploads_archived
20250508091156 add_check_constraint_for_name_on_merge_requests
20250509113341 add_index_on_merge_requests_build
20250509131303 prepare_async_index_on_protected_tags_runner
20250509180355 sync_index_on_deployments_scope
20250510125627 add_foreign_key_to_ai_conversation_messages_archived
20250511090907 add_not_null_constraint_to_notes_status
20250513152554 add_resource_label_events_runner_id_fk
20250513162855 add_not_null_constraint_to_p_ci_builds_name
20250514063938 add_text_limit_to_personal_access_tokens_description
20250514173432 finalize_hk_backfill_alert_management_alerts_group
20250517101802 add_application_settings_status_fk
20250517103812 prepare_async_index_on_projects_iid
20250517214944 remove_namespace_id_from_vulnerability_occurrences
20250518051350 add_foreign_key_to_approval_project_rules_archived
20250519062243 add_verified_at_to_resource_label_events
20250520174751 cleanup_bigint_conversion_for_ci_secure_files
20250523235418 remove_temp_index_on_project_statistics_scope
20250525044955 swap_merge_request_approval_metrics_sharding_key_id_convert_to_bigint
20250526042904 remove_index_terraform_states_on_user
20250529125042 validate_environments_build_id_foreign_key
20250530213629 change_default_of_name_on_projects
20250531054331 cleanup_bigint_conversion_for_sbom_occurrences
20250601133857 add_integrations_scope_index
20250606100806 add_namespace_statistics_pipeline_id_trigger
20250607073607 remove_snippets_visibility_level_fk
20250607124423 add_name_to_security_findings
20250608002848 remove_index_users_on_traversal_ids
20250609001712 add_not_null_constraint_to_vulnerability_reads_status
20250609075332 add_check_constraint_for_state_on_environments
`
const multiDBBase = `
20250504195347 prepare_async_index_on_note_diff_files_group
20250505024405 prepare_async_index_on_resource_label_events_pipeline
20250505190800 validate_lfs_objects_projects_description_foreign_key
20250506183557 add_sharding_key_id_to_security_findings
20250507142254 add_not_null_constraint_to_organizations_state
20250509044428 add_token_encrypted_to_routes
20250509081920 prepare_async_index_on_milestones_expires_at
20250509132530 add_check_constraint_for_runner_id_on_packages_package_files
20250511173353 remove_environments_namespace_id_fk
20250512054301 finalize_backfill_merge_requests_build
20250514135240 finalize_backfill_project_statistics_settings
20250514153258 add_work_item_progresses_settings_index
20250514182125 remove_organization_id_from_packages_package_files
20250516121448 add_index_on_pages_deployments_organization
20250516185525 change_default_of_visibility_level_on_audit_events
20250517155743 create_audit_events_expires_at_table
20250518061953 change_default_of_traversal_ids_on_personal_access_tokens
20250518213138 add_name_to_resource_label_events
20250519085333 remove_temp_index_on_alert_management_alerts_partition
20250523073426 remove_index_topics_on_state
20250524143957 add_text_limit_to_lfs_objects_projects_namespace
20250526180828 add_not_null_constraint_to_merge_requests_verified_at
20250527174518 add_foreign_key_to_security_findings_verified_at
20250530131121 add_foreign_key_to_application_settings_expires_at
20250531220829 finalize_hk_backfill_board_lists_metadata
20250601001434 cleanup_bigint_conversion_for_ci_build_needs
20250601110158 remove_index_organizations_on_deleted_at
20250601130838 add_index_on_p_ci_pipeline_variables_traversal_ids
20250602063003 queue_backfill_keys_name
20250602145346 add_text_limit_to_security_scans_name
20250602175558 add_runner_id_to_bulk_import_trackers
20250604203148 remove_index_namespace_settings_on_sharding_key
20250604214859 validate_web_hooks_verified_at_foreign_key
20250607005332 add_foreign_key_to_zoekt_repositories_source_type
20250608203428 add_multi_column_not_null_constraint_to_projects
20250609024513 validate_ci_pipeline_schedules_iid_not_null_constraint
`

func parseMigrationList(list string) []*Migration {
	var out []*Migration
	for _, line := range strings.Split(strings.TrimSpace(list), "\n") {
		version, name, _ := strings.Cut(line, " ")
		out = append(out, &Migration{Version: version, Name: name, Secs: pseudoSecs(version)})
	}
	return out
}

// pseudoSecs gives a migration that has no recorded statements a plausible,
// stable duration.
func pseudoSecs(version string) float64 {
	h := 0
	for _, c := range version {
		h = h*31 + int(c)
	}
	if h < 0 {
		h = -h
	}
	return float64(50+h%900) / 10000
}

var (
	txOpen = Statement{Call: "transaction_open?(nil)", Secs: 0}

	migAddIndexOrg = Migration{
		Version: "20250508093412", Name: "add_index_on_ci_runner_machines_organization_id", PostDeploy: true,
		Statements: []Statement{
			txOpen,
			{`view_exists?(:postgres_partitions)`, 0.0163},
			{`index_exists?(:ci_runner_machines, :organization_id, {:name=>"index_ci_runner_machines_on_organization_id", :algorithm=>:concurrently})`, 0.0041},
			{`execute("SET statement_timeout TO 0")`, 0.0005},
			{`add_index(:ci_runner_machines, :organization_id, {:name=>"index_ci_runner_machines_on_organization_id", :algorithm=>:concurrently})`, 2.4817},
			{`execute("RESET statement_timeout")`, 0.0004},
		},
		Secs: 2.5236,
	}
	migAddCreationState = Migration{
		Version: "20250610142207", Name: "add_creation_state_to_ci_runners",
		Statements: []Statement{{`add_column(:ci_runners, :creation_state, :smallint, {:default=>0, :null=>false})`, 0.0038}},
		Secs:       0.0157,
	}
	migCreateViolations = Migration{
		Version: "20250611093054", Name: "create_project_compliance_violations",
		Statements: []Statement{{`create_table(:project_compliance_violations)`, 0.0147}},
		Secs:       0.0254,
	}
	migTextLimit = Migration{
		Version: "20250612101733", Name: "add_text_limit_to_project_compliance_violations_title",
		Statements: []Statement{
			txOpen, txOpen,
			{`execute("ALTER TABLE project_compliance_violations\nADD CONSTRAINT check_d5b3a4c6e1\nCHECK ( char_length(title) <= 255 )\nNOT VALID;\n")`, 0.0012},
			{`current_schema(nil)`, 0.0003},
			{`execute("SET statement_timeout TO 0")`, 0.0004},
			{`execute("ALTER TABLE project_compliance_violations VALIDATE CONSTRAINT check_d5b3a4c6e1;")`, 0.0019},
			{`execute("RESET statement_timeout")`, 0.0003},
		},
		Secs: 0.0398,
	}
	migQueueViolations = Migration{
		Version: "20250613150102", Name: "queue_backfill_project_compliance_violations_namespace_id", PostDeploy: true,
		Schema: "gitlab_main", Secs: 0.0719, SkipSecs: 0.0067,
		Queues: &BBMKey{"BackfillProjectComplianceViolationsNamespaceId", "project_compliance_violations", "id", `["namespace_id","projects","namespace_id","project_id"]`},
	}
	migFinalizeRunnerMachines = Migration{
		Version: "20250614083021", Name: "finalize_backfill_ci_runner_machines_organization_id", PostDeploy: true,
		Schema: "gitlab_ci", Statements: []Statement{txOpen, txOpen}, Secs: 0.0312, SkipSecs: 0.0068,
		Ensure: &Ensure{BBMKey: bbmRunnerMachinesOrg, InlineFinalize: true},
	}
	migEnsureMRMetrics = Migration{
		Version: "20250514124512", Name: "ensure_merge_request_metrics_id_bigint_backfill_is_finished_for_self_hosts", PostDeploy: true,
		Schema: "gitlab_main", Statements: []Statement{txOpen, txOpen}, Secs: 0.0283, SkipSecs: 0.0071,
		Ensure: &Ensure{BBMKey: bbmMRMetrics},
	}
	migEnsureBuildNeeds = Migration{
		Version: "20250612112233", Name: "ensure_ci_build_needs_bigint_backfill_is_finished_for_self_hosts", PostDeploy: true,
		Schema: "gitlab_ci", Statements: []Statement{txOpen, txOpen}, Secs: 0.0301, SkipSecs: 0.0064,
		Ensure: &Ensure{BBMKey: bbmBuildNeeds},
	}

	bbmRunnerMachinesOrg = BBMKey{"BackfillCiRunnerMachinesOrganizationId", "ci_runner_machines", "id", `[]`}
	bbmMRMetrics         = BBMKey{"CopyColumnUsingBackgroundMigrationJob", "merge_request_metrics", "id", `[["id"],["id_convert_to_bigint"]]`}
	bbmBuildNeeds        = BBMKey{"CopyColumnUsingBackgroundMigrationJob", "ci_build_needs", "id", `[["id","build_id"],["id_convert_to_bigint","build_id_convert_to_bigint"]]`}
)

func clone(m Migration) *Migration {
	c := m
	c.Statements = append([]Statement(nil), m.Statements...)
	if m.Ensure != nil {
		e := *m.Ensure
		c.Ensure = &e
	}
	if m.Queues != nil {
		q := *m.Queues
		c.Queues = &q
	}
	return &c
}

// ---------------------------------------------------------------------------
// Services: the 15 default single-node services of ctl-status-all-up.txt.

type serviceSeed struct {
	name          string
	pid, up       int
	logPID, logUp int
	startSecs     int
}

var serviceSeeds = []serviceSeed{
	{"alertmanager", 1041, 1209362, 1001, 1209402, 0},
	{"gitaly", 1048, 1209349, 1004, 1209405, 1},
	{"gitlab-exporter", 1058, 1209371, 1007, 1209402, 0},
	{"gitlab-kas", 1062, 1209362, 1010, 1209404, 0},
	{"gitlab-workhorse", 1070, 1209342, 1013, 1209404, 0},
	{"logrotate", 2187764, 2914, 1016, 1209404, 0},
	{"nginx", 1083, 1209339, 1019, 1209404, 0},
	{"node-exporter", 1092, 1209351, 1022, 1209404, 0},
	{"postgres-exporter", 1099, 1209337, 1025, 1209403, 0},
	{"postgresql", 1106, 1209335, 1028, 1209402, 1},
	{"prometheus", 1115, 1209362, 1031, 1209403, 0},
	{"puma", 1122, 1209344, 1034, 1209405, 1},
	{"redis", 1128, 1209360, 1037, 1209404, 0},
	{"redis-exporter", 1136, 1209356, 1040, 1209402, 0},
	{"sidekiq", 1143, 1209365, 1043, 1209404, 0},
}

func defaultServices(now time.Time) []*Service {
	out := make([]*Service, 0, len(serviceSeeds))
	for _, s := range serviceSeeds {
		out = append(out, &Service{
			Name: s.name, Up: true, PID: s.pid, Since: now.Add(-time.Duration(s.up) * time.Second),
			LogPID: s.logPID, LogSince: now.Add(-time.Duration(s.logUp) * time.Second), StartSecs: s.startSecs,
		})
	}
	return out
}

// ---------------------------------------------------------------------------
// Builders.

func newState(name string, now time.Time) *State {
	return &State{Format: stateFormat, Scenario: name, Created: now.UTC(), Services: defaultServices(now.UTC()), NextPID: 2231100}
}

func versions(ms []*Migration) []string {
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.Version
	}
	return out
}

func sortMigrations(ms []*Migration) []*Migration {
	sort.SliceStable(ms, func(i, j int) bool { return versionLess(ms[i].Version, ms[j].Version) })
	return ms
}

func mainBBMs(mrMetricsStatus string) []*BBM {
	return []*BBM{
		{ID: 81, BBMKey: BBMKey{"BackfillWorkItemTransitions", "issues", "id", `[]`}, Status: "finalized"},
		{ID: 82, BBMKey: BBMKey{"BackfillMissingNamespaceDetails", "namespaces", "id", `[]`}, Status: "finalized"},
		{ID: 83, BBMKey: bbmRunnerMachinesOrg, Status: "finished"},
		{ID: 84, BBMKey: bbmMRMetrics, Status: mrMetricsStatus, Stuck: mrMetricsStatus != "finished"},
	}
}

func singleDB(now time.Time, name string, applied []*Migration, pending []*Migration, noFile []string, obj, pid int) *State {
	s := newState(name, now)
	s.Migrations = sortMigrations(append(append([]*Migration{}, applied...), pending...))
	d := &Database{Name: "main", PGName: "gitlabhq_production", Applied: append(versions(applied), noFile...),
		BBMs: mainBBMs("finished"), LockObjectID: obj, LockBackendPID: pid}
	sort.Strings(d.Applied)
	s.Databases = []*Database{d}
	return s
}

func defaultPending() []*Migration {
	return []*Migration{clone(migAddIndexOrg), clone(migAddCreationState), clone(migCreateViolations),
		clone(migTextLimit), clone(migQueueViolations), clone(migFinalizeRunnerMachines)}
}

func buildDefault(now time.Time) *State {
	return singleDB(now, "default", parseMigrationList(singleDBBase), defaultPending(), nil, 130940, 2218418)
}

func buildUpToDate(now time.Time) *State {
	return singleDB(now, "up-to-date", parseMigrationList(singleDBBase), nil, nil, 129800, 2217703)
}

func buildBBMUnfinished(now time.Time) *State {
	pending := append(defaultPending(), clone(migEnsureMRMetrics))
	// A long-lived instance: two old versions whose files were deleted.
	s := singleDB(now, "bbm-unfinished", parseMigrationList(singleDBBase), pending,
		[]string{"20221103071635", "20221105120720"}, 131480, 2220117)
	s.Databases[0].BBMs = mainBBMs("active")
	return s
}

func decomposed(now time.Time, name string, extra ...*Migration) *State {
	s := newState(name, now)
	base := parseMigrationList(multiDBBase)
	pending := []*Migration{clone(migAddCreationState), clone(migCreateViolations), clone(migQueueViolations), clone(migFinalizeRunnerMachines)}
	pending = append(pending, extra...)
	s.Migrations = sortMigrations(append(append([]*Migration{}, base...), pending...))
	mainDB := &Database{Name: "main", PGName: "gitlabhq_production",
		Applied: append(versions(base), "20250507120455"), // a NO FILE row, as in migrate-status-multi-db.txt
		BBMs: []*BBM{
			{ID: 81, BBMKey: BBMKey{"BackfillWorkItemTransitions", "issues", "id", `[]`}, Status: "finalized"},
			{ID: 82, BBMKey: BBMKey{"BackfillMissingNamespaceDetails", "namespaces", "id", `[]`}, Status: "finalized"},
			{ID: 84, BBMKey: bbmMRMetrics, Status: "finished"},
		},
		LockObjectID: 126500, LockBackendPID: 3180412}
	sort.Strings(mainDB.Applied)
	ciDB := &Database{Name: "ci", PGName: "gitlabhq_production_ci", Applied: versions(base),
		BBMs: []*BBM{
			{ID: 12, BBMKey: BBMKey{"BackfillMissingOrganizationIdOnCiRunnerMachines", "ci_runner_machines", "id", `[]`}, Status: "finalized"},
			{ID: 13, BBMKey: bbmRunnerMachinesOrg, Status: "finished"},
		},
		LockObjectID: 126720, LockBackendPID: 3180429}
	s.Databases = []*Database{mainDB, ciDB}
	return s
}

func buildDecomposed(now time.Time) *State { return decomposed(now, "decomposed") }

func buildDecomposedBBMUnfinished(now time.Time) *State {
	s := decomposed(now, "decomposed-bbm-unfinished", clone(migEnsureBuildNeeds))
	ci := s.db("ci")
	ci.BBMs = append(ci.BBMs, &BBM{ID: 14, BBMKey: bbmBuildNeeds, Status: "active", Stuck: true})
	return s
}

// runbookBigintBBMs are the batched migrations behind the six finalize
// commands of shared/seed/000_e1a28c0720da2aa7.txt, with GitLab's compact
// job_arguments.
var runbookBigintBBMs = []BBMKey{
	{"CopyColumnUsingBackgroundMigrationJob", "ci_stages", "id", `[["id"],["id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "ci_builds_metadata", "id", `[["id"],["id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "ci_builds_metadata", "id", `[["build_id"],["build_id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "push_event_payloads", "event_id", `[["event_id"],["event_id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "deployments", "id", `[["deployable_id"],["deployable_id_convert_to_bigint"]]`},
	{"CopyColumnUsingBackgroundMigrationJob", "taggings", "id", `[["id","taggable_id"],["id_convert_to_bigint","taggable_id_convert_to_bigint"]]`},
}

func buildBigintRunbook(now time.Time) *State {
	s := buildUpToDate(now)
	s.Scenario = "bigint-runbook"
	d := s.db("main")
	for i, k := range runbookBigintBBMs {
		d.BBMs = append(d.BBMs, &BBM{ID: 85 + i, BBMKey: k, Status: "active", Stuck: true})
	}
	return s
}

func buildDecomposedBBMUnfinishedUnprefixed(now time.Time) *State {
	s := buildDecomposedBBMUnfinished(now)
	s.Scenario, s.Unprefixed = "decomposed-bbm-unfinished-unprefixed", true
	return s
}

// buildDecomposedUnprefixed: earlier db:migrate:main and db:migrate:ci runs
// left the databases at different points, so that every pending version is
// pending on one database only (as in
// migrate-status-decomposed-before-unprefixed-fail.txt).
func buildDecomposedUnprefixed(now time.Time) *State {
	s := buildDecomposedBBMUnfinished(now)
	s.Scenario, s.Unprefixed = "decomposed-unprefixed", true
	mainOnly := []string{migAddCreationState.Version, migCreateViolations.Version, migQueueViolations.Version}
	ciOnly := []string{migFinalizeRunnerMachines.Version, migEnsureBuildNeeds.Version}
	s.db("main").Applied = append(s.db("main").Applied, ciOnly...)
	s.db("ci").Applied = append(s.db("ci").Applied, mainOnly...)
	for _, d := range s.Databases {
		sort.Strings(d.Applied)
	}
	return s
}

func buildServicesDown(now time.Time) *State {
	s := buildUpToDate(now)
	s.Scenario = "services-down"
	for _, svc := range s.Services {
		switch svc.Name {
		case "sidekiq": // stopped by an administrator
			svc.Up, svc.PID, svc.Since = false, 0, now.UTC().Add(-1432*time.Second)
		case "puma": // crash loop: runit keeps restarting it
			svc.Up, svc.WantUp, svc.PID, svc.Since = false, true, 0, now.UTC().Add(-1*time.Second)
		}
	}
	return s
}

func buildRunsvdirDown(now time.Time) *State {
	s := buildUpToDate(now)
	s.Scenario = "runsvdir-down"
	s.RunsvdirDown = true
	return s
}

func buildBBMListOnly(now time.Time) *State {
	s := buildUpToDate(now)
	s.Scenario, s.BBMTasks = "bbm-list-only", BBMTasksList
	s.Databases[0].BBMs = mainBBMs("active")
	return s
}

func buildNoBBMTasks(now time.Time) *State {
	s := buildUpToDate(now)
	s.Scenario, s.BBMTasks = "no-bbm-tasks", BBMTasksNone
	return s
}
