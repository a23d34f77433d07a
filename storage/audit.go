package storage

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// exportChunk is how many entries ExportAudit reads per read transaction,
// so a long export does not hold one transaction open.
const exportChunk = 1024

// Append implements approvals.Store: it appends entries, in order, in one
// transaction, and returns them as stored (Seq, PrevHash and, when zero,
// Time assigned).
//
// An append with no other in flight commits in its own transaction;
// overlapping appends share transactions (bbolt Batch), so many concurrent
// appends cost few fsyncs. Entries are encoded before the transaction;
// inside it only the chain fields are added (auditchain.Prepared.Seal), so
// a shared transaction stays short.
func (db *DB) Append(ctx context.Context, entries ...approvals.AuditEntry) ([]approvals.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := db.writable("append to the audit log"); err != nil {
		return nil, err
	}
	prepared, err := auditchain.PrepareAll(entries)
	if err != nil {
		return nil, fmt.Errorf("append to the audit log: %w", err)
	}
	var out []approvals.AuditEntry
	// Batch may run this function more than once (when another call in the
	// same batch fails); it reads the head inside the transaction and seals
	// afresh each time, so a re-run is harmless.
	write := func(tx *bolt.Tx) error {
		var err error
		out, err = db.appendTx(tx, prepared)
		return err
	}
	// A lone append commits at once; appends that overlap share batches.
	if db.appending.Add(1) == 1 {
		err = db.bolt.Update(write)
	} else {
		err = db.bolt.Batch(write)
	}
	db.appending.Add(-1)
	if err != nil {
		return nil, fmt.Errorf("append to the audit log in %s: %w", db.path, err)
	}
	return out, nil
}

// appendTx seals and stores prepared entries after the head, inside tx, and
// moves the head. Every write of the audit bucket goes through here.
func (db *DB) appendTx(tx *bolt.Tx, prepared []auditchain.Prepared) ([]approvals.AuditEntry, error) {
	if len(prepared) == 0 {
		return nil, nil
	}
	meta, audit := bucket(tx, bucketMeta), bucket(tx, bucketAudit)
	// Keys only ever grow: fill pages completely instead of splitting them
	// in half, which halves the pages each commit writes.
	audit.FillPercent = 1.0
	head, err := auditchain.DecodeHead(meta.Get([]byte(keyAuditHead)))
	if err != nil {
		return nil, err
	}
	out := make([]approvals.AuditEntry, len(prepared))
	now := time.Now()
	for i, p := range prepared {
		s := p.Seal(db.key, head, now)
		if err := audit.Put(u64(s.Entry.Seq), s.Stored); err != nil {
			return nil, err
		}
		head, out[i] = s.Head, s.Entry
	}
	if err := meta.Put([]byte(keyAuditHead), head.Encode()); err != nil {
		return nil, err
	}
	return out, nil
}

// ReadAudit implements auditchain.Reader: every entry, then the head, from
// one read transaction. It keeps the process's memory flat however long
// the log is: the pages of the file it has read are released from this
// process's mapping every releaseEvery entries (they stay in the kernel's
// page cache).
func (db *DB) ReadAudit(ctx context.Context, fn func(seq uint64, stored []byte) error) (auditchain.Head, error) {
	var head auditchain.Head
	err := db.view(ctx, func(tx *bolt.Tx) error {
		h, err := auditchain.DecodeHead(bucket(tx, bucketMeta).Get([]byte(keyAuditHead)))
		if err != nil {
			return &auditchain.Break{Seq: 1, Kind: auditchain.BreakHead, Detail: err.Error()}
		}
		head = h
		c := bucket(tx, bucketAudit).Cursor()
		n := 0
		for k, v := c.First(); k != nil; k, v = c.Next() {
			if len(k) != 8 {
				return &auditchain.Break{Seq: 0, Kind: auditchain.BreakBadKey, Detail: fmt.Sprintf("key %x is not an 8-byte sequence number", k)}
			}
			if err := fn(binary.BigEndian.Uint64(k), v); err != nil {
				return err
			}
			if n++; n%releaseEvery == 0 {
				db.releasePages(tx)
			}
		}
		db.releasePages(tx)
		return nil
	})
	return head, err
}

// TailAudit returns the last n entries, oldest first.
func (db *DB) TailAudit(ctx context.Context, n int) ([]approvals.AuditEntry, error) {
	return db.AuditBefore(ctx, 0, n)
}

// AuditBefore returns up to n entries numbered below before (the newest
// ones when before is 0), oldest first: one page of the trail, for chat.
func (db *DB) AuditBefore(ctx context.Context, before uint64, n int) ([]approvals.AuditEntry, error) {
	return DecodedPage(ctx, db, before, n)
}

// DecodedPage is AuditBefore for any backend: the entries of
// p.AuditPage(before, n), decoded.
func DecodedPage(ctx context.Context, p interface {
	AuditPage(ctx context.Context, before uint64, n int, fn func(seq uint64, stored []byte) error) error
}, before uint64, n int) ([]approvals.AuditEntry, error) {
	var out []approvals.AuditEntry
	err := p.AuditPage(ctx, before, n, func(seq uint64, stored []byte) error {
		e, err := auditchain.Decode(stored)
		if err != nil {
			return fmt.Errorf("entry %d: %w", seq, err)
		}
		out = append(out, e)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tail audit log: %w", err)
	}
	return out, nil
}

// AuditPage calls fn with the stored bytes of up to n entries numbered
// below before (the last n when before is 0), oldest first. It holds at most
// exportChunk entries at a time and no read transaction longer than that, so a page may be as long as the trail (`audit tail
// -n` through the running bot) and a slow fn never holds up the bot's
// writes for long. Entries appended meanwhile are not included.
func (db *DB) AuditPage(ctx context.Context, before uint64, n int, fn func(seq uint64, stored []byte) error) error {
	if n <= 0 {
		return fmt.Errorf("asked for %d entries; ask for at least 1", n)
	}
	// First the range: walk back n keys (no decoding) from the newest
	// entry below before.
	var first, last uint64
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bucketAudit).Cursor()
		k, _ := c.Last()
		if before > 0 {
			k, _ = c.Seek(u64(before))
			if k == nil {
				k, _ = c.Last()
			} else {
				k, _ = c.Prev()
			}
		}
		for i := 0; k != nil; i++ {
			if len(k) != 8 {
				return fmt.Errorf("audit key %x is not a sequence number; run `gitlab-chatops audit verify`", k)
			}
			if last == 0 {
				last = binary.BigEndian.Uint64(k)
			}
			first = binary.BigEndian.Uint64(k)
			if i+1 == n {
				break
			}
			k, _ = c.Prev()
		}
		return nil
	})
	if err != nil || last == 0 {
		return err
	}
	return db.eachAudit(ctx, first, last, fn)
}

// eachAudit calls fn with every entry numbered from first to last, in
// read transactions of at most exportChunk entries.
func (db *DB) eachAudit(ctx context.Context, first, last uint64, fn func(seq uint64, stored []byte) error) error {
	next := first
	for next <= last {
		type kv struct {
			seq    uint64
			stored []byte
		}
		var chunk []kv
		err := db.view(ctx, func(tx *bolt.Tx) error {
			c := bucket(tx, bucketAudit).Cursor()
			for k, v := c.Seek(u64(next)); k != nil && len(chunk) < exportChunk; k, v = c.Next() {
				if len(k) != 8 {
					return fmt.Errorf("audit key %x is not a sequence number; run `gitlab-chatops audit verify`", k)
				}
				seq := binary.BigEndian.Uint64(k)
				if seq > last {
					break
				}
				chunk = append(chunk, kv{seq, slices.Clone(v)})
			}
			db.releasePages(tx)
			return nil
		})
		if err != nil {
			return err
		}
		if len(chunk) == 0 {
			return nil
		}
		for _, e := range chunk {
			if err := fn(e.seq, e.stored); err != nil {
				return err
			}
		}
		next = chunk[len(chunk)-1].seq + 1
	}
	return nil
}

// ExportAudit writes every entry with Time at or after since (all when
// since is zero) to w as JSON lines, oldest first. Each line is the entry's
// stored bytes, unchanged, so the export can be checked against the chain
// (the HMAC of line n is line n+1's prev_hash).
func (db *DB) ExportAudit(ctx context.Context, w io.Writer, since time.Time) error {
	next := uint64(1)
	for {
		var lines [][]byte
		more, scanned := false, 0
		err := db.view(ctx, func(tx *bolt.Tx) error {
			c := bucket(tx, bucketAudit).Cursor()
			for k, v := c.Seek(u64(next)); k != nil; k, v = c.Next() {
				if scanned == exportChunk {
					more = true
					return nil
				}
				scanned++
				if len(k) != 8 {
					return fmt.Errorf("audit key %x is not a sequence number; run `gitlab-chatops audit verify`", k)
				}
				next = binary.BigEndian.Uint64(k) + 1
				if !since.IsZero() {
					e, err := auditchain.Decode(v)
					if err != nil {
						return fmt.Errorf("entry %d: %w", next-1, err)
					}
					if e.Time.Before(since) {
						continue
					}
				}
				line := make([]byte, 0, len(v)+1)
				lines = append(lines, append(append(line, v...), '\n'))
			}
			db.releasePages(tx)
			return nil
		})
		if err != nil {
			return fmt.Errorf("export audit log: %w", err)
		}
		for _, l := range lines {
			if _, err := w.Write(l); err != nil {
				return fmt.Errorf("export audit log: write: %w", err)
			}
		}
		if !more {
			return nil
		}
	}
}

// AuditHead returns the seq and hash of the last entry (the zero Head for
// an empty log), for anchors.
func (db *DB) AuditHead(ctx context.Context) (auditchain.Head, error) {
	var head auditchain.Head
	err := db.view(ctx, func(tx *bolt.Tx) error {
		var err error
		head, err = auditchain.DecodeHead(bucket(tx, bucketMeta).Get([]byte(keyAuditHead)))
		return err
	})
	if err != nil {
		return head, fmt.Errorf("read the audit head: %w", err)
	}
	return head, nil
}
