// Package storage keeps gitlab-chatops's state in one bbolt file: approval
// requests, the keyed, hash-chained audit trail, schedules, and a meta
// bucket with the schema version and the audit head.
//
// A DB implements approvals.Store (requests and audit, written together),
// approvals.ReauthStore (approvers' TOTP enrolments, each update written
// with its audit entries),
// auditchain.Reader (for `audit verify`) and schedule.Store (chat-defined
// schedules and results). It imports approvals and schedule (types) and
// approvals/auditchain (the chain format) only.
//
// Guarantees:
//
//   - One process at a time: bbolt holds an exclusive file lock while a DB
//     is open read-write (a shared one when read-only). A second Open fails
//     after Options.Timeout with an error wrapping ErrLocked, never hangs.
//   - Create and Apply are one bbolt write transaction each, holding the
//     request change AND its audit entries: concurrent updates of a request
//     are serialised, a failed update writes nothing, and no change is ever
//     stored without its audit entries or the reverse.
//   - The audit trail is append-only and chained with auditchain: each
//     stored entry carries the HMAC-SHA256 (keyed with Options.AuditKey) of
//     the previous entry's stored bytes, and the seq and hash of the last
//     entry are kept in meta, so auditchain.Verify detects a changed,
//     removed, reordered or truncated entry. Without the key nobody can
//     recompute the chain; the router also anchors the head outside the
//     file (the audit channel, the log).
//   - Append returns after its entries are durably committed. An append
//     with no other in flight commits alone; overlapping appends share
//     transactions (bbolt's Batch), so many concurrent appends cost few
//     fsyncs.
//   - Reading the whole audit trail (ReadAudit, ExportAudit) keeps memory
//     flat: the pages read are released from the process's mapping.
//
// Layout (all keys and values are bytes):
//
//	requests   request ID -> JSON of approvals.Request
//	audit      big-endian uint64 seq -> the entry as auditchain stores it
//	schedules  chat-defined schedule ID (s1, s2, … from the bucket's
//	           sequence, never reused) -> JSON of schedule.Schedule
//	schedule_results
//	           schedule ID (configured or chat-defined) -> JSON of the
//	           last result and the last posted one; added to version 2
//	           files by Open (no schema change: older versions ignore it)
//	reauth     qualified user ID -> JSON of approvals.Enrolment (the TOTP
//	           secret sealed with the reauth key, the last accepted step,
//	           recent wrong codes, a lockout); added like schedule_results
//	meta       "schema_version" -> big-endian uint64 (2: keyed audit chain)
//	           "audit_head" -> big-endian uint64 seq ++ 32-byte HMAC of that entry
package storage
