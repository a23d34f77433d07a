package etcd

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
)

// etcd's default limits (--max-txn-ops, --max-request-bytes). A
// transaction that would exceed them is split (Append batches) or refused
// with an error naming the limit (one call's entries), never half-written.
const (
	DefaultMaxTxnOps = 128
	// DefaultMaxTxnBytes leaves a margin under etcd's 1.5 MiB per request
	// for the keys, compares and protobuf framing.
	DefaultMaxTxnBytes = 1 << 20
)

// Key paths under the cluster prefix (see doc.go for the layout).
const (
	keySchemaVersion = "meta/schema_version"
	keyAuditHead     = "meta/audit_head"
	keyScheduleSeq   = "meta/schedule_seq"
	keyProbe         = "meta/probe"
	dirRequests      = "requests/"
	dirAudit         = "audit/"
	dirSchedules     = "schedules/"
	dirResults       = "schedule_results/"
)

// StoreOptions configure OpenStore.
type StoreOptions struct {
	// AuditKey keys the audit chain (auditchain); required.
	AuditKey auditchain.Key
	// MaxTxnOps and MaxTxnBytes are the etcd server's limits on one
	// transaction (DefaultMaxTxnOps and DefaultMaxTxnBytes when zero); set
	// them to the server's --max-txn-ops and a margin under its
	// --max-request-bytes if those were changed.
	MaxTxnOps   int
	MaxTxnBytes int
}

// Store is the bot's state in etcd: storage.Backend with the bbolt file's
// guarantees (see doc.go). Several Stores, one per replica, may share one
// prefix: every write is a transaction guarded by compares, so they never
// lose an update or fork the audit chain. Safe for concurrent use.
type Store struct {
	c      *Cluster
	kv     clientv3.KV
	key    auditchain.Key
	maxOps int
	maxLen int

	appends *appender

	// writes counts the writes in flight, which Close waits for; closed
	// refuses new ones.
	mu        sync.Mutex
	closed    bool
	writes    sync.WaitGroup
	closeOnce sync.Once
}

var _ storage.Backend = (*Store)(nil)

// OpenStore prepares the prefix for this version (recording the schema
// version on first use) and returns the Store. It refuses data written by
// a newer gitlab-chatops (storage.ErrSchemaTooNew), writing nothing. The
// Store does not own c: close the Store, then the Cluster.
func OpenStore(ctx context.Context, c *Cluster, opts StoreOptions) (*Store, error) {
	if c == nil {
		return nil, errors.New("open etcd store: no cluster; Dial etcd first")
	}
	if err := opts.AuditKey.Check(); err != nil {
		return nil, fmt.Errorf("open etcd store %s: %w", c.Prefix(), err)
	}
	s := &Store{c: c, kv: c.Client(), key: opts.AuditKey, maxOps: opts.MaxTxnOps, maxLen: opts.MaxTxnBytes}
	if s.maxOps == 0 {
		s.maxOps = DefaultMaxTxnOps
	}
	if s.maxLen == 0 {
		s.maxLen = DefaultMaxTxnBytes
	}
	if s.maxOps < 3 || s.maxLen < 4096 {
		return nil, fmt.Errorf("open etcd store: transaction limits %d ops / %d bytes are too small (at least 3 ops and 4096 bytes)", s.maxOps, s.maxLen)
	}
	if err := s.initSchema(ctx); err != nil {
		return nil, err
	}
	s.appends = newAppender(s)
	return s, nil
}

// initSchema records the schema version on an empty prefix, in a Txn so
// two replicas starting together agree, and refuses a newer one.
func (s *Store) initSchema(ctx context.Context) error {
	k := s.c.Key(keySchemaVersion)
	resp, err := s.kv.Txn(ctx).
		If(clientv3.Compare(clientv3.CreateRevision(k), "=", 0)).
		Then(clientv3.OpPut(k, strconv.Itoa(storage.SchemaVersion))).
		Else(clientv3.OpGet(k)).
		Commit()
	if err != nil {
		return fmt.Errorf("open etcd store %s: read the schema version: %w", s.c.Prefix(), err)
	}
	if resp.Succeeded {
		return nil
	}
	kvs := resp.Responses[0].GetResponseRange().Kvs
	if len(kvs) == 0 {
		return fmt.Errorf("open etcd store %s: the schema version vanished while opening; try again", s.c.Prefix())
	}
	n, err := strconv.ParseUint(string(kvs[0].Value), 10, 64)
	switch {
	case err != nil || n < 1:
		return fmt.Errorf("etcd store %s: schema version %q is invalid; the data was damaged: restore it from a backup (etcdctl snapshot restore) or use another prefix", s.c.Prefix(), kvs[0].Value)
	case n > storage.SchemaVersion:
		return fmt.Errorf("etcd store %s has schema version %d, but this gitlab-chatops only understands version %d: upgrade gitlab-chatops on every replica: %w",
			s.c.Prefix(), n, storage.SchemaVersion, storage.ErrSchemaTooNew)
	case n < storage.SchemaVersion:
		// etcd stores began at version 2: nothing older exists.
		return fmt.Errorf("etcd store %s has schema version %d, older than any etcd store gitlab-chatops wrote; use another prefix: %w", s.c.Prefix(), n, storage.ErrSchemaTooOld)
	}
	return nil
}

// Close stops taking writes and waits for those in flight (appends
// included). It does not close the Cluster, which the election and other
// keys share: close it after the Store.
func (s *Store) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		s.writes.Wait()
		s.appends.close()
	})
	return nil
}

// begin admits a write, or refuses it after Close; end it with
// s.writes.Done().
func (s *Store) begin() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return errClosed
	}
	s.writes.Add(1)
	return nil
}

// Prefix is where the store keeps its keys.
func (s *Store) Prefix() string { return s.c.Prefix() }

// auditKey is the key of entry seq: 20 digits, so that keys sort as
// numbers.
func (s *Store) auditKey(seq uint64) string {
	return s.c.Key(dirAudit + fmt.Sprintf("%020d", seq))
}

// parseAuditKey reads seq back from a full audit key.
func (s *Store) parseAuditKey(k []byte) (uint64, bool) {
	p := s.c.Key(dirAudit)
	if len(k) != len(p)+20 || string(k[:len(p)]) != p {
		return 0, false
	}
	n, err := strconv.ParseUint(string(k[len(p):]), 10, 64)
	return n, err == nil
}
