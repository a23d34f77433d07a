// Package gitlab is everything gitlab-chatops knows about GitLab's own command
// lines: the fixed catalogue of operations the agent may run, the validation of
// their arguments, how those arguments become an argv (never a shell string),
// and parsers that turn what gitlab-rake and gitlab-ctl print into typed
// results.
//
// The package imports nothing else of this module. Its facts come from
// shared/docs/gitlab-facts.md; its tests read the byte-exact samples in
// shared/fixtures/gitlab.
package gitlab
