// Package etcd keeps gitlab-chatops's state in etcd, for several bot
// replicas (bbolt, package storage, stays the one-machine default). It
// uses go.etcd.io/etcd/client/v3 only; nothing here is a home-made
// consensus: every guarantee below is an etcd transaction or lease.
//
// A Cluster is one replica's connection (Dial). On it:
//   - Store implements storage.Backend with the guarantees of the bbolt
//     file, proven by the same conformance suites: a request change and
//     its audit entries commit in one Txn; a request transition is a
//     compare-and-swap on the key's mod revision (Apply retries, as the
//     approvals.Store contract allows); the audit chain is appended under
//     a compare-and-swap on its head, so two replicas never fork it; the
//     stored entries are byte for byte what bbolt stores.
//   - Election implements leader.Leadership with concurrency.Election on
//     the replica's session lease. A replica stops acting as leader when
//     no renewal of its lease succeeded for TTL/2 (renewals.go), so one
//     cut off from etcd has stopped before its lease expires and another
//     is elected.
//   - The shared once-only keys (a Slack envelope seen by any replica:
//     Seen, implementing bot.Seen; the one replica that follows a running
//     job: Owners, implementing commands.Owners; the one run of a schedule
//     in progress: ScheduleClaims) are lease-bound keys created with a
//     CreateRevision == 0 compare.
//   - ScheduleClaims (schedule.Claims) also records each schedule's last
//     fired due time, moved forward only, so a tick fires once across
//     the replicas and across a change of leader.
//
// Key layout under the configured prefix (default /gitlab-chatops/):
//
//	meta/schema_version      the layout version (storage.SchemaVersion), decimal;
//	                         OpenStore records it and refuses a newer one
//	meta/audit_head          auditchain head: seq and hash of the last entry
//	                         (auditchain.Head.Encode, the bytes bbolt keeps)
//	meta/schedule_seq        last chat-defined schedule number (s1, s2, …),
//	                         decimal, moved under a compare: IDs never reused
//	meta/probe               the time of the last readiness probe
//	requests/<id>            JSON of approvals.Request (as bbolt stores it)
//	audit/<seq, 20 digits>   the entry as auditchain stores it, byte for byte
//	reauth/<user id>         JSON of approvals.Enrolment (the approver's TOTP secret
//	                         sealed with the reauth key, last accepted step, recent
//	                         wrong codes, lockout); the qualified ID path-escaped
//	schedules/<id>           JSON of schedule.Schedule
//	schedule_results/<id>    JSON of storage.ScheduleResults
//	election/                concurrency.Election's keys
//	owners/<request id>      the replica following a running job (session lease)
//	schedule_runs/<id>       a run of schedule id in progress (ScheduleClaims;
//	                         session lease, deleted only by its creator)
//	schedule_ticks/<id>      the latest due time of id fired, RFC 3339 UTC, only
//	                         moved forward under a compare on its revision;
//	                         deleted with its chat schedule (RemoveSchedule)
//	seen/<platform>/<hash>   a once-only key seen (bot.Seen: a Slack signature or
//	                         envelope ID), hex SHA-256 of the key; bound to the
//	                         lease of its expiry's time slot (Seen), not the session's
//
// Store's writes and their guards (each one Txn):
//
//	Create      If request CreateRevision == 0 and head ModRevision == read
//	            Then request, entries, head          (lost on the head: reseal)
//	Apply       If request ModRevision == read and head ModRevision == read
//	            Then request, entries, head          (lost: fn runs again)
//	Append      If head ModRevision == read Then entries, head
//	            (concurrent appends of one process grouped into one Txn)
//	UpdateReauth If reauth/<user> ModRevision == read (0: none yet) and head
//	            ModRevision == read Then record, entries, head (lost: fn runs again)
//	AddSchedule If schedule_seq ModRevision == read Then counter, schedule
//
// A Txn holds at most StoreOptions.MaxTxnOps writes (etcd's --max-txn-ops,
// 128 by default) and MaxTxnBytes (a margin under --max-request-bytes,
// 1.5 MiB): grouped appends are split between Txns, and one call's entries
// that cannot fit in one are refused with approvals.ErrInvalid, writing
// nothing. A round trip that fails (not a lost compare) is returned, not
// retried: its outcome is unknown.
package etcd
