// Package storage keeps gitlab-chatops's state in one bbolt file: approval
// requests, the hash-chained audit trail, schedules, and a meta bucket with
// the schema version.
//
// A DB implements approvals.RequestStore and approvals.AuditLog. It imports
// nothing else of this module.
//
// Guarantees:
//
//   - One process at a time: bbolt holds an exclusive file lock while a DB
//     is open read-write (a shared one when read-only). A second Open fails
//     after Options.Timeout with an error wrapping ErrLocked, never hangs.
//   - UpdateRequest is one bbolt write transaction: concurrent updates of a
//     request are serialised, and a failed update writes nothing.
//   - The audit trail is append-only and chained: each stored entry carries
//     the SHA-256 of the previous entry's stored bytes, and the hash and seq
//     of the last entry are kept in meta, so VerifyAudit detects a changed,
//     removed, reordered or truncated entry. The chain has no secret: it
//     shows edits, it does not stop someone who can rewrite the whole file
//     and recompute every hash. Export the head (TailAudit, VerifyReport)
//     somewhere else to anchor it.
//   - Append returns after its entry is durably committed. An append with
//     no other in flight commits alone; overlapping appends share
//     transactions (bbolt's Batch), so many concurrent appends cost few
//     fsyncs.
//
// Layout (all keys and values are bytes):
//
//	requests   request ID -> JSON of approvals.Request
//	audit      big-endian uint64 seq -> JSON of approvals.AuditEntry
//	schedules  name -> opaque value
//	meta       "schema_version" -> big-endian uint64
//	           "audit_head" -> big-endian uint64 seq ++ 32-byte SHA-256 of that entry
package storage
