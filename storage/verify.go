package storage

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"

	bolt "go.etcd.io/bbolt"
)

// ErrAuditBroken: VerifyAudit found the chain broken.
var ErrAuditBroken = errors.New("audit log integrity check failed")

// BreakKind says what is wrong with an audit entry.
type BreakKind string

const (
	// BreakBadKey: a key in the audit bucket is not an 8-byte seq.
	BreakBadKey BreakKind = "bad key"
	// BreakBadJSON: the stored bytes are not a JSON audit entry.
	BreakBadJSON BreakKind = "bad JSON"
	// BreakSeqMismatch: an entry is missing, or says it has another seq
	// than the key it is stored under.
	BreakSeqMismatch BreakKind = "seq mismatch"
	// BreakPrevHash: the chain link between an entry and the next one does
	// not hold: one of them was changed after it was written.
	BreakPrevHash BreakKind = "prev hash mismatch"
	// BreakHead: the last entry does not match the head recorded in meta:
	// the tail was truncated, changed or extended behind the log's back.
	BreakHead BreakKind = "head mismatch"
)

// Break is the first broken entry VerifyAudit found.
type Break struct {
	// Seq is the entry to look at.
	Seq  uint64
	Kind BreakKind
	// Detail explains what was found, in a sentence.
	Detail string
}

func (b *Break) Error() string {
	return fmt.Sprintf("audit entry %d: %s: %s", b.Seq, b.Kind, b.Detail)
}

// VerifyReport is the result of VerifyAudit.
type VerifyReport struct {
	// Entries is how many entries were read.
	Entries uint64
	// HeadSeq and HeadHash are the head recorded in meta (0 and "" for an
	// empty log). Keeping them somewhere else anchors the chain.
	HeadSeq  uint64
	HeadHash string
	// Break is the first broken entry; nil when the chain is intact.
	Break *Break
}

// OK reports whether the chain is intact.
func (r VerifyReport) OK() bool { return r.Break == nil }

// VerifyAudit walks the audit chain from seq 1 and checks, for every entry:
// its key is the next seq, its bytes are JSON, its seq field matches the
// key, its prev_hash is the SHA-256 of the previous entry's stored bytes;
// and at the end that the last entry is the head recorded in meta.
//
// It reports the FIRST broken entry in report.Break and returns an error
// wrapping ErrAuditBroken that names it; other errors mean the log could not
// be read. When a link between entries n and n+1 fails, the entry named is
// the one whose stored bytes no longer match what its successor (or the
// head) recorded: n if n+1 is itself vouched for by n+2 (or the head),
// otherwise n+1.
func (db *DB) VerifyAudit(ctx context.Context) (VerifyReport, error) {
	var (
		rep      VerifyReport
		expected = uint64(1)
		prevSum  []byte // SHA-256 of the previous entry's bytes
		done     bool
	)
	for !done {
		err := db.view(ctx, func(tx *bolt.Tx) error {
			audit, meta := bucket(tx, bucketAudit), bucket(tx, bucketMeta)
			headSeq, headSum, err := readHead(meta)
			if err != nil {
				rep.Break = &Break{Seq: expected, Kind: BreakHead, Detail: err.Error()}
				done = true
				return nil
			}
			rep.HeadSeq, rep.HeadHash = headSeq, hex.EncodeToString(headSum)

			// vouch returns the hash that the entry after seq (or the head)
			// recorded for seq, or nil when nothing records it.
			vouch := func(seq uint64) []byte {
				if next := audit.Get(u64(seq + 1)); next != nil {
					var n struct {
						PrevHash string `json:"prev_hash"`
					}
					if json.Unmarshal(next, &n) != nil {
						return nil
					}
					b, _ := hex.DecodeString(n.PrevHash)
					return b
				}
				if seq == headSeq {
					return headSum
				}
				return nil
			}

			c := audit.Cursor()
			k, v := c.Seek(u64(expected))
			if expected == 1 {
				k, v = c.First() // also see malformed keys that sort before seq 1
			}
			for scanned := 0; ; k, v = c.Next() {
				if k == nil {
					done = true
					rep.Break = checkHead(expected-1, prevSum, headSeq, headSum)
					return nil
				}
				if scanned == exportChunk {
					return nil // next chunk, in a new transaction
				}
				scanned++
				rep.Entries++
				if b := checkEntry(k, v, expected, prevSum, vouch); b != nil {
					rep.Break, done = b, true
					return nil
				}
				sum := sha256.Sum256(v)
				prevSum = sum[:]
				expected++
			}
		})
		if err != nil {
			return rep, fmt.Errorf("verify audit log in %s: %w", db.path, err)
		}
	}
	if rep.Break != nil {
		return rep, fmt.Errorf("%w: %w", ErrAuditBroken, rep.Break)
	}
	return rep, nil
}

// checkEntry checks one stored entry against the chain so far.
func checkEntry(k, v []byte, expected uint64, prevSum []byte, vouch func(uint64) []byte) *Break {
	if len(k) != 8 {
		return &Break{Seq: expected, Kind: BreakBadKey, Detail: fmt.Sprintf("key %x is not an 8-byte sequence number", k)}
	}
	seq := binary.BigEndian.Uint64(k)
	if seq != expected {
		return &Break{Seq: expected, Kind: BreakSeqMismatch,
			Detail: fmt.Sprintf("entry %d is missing (the next entry stored is %d): entries were removed", expected, seq)}
	}
	var e struct {
		Seq      uint64 `json:"seq"`
		PrevHash string `json:"prev_hash"`
	}
	if err := json.Unmarshal(v, &e); err != nil {
		return &Break{Seq: seq, Kind: BreakBadJSON, Detail: fmt.Sprintf("the stored bytes are not a JSON entry (%v): the entry was changed", err)}
	}
	if e.Seq != seq {
		return &Break{Seq: seq, Kind: BreakSeqMismatch, Detail: fmt.Sprintf("the entry stored under %d says it is entry %d: entries were moved or changed", seq, e.Seq)}
	}
	want := ""
	if prevSum != nil {
		want = hex.EncodeToString(prevSum)
	}
	if e.PrevHash == want {
		return nil
	}
	if seq == 1 {
		return &Break{Seq: 1, Kind: BreakPrevHash, Detail: "the first entry has a prev_hash: entries before it were removed, or it was changed"}
	}
	// The link seq-1 -> seq fails. If seq's own bytes are what its successor
	// (or the head) recorded, seq is authentic, so its prev_hash is too, and
	// seq-1 was changed.
	sum := sha256.Sum256(v)
	if r := vouch(seq); r != nil && string(r) == string(sum[:]) {
		return &Break{Seq: seq - 1, Kind: BreakPrevHash,
			Detail: fmt.Sprintf("entry %d was changed after it was written: its hash no longer matches the prev_hash recorded in entry %d", seq-1, seq)}
	}
	return &Break{Seq: seq, Kind: BreakPrevHash,
		Detail: fmt.Sprintf("entry %d was changed after it was written: its prev_hash does not match entry %d and its own hash does not match what the next entry recorded (entry %d may be changed too)", seq, seq-1, seq-1)}
}

// checkHead compares the last entry read (seq last, hash sum) with the head
// recorded in meta.
func checkHead(last uint64, sum []byte, headSeq uint64, headSum []byte) *Break {
	switch {
	case last == 0 && headSeq == 0:
		return nil // empty log
	case headSeq == 0:
		return &Break{Seq: last, Kind: BreakHead, Detail: "the audit head in meta is missing although entries exist: the meta bucket was changed"}
	case headSeq > last:
		return &Break{Seq: last + 1, Kind: BreakHead,
			Detail: fmt.Sprintf("entries %d to %d recorded by the audit head are missing: the end of the log was removed", last+1, headSeq)}
	case headSeq < last:
		return &Break{Seq: headSeq + 1, Kind: BreakHead,
			Detail: fmt.Sprintf("entries after %d were added without updating the audit head: they were not written by gitlab-chatops", headSeq)}
	case string(sum) != string(headSum):
		return &Break{Seq: last, Kind: BreakHead,
			Detail: fmt.Sprintf("entry %d, the last one, was changed after it was written: its hash does not match the audit head", last)}
	}
	return nil
}
