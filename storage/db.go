package storage

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sync/atomic"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// SchemaVersion is the layout this package reads and writes. Version 2
// keys the audit chain (auditchain.Version); a version 1 file with audit
// entries is refused with ErrSchemaTooOld.
const SchemaVersion = 2

// DefaultTimeout is how long Open waits for the file lock by default.
const DefaultTimeout = time.Second

// batchDelay is how long the first of a group of concurrent appends waits
// for others to join its transaction (bbolt's MaxBatchDelay, 10ms by
// default). A commit costs a few milliseconds of fsync, so a short wait is
// enough to fill a batch under load.
const batchDelay = 2 * time.Millisecond

// Bucket and key names.
const (
	bucketRequests  = "requests"
	bucketAudit     = "audit"
	bucketSchedules = "schedules"
	bucketMeta      = "meta"
	// bucketScheduleResults came after schema version 2 without changing
	// it: Open adds it to an existing file, and a read-only Open of a file
	// without it reads as "no results yet" (see check).
	bucketScheduleResults = "schedule_results"
	// bucketReauth (approvers' TOTP enrolments) came the same way.
	bucketReauth = "reauth"

	keySchemaVersion = "schema_version"
	keyAuditHead     = "audit_head"
)

// allBuckets are the buckets a read-write Open creates.
func allBuckets() []string {
	return append(requiredBuckets(), bucketScheduleResults, bucketReauth)
}

// requiredBuckets are the buckets every file of this schema version has
// once a read-write Open has prepared it; a read-only Open requires them.
func requiredBuckets() []string {
	return []string{bucketRequests, bucketAudit, bucketSchedules, bucketMeta}
}

var (
	// ErrLocked: another process holds the database file.
	ErrLocked = errors.New("database is locked")
	// ErrSchemaTooNew: the file was written by a newer gitlab-chatops.
	ErrSchemaTooNew = errors.New("database schema is newer than this program")
	// ErrSchemaTooOld: the file's audit chain is in the unkeyed format 1.
	ErrSchemaTooOld = errors.New("database schema is older than this program")
	// ErrNotInitialized: a read-only Open found no gitlab-chatops data.
	ErrNotInitialized = errors.New("database not initialized")
)

// lockError is what Open returns when the file lock cannot be had. It
// matches ErrLocked and bbolt's ErrTimeout.
type lockError struct {
	path string
	err  error
}

func (e *lockError) Error() string {
	return fmt.Sprintf("database %s is locked by another gitlab-chatops process (is the bot already running?)", e.path)
}

func (e *lockError) Unwrap() []error { return []error{ErrLocked, e.err} }

// Options configure Open.
type Options struct {
	// Timeout is how long to wait for the file lock; 0 means
	// DefaultTimeout. Open never waits forever.
	Timeout time.Duration
	// ReadOnly opens the file with a shared lock and refuses writes. The
	// file must already have been created by a read-write Open.
	ReadOnly bool
	// AuditKey keys the audit chain (see auditchain). A read-write Open
	// needs it; a read-only one does not (verification takes the key
	// separately).
	AuditKey auditchain.Key
}

// DB is an open gitlab-chatops database. It is safe for concurrent use.
// Close it when done: the file stays locked until then.
type DB struct {
	bolt     *bolt.DB
	path     string
	readOnly bool
	key      auditchain.Key
	// appending counts Append calls in flight (see Append).
	appending atomic.Int64
}

// Open opens (creating it, mode 0600, if needed) the database at path. It
// creates the buckets and records the schema version; it refuses a file
// with a newer schema (ErrSchemaTooNew) and, after opts.Timeout, a file
// locked by another process (ErrLocked).
func Open(path string, opts Options) (*DB, error) {
	if path == "" {
		return nil, errors.New("open database: no path given; set the database path in the configuration")
	}
	if !opts.ReadOnly {
		if err := opts.AuditKey.Check(); err != nil {
			return nil, fmt.Errorf("open database %s: %w", path, err)
		}
	}
	timeout := opts.Timeout
	switch {
	case timeout == 0:
		timeout = DefaultTimeout
	case timeout < 0:
		return nil, fmt.Errorf("open database %s: lock timeout %s is negative", path, timeout)
	}
	b, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: timeout, ReadOnly: opts.ReadOnly})
	switch {
	case errors.Is(err, berrors.ErrTimeout):
		return nil, &lockError{path: path, err: err}
	case err != nil:
		return nil, fmt.Errorf("open database %s: %w", path, err)
	}
	b.MaxBatchDelay = batchDelay
	db := &DB{bolt: b, path: path, readOnly: opts.ReadOnly, key: opts.AuditKey}
	if opts.ReadOnly {
		err = b.View(db.check)
	} else {
		err = b.Update(db.init)
	}
	if err != nil {
		_ = b.Close()
		return nil, err
	}
	return db, nil
}

// Path returns the file the DB was opened from.
func (db *DB) Path() string { return db.path }

// Close releases the file. Calls in progress finish first.
func (db *DB) Close() error {
	if err := db.bolt.Close(); err != nil {
		return fmt.Errorf("close database %s: %w", db.path, err)
	}
	return nil
}

// init prepares a read-write file: creates what is missing, checks the
// schema version. It writes nothing if the version is refused.
func (db *DB) init(tx *bolt.Tx) error {
	meta := bucket(tx, bucketMeta)
	if meta == nil {
		foreign := false
		_ = tx.ForEach(func(name []byte, _ *bolt.Bucket) error {
			foreign = true
			return nil
		})
		if foreign {
			return fmt.Errorf("database %s is a bbolt file but not a gitlab-chatops database (it has no meta bucket); point the configuration at another path", db.path)
		}
	} else if err := db.checkVersion(meta, bucket(tx, bucketAudit)); err != nil {
		return err
	}
	for _, name := range allBuckets() {
		if _, err := tx.CreateBucketIfNotExists([]byte(name)); err != nil {
			return fmt.Errorf("database %s: create bucket %s: %w", db.path, name, err)
		}
	}
	// A new file, or a version 1 file without audit entries (checkVersion
	// refuses one with entries), is recorded as this version.
	if v := bucket(tx, bucketMeta).Get([]byte(keySchemaVersion)); v == nil || binary.BigEndian.Uint64(v) < SchemaVersion {
		if err := bucket(tx, bucketMeta).Put([]byte(keySchemaVersion), u64(SchemaVersion)); err != nil {
			return fmt.Errorf("database %s: record schema version: %w", db.path, err)
		}
	}
	return nil
}

// check verifies a read-only file.
func (db *DB) check(tx *bolt.Tx) error {
	for _, name := range requiredBuckets() {
		if bucket(tx, name) == nil {
			return fmt.Errorf("database %s has no %s bucket; run gitlab-chatops once without read-only mode to create it: %w", db.path, name, ErrNotInitialized)
		}
	}
	return db.checkVersion(bucket(tx, bucketMeta), bucket(tx, bucketAudit))
}

func (db *DB) checkVersion(meta, audit *bolt.Bucket) error {
	v := meta.Get([]byte(keySchemaVersion))
	if v == nil {
		if db.readOnly {
			return fmt.Errorf("database %s has no schema version; run gitlab-chatops once without read-only mode: %w", db.path, ErrNotInitialized)
		}
		return nil // init records it
	}
	if len(v) != 8 {
		return fmt.Errorf("database %s: schema version is %d bytes, want 8; the file is damaged: restore a backup", db.path, len(v))
	}
	switch n := binary.BigEndian.Uint64(v); {
	case n > SchemaVersion:
		return fmt.Errorf("database %s has schema version %d, but this gitlab-chatops only understands version %d: upgrade gitlab-chatops, or restore a backup made by this version: %w",
			db.path, n, SchemaVersion, ErrSchemaTooNew)
	case n < 1:
		return fmt.Errorf("database %s has invalid schema version %d; the file is damaged: restore a backup", db.path, n)
	case n == 1 && audit != nil && audit.Stats().KeyN > 0:
		return fmt.Errorf("database %s holds an audit trail in the unkeyed format of gitlab-chatops before HMAC keys: verify and export it with that version (`gitlab-chatops audit verify` and `audit export`), keep the export, then move the file aside and start with a new store (see README: Upgrading the audit trail): %w",
			db.path, ErrSchemaTooOld)
	}
	return nil
}

// view and update run fn in a read or write transaction after checking ctx.
// bbolt transactions cannot be interrupted, so ctx is only checked before.
func (db *DB) view(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	return db.bolt.View(fn)
}

func (db *DB) update(ctx context.Context, fn func(*bolt.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := db.writable("write"); err != nil {
		return err
	}
	return db.bolt.Update(fn)
}

// writable refuses writes to a read-only DB.
func (db *DB) writable(doing string) error {
	if db.readOnly {
		return fmt.Errorf("%s: database %s is open read-only: %w", doing, db.path, berrors.ErrDatabaseReadOnly)
	}
	return nil
}

func u64(n uint64) []byte {
	return binary.BigEndian.AppendUint64(make([]byte, 0, 8), n)
}

// clone copies bbolt-owned bytes, which are valid only inside their
// transaction.
func clone(b []byte) []byte {
	if b == nil {
		return nil
	}
	return slices.Clone(b)
}

// bucket returns one of this package's buckets, which Open guarantees.
func bucket(tx *bolt.Tx, name string) *bolt.Bucket {
	return tx.Bucket([]byte(name))
}
