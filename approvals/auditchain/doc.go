// Package auditchain is the audit trail's format, independent of where it
// is stored: how an entry is encoded, how entries are chained with a keyed
// hash (HMAC-SHA256), and how a chain is verified.
//
// Every backend (bbolt in package storage, the in-memory store in
// approvalstest, etcd later) seals entries with Seal inside the same
// transaction that writes them, so all backends write byte-identical chains,
// and Verify checks any backend that can list its entries (Reader).
//
// The stored form of entry n is JSON with the chain fields first, at fixed
// places, so verification never decodes a whole entry:
//
//	{"seq":n,"prev_hash":"<hex HMAC of entry n-1's stored bytes>","time":"…",…the rest of approvals.AuditEntry…}
//
// (entry 1 has no prev_hash). The head of a chain is the seq and HMAC of its
// last entry; backends store it beside the entries, and the bot anchors it
// outside the store (the audit channel, the logs) so that a consistent
// rewrite of the whole store is detected too.
//
// The package imports only approvals (for AuditEntry).
package auditchain
