package storage

import (
	"context"
	"io"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// Backend is everything the bot keeps, whichever store holds it: the
// bbolt file (DB, the default) or etcd (package storage/etcd, for
// several replicas). serve, the console, the audit commands and `storage
// copy` use a Backend and never name the store behind it.
//
// Every backend keeps the same guarantees (approvals.Store's, schedule.Store's,
// and the audit chain's), proven by the same conformance suites
// (approvalstest.RunStoreSuite, approvalstest.RunReauthStoreSuite,
// scheduletest.RunStoreSuite), and stores
// the audit chain byte for byte alike, so `audit verify` and an export
// read the same on both.
type Backend interface {
	approvals.Store
	// ReauthStore keeps the approvers' TOTP enrolments (policy.reauth),
	// each update written with its audit entries, shared by the replicas.
	approvals.ReauthStore
	schedule.Store
	// ReadAudit (auditchain.Reader) walks the whole chain from one
	// consistent view and returns its head as of that view.
	auditchain.Reader
	// TailAudit is the newest n entries, oldest first.
	TailAudit(ctx context.Context, n int) ([]approvals.AuditEntry, error)
	// AuditBefore is up to n entries numbered below before (the newest
	// when before is 0), oldest first.
	AuditBefore(ctx context.Context, before uint64, n int) ([]approvals.AuditEntry, error)
	// AuditPage calls fn with the stored bytes of those entries.
	AuditPage(ctx context.Context, before uint64, n int, fn func(seq uint64, stored []byte) error) error
	// AuditHead is the last entry's seq and hash (zero when empty).
	AuditHead(ctx context.Context) (auditchain.Head, error)
	// ExportAudit writes every entry with Time at or after since as JSON
	// lines of its stored bytes, oldest first.
	ExportAudit(ctx context.Context, w io.Writer, since time.Time) error
	// Probe makes a real write and reads it back (readiness).
	Probe(ctx context.Context) error
	// Close releases the store; calls in progress finish first.
	Close() error
}

var _ Backend = (*DB)(nil)
