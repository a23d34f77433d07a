// Package agent is the gitlab-chatops agent protocol: the server that runs on
// each GitLab node (Server), the client the bot uses (Client), and the wire
// types they share (protocol.go).
//
// The agent runs only the operations of the gitlab package's catalogue. A
// request names an operation and its arguments; the catalogue validates them
// and builds the argv, which is executed directly (never through a shell),
// optionally behind "sudo -n --". The request also carries the argv the bot
// approved; the agent runs only if the two are equal. A mutating operation
// also needs the bot's ed25519-signed approval statement for exactly this
// run (approval.go), accepted once per request ID (approvalsused.go).
//
// API (HTTP/1.1 + JSON over TLS 1.3 with a required client certificate):
//
//	POST /v1/jobs               RunRequest -> NDJSON stream of Events
//	                            (job, line..., heartbeat..., end)
//	GET  /v1/jobs?request_id=R  JobRecord of request R's mutating job; 404
//	                            (field request_id): none, and R is closed
//	                            so it never starts; 410: its statement was
//	                            used but the record pruned (outcome unknown)
//	GET  /v1/jobs/{id}          JobRecord
//	GET  /v1/jobs/{id}/stream   ?from=SEQ: replay from the log, then live
//	POST /v1/jobs/{id}/cancel   optional CancelRequest -> 202 JobSummary
//	GET  /v1/health             Health
//	GET  /v1/version            VersionInfo
//
// Bodies are decoded strictly (duplicate or unknown keys are refused).
// Refusals are JSON ErrorResponses: 400 (naming the field; argv when it is
// not what the agent builds), 403 (client certificate not in
// allowed_clients, or field approval: no valid statement for this run),
// 404, 409 (a mutating job runs, the body names it; or the request already
// ran / its statement was used / it was declared not started by a lookup),
// 410, 413 (body over 64 KiB), 429
// (max_read_only_jobs reached; with Retry-After), 503 (shutting down).
//
// Invariants:
//   - At most one mutating operation runs at a time; read-only ones run
//     concurrently up to max_read_only_jobs, plus one slot kept for a run
//     whose purpose is "approval-check".
//   - Every job has a record on disk before its program starts, so the bot
//     can always find out what happened, across agent restarts.
//   - Lines are numbered from 1 across stdout and stderr; a stream delivers
//     each line once, in order, and re-attaching from Seq N loses and
//     repeats nothing (see job.go).
//   - Memory does not grow with a job's output: lines are capped at
//     MaxLineBytes, buffers are bounded, the on-disk log at max_log_bytes.
//   - A job outlives its client's connection; it ends only by itself, by
//     timeout, by cancel or by agent shutdown, and then its whole process
//     group is killed.
package agent
