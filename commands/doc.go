// Package commands is the router of gitlab-chatops: it parses
// `/gitlab-migrations …`, checks who may ask, runs read-only operations at
// once through the agent, opens approval requests for destructive ones,
// executes approved requests exactly once, and renders every result as
// platform-neutral bot messages.
//
// It knows nothing of Slack or Mattermost (only package bot) and nothing of
// how GitLab command lines look (only package gitlab).
package commands
