// Package sim is gitlab-sim: a SIMULATOR of GitLab's gitlab-rake and
// gitlab-ctl for tests and demos. It touches no real GitLab. A JSON state
// file holds a pretend GitLab host - its databases and their
// schema_migrations, the migration files, the batched background
// migrations and the runit services - and each invocation prints exactly
// what the real command prints for that state (stdout byte for byte; the
// "rake aborted!" block on stderr), with the real exit codes, and updates
// the state as the real command would. Every invocation also prints one
// banner line on stderr saying that it is a simulation.
//
// Formats follow shared/docs/gitlab-facts.md and the fixtures in
// shared/fixtures/gitlab; the scenarios are built from the fixtures'
// migrations, services and advisory-lock ids, so their outputs can be
// compared with the fixtures byte for byte (see golden_test.go). Rake's own
// behaviour (argument parsing via gitlab.ParseRakeTask, error display,
// did_you_mean suggestions) and Oj's JSON error messages were checked
// against rake 13.0.6, Ruby 3.1 and Oj 3.14.2.
//
// Entry points: Main (what cmd/gitlab-sim runs) and Init.
package sim
