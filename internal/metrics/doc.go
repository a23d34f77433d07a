// Package metrics holds the Prometheus collectors of the bot and of the
// agent, all named gitlab_chatops_*, each set in a registry of its own
// (never prometheus.DefaultRegisterer: no global state, and a test can run
// several bots in one process).
//
// It is a leaf: it imports only client_golang. The packages it observes
// (commands, approvals, agent, the chat adapters, schedule) do not import
// it; each declares a small observer interface of plain Go types
// (strings, durations, times) that *Bot or *Agent implements, and the
// wiring in cmd/ hands one in. Every hook method is safe on a nil receiver,
// so a nil *Bot is a valid "no metrics".
//
// Label values are bounded sets: subcommands, operations, states, hosts and
// databases from the configuration, chat API method names written in the
// code. No label ever carries user text or an ID.
package metrics
