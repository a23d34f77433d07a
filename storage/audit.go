package storage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

var _ approvals.AuditLog = (*DB)(nil)

// exportChunk is how many entries ExportAudit and VerifyAudit read per
// read transaction, so a long export does not hold one transaction open.
const exportChunk = 1024

// headLen is the size of meta/audit_head: seq (8) ++ SHA-256 (32).
const headLen = 8 + sha256.Size

// Append implements approvals.AuditLog. It assigns Seq (the head's + 1),
// PrevHash (the head's hash) and, when e.Time is zero, Time (now, UTC), and
// returns once the entry is committed.
//
// An append with no other in flight commits in its own transaction;
// overlapping appends share transactions (bbolt Batch), so many concurrent
// appends cost few fsyncs. The entry is encoded before the transaction;
// inside it only the chain fields are written in front of the encoded rest,
// so a shared transaction stays short.
func (db *DB) Append(ctx context.Context, e approvals.AuditEntry) (approvals.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return approvals.AuditEntry{}, err
	}
	if db.readOnly {
		return approvals.AuditEntry{}, fmt.Errorf("append to the audit log: database %s is open read-only", db.path)
	}
	given := e.Time
	var givenJSON []byte
	if !given.IsZero() {
		b, err := given.MarshalJSON()
		if err != nil {
			return approvals.AuditEntry{}, fmt.Errorf("append to the audit log: entry time: %w", err)
		}
		givenJSON = b
	}
	// body is the entry without seq, time and prev_hash (all omitted when
	// zero): "{...}" or "{}".
	e.Seq, e.Time, e.PrevHash = 0, time.Time{}, ""
	body, err := json.Marshal(e)
	if err != nil {
		return approvals.AuditEntry{}, fmt.Errorf("append to the audit log: encode entry: %w", err)
	}

	var (
		seq  uint64
		prev string
		at   time.Time
	)
	// Batch may run this function more than once (when another call in the
	// same batch fails); it reads the head inside the transaction and sets
	// seq, prev and at afresh each time, so a re-run is harmless.
	write := func(tx *bolt.Tx) error {
		meta, audit := bucket(tx, bucketMeta), bucket(tx, bucketAudit)
		// Keys only ever grow: fill pages completely instead of splitting
		// them in half, which halves the pages each commit writes.
		audit.FillPercent = 1.0
		headSeq, headHash, err := readHead(meta)
		if err != nil {
			return err
		}
		seq = headSeq + 1
		prev = ""
		if headSeq > 0 {
			prev = hex.EncodeToString(headHash)
		}
		timeJSON := givenJSON
		at = given
		if timeJSON == nil {
			at = time.Now().UTC()
			timeJSON = at.AppendFormat(append(make([]byte, 0, 40), '"'), time.RFC3339Nano)
			timeJSON = append(timeJSON, '"')
		}

		v := make([]byte, 0, len(body)+len(timeJSON)+len(prev)+48)
		v = append(v, `{"seq":`...)
		v = strconv.AppendUint(v, seq, 10)
		v = append(v, `,"time":`...)
		v = append(v, timeJSON...)
		if prev != "" {
			v = append(v, `,"prev_hash":"`...)
			v = append(v, prev...)
			v = append(v, '"')
		}
		if len(body) > 2 {
			v = append(v, ',')
			v = append(v, body[1:]...)
		} else {
			v = append(v, '}')
		}
		sum := sha256.Sum256(v)
		head := binary.BigEndian.AppendUint64(make([]byte, 0, headLen), seq)
		head = append(head, sum[:]...)
		if err := audit.Put(u64(seq), v); err != nil {
			return err
		}
		return meta.Put([]byte(keyAuditHead), head)
	}
	// A lone append commits at once; appends that overlap share batches.
	if db.appending.Add(1) == 1 {
		err = db.bolt.Update(write)
	} else {
		err = db.bolt.Batch(write)
	}
	db.appending.Add(-1)
	if err != nil {
		return approvals.AuditEntry{}, fmt.Errorf("append to the audit log in %s: %w", db.path, err)
	}
	e.Seq, e.PrevHash, e.Time = seq, prev, at
	return e, nil
}

// readHead returns the seq and hash of the last entry (0, nil when the log
// is empty).
func readHead(meta *bolt.Bucket) (uint64, []byte, error) {
	v := meta.Get([]byte(keyAuditHead))
	if v == nil {
		return 0, nil, nil
	}
	if len(v) != headLen {
		return 0, nil, fmt.Errorf("the audit head in meta is %d bytes, want %d; the file was damaged: run `gitlab-chatops audit verify`", len(v), headLen)
	}
	return binary.BigEndian.Uint64(v[:8]), v[8:], nil
}

// TailAudit returns the last n entries, oldest first.
func (db *DB) TailAudit(ctx context.Context, n int) ([]approvals.AuditEntry, error) {
	if n <= 0 {
		return nil, fmt.Errorf("tail audit log: asked for %d entries; ask for at least 1", n)
	}
	var out []approvals.AuditEntry
	err := db.view(ctx, func(tx *bolt.Tx) error {
		c := bucket(tx, bucketAudit).Cursor()
		for k, v := c.Last(); k != nil && len(out) < n; k, v = c.Prev() {
			e, err := decodeEntry(k, v)
			if err != nil {
				return err
			}
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("tail audit log: %w", err)
	}
	slices.Reverse(out)
	return out, nil
}

// ExportAudit writes every entry with Time at or after since (all when
// since is zero) to w as JSON lines, oldest first. Each line is the entry's
// stored bytes, unchanged, so the export can be checked against the chain
// (the SHA-256 of line n is line n+1's prev_hash).
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
					var t struct {
						Time time.Time `json:"time"`
					}
					if err := json.Unmarshal(v, &t); err != nil {
						return fmt.Errorf("audit entry %d is damaged (%w); run `gitlab-chatops audit verify`", next-1, err)
					}
					if t.Time.Before(since) {
						continue
					}
				}
				line := make([]byte, 0, len(v)+1)
				lines = append(lines, append(append(line, v...), '\n'))
			}
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

func decodeEntry(k, v []byte) (approvals.AuditEntry, error) {
	var e approvals.AuditEntry
	if len(k) != 8 {
		return e, fmt.Errorf("audit key %x is not a sequence number; run `gitlab-chatops audit verify`", k)
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return e, fmt.Errorf("audit entry %d is damaged (%w); run `gitlab-chatops audit verify`", binary.BigEndian.Uint64(k), err)
	}
	return e, nil
}
