package auditchain

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// Version is the chain format this package writes and verifies. Version 1
// chained entries with plain SHA-256 and stored prev_hash after time; it is
// not accepted (see README: upgrading the audit trail).
const Version = 2

// MinKeyLen is the shortest key accepted: 32 bytes, e.g. the 64 characters
// of `openssl rand -hex 32`.
const MinKeyLen = 32

// Key is the secret the chain is keyed with.
type Key []byte

// ErrNoKey: a chain cannot be written or verified without a key.
var ErrNoKey = errors.New("no audit key")

// Check reports whether k is usable.
func (k Key) Check() error {
	switch {
	case len(k) == 0:
		return fmt.Errorf("the audit chain is keyed: set audit.key_file in the configuration or GITLAB_CHATOPS_AUDIT_KEY (see README: The audit trail): %w", ErrNoKey)
	case len(k) < MinKeyLen:
		return fmt.Errorf("the audit key is %d bytes; use at least %d (e.g. `openssl rand -hex 32`): %w", len(k), MinKeyLen, ErrNoKey)
	}
	return nil
}

func (k Key) mac() hash.Hash { return hmac.New(sha256.New, k) }

// Sum is the HMAC-SHA256 of one entry's stored bytes.
type Sum [sha256.Size]byte

// Hex returns s in hex, as prev_hash and anchors show it.
func (s Sum) Hex() string { return hex.EncodeToString(s[:]) }

// SumOf returns the HMAC of stored under k.
func SumOf(k Key, stored []byte) Sum {
	var s Sum
	m := k.mac()
	m.Write(stored)
	m.Sum(s[:0])
	return s
}

// Head is the last entry of a chain: its seq and Sum. The zero Head is an
// empty chain.
type Head struct {
	Seq uint64
	Sum Sum
}

// HeadLen is the size of an encoded Head.
const HeadLen = 8 + sha256.Size

// Encode returns h as stored by backends: seq (big-endian) ++ Sum.
func (h Head) Encode() []byte {
	b := binary.BigEndian.AppendUint64(make([]byte, 0, HeadLen), h.Seq)
	return append(b, h.Sum[:]...)
}

// DecodeHead reverses Encode; nil decodes to the empty chain's head.
func DecodeHead(b []byte) (Head, error) {
	var h Head
	if b == nil {
		return h, nil
	}
	if len(b) != HeadLen {
		return h, fmt.Errorf("the audit head is %d bytes, want %d; the store was damaged: run `gitlab-chatops audit verify`", len(b), HeadLen)
	}
	h.Seq = binary.BigEndian.Uint64(b[:8])
	copy(h.Sum[:], b[8:])
	return h, nil
}

// String shows h as anchors are posted: "SEQ:HEX".
func (h Head) String() string { return strconv.FormatUint(h.Seq, 10) + ":" + h.Sum.Hex() }

// Prepared is an entry encoded outside the transaction that will store it,
// so that the part done under the store's lock is short.
type Prepared struct {
	e        approvals.AuditEntry
	body     []byte // the entry without seq, time and prev_hash: "{…}" or "{}"
	timeJSON []byte // the given time, or nil to stamp it when sealing
}

// Prepare encodes e. Its Seq and PrevHash are ignored; a zero Time is
// stamped when the entry is sealed.
func Prepare(e approvals.AuditEntry) (Prepared, error) {
	p := Prepared{e: e}
	if !e.Time.IsZero() {
		b, err := e.Time.MarshalJSON()
		if err != nil {
			return Prepared{}, fmt.Errorf("audit entry time: %w", err)
		}
		p.timeJSON = b
	}
	// Seq, Time and PrevHash are omitted when zero (see AuditEntry).
	e.Seq, e.Time, e.PrevHash = 0, time.Time{}, ""
	body, err := json.Marshal(e)
	if err != nil {
		return Prepared{}, fmt.Errorf("encode audit entry: %w", err)
	}
	p.body = body
	return p, nil
}

// PrepareAll prepares entries in order (the entries of one write).
func PrepareAll(entries []approvals.AuditEntry) ([]Prepared, error) {
	out := make([]Prepared, len(entries))
	for i, e := range entries {
		p, err := Prepare(e)
		if err != nil {
			return nil, err
		}
		out[i] = p
	}
	return out, nil
}

// Sealed is an entry as it is stored after head.
type Sealed struct {
	// Stored is the bytes to store under Entry.Seq.
	Stored []byte
	// Head is the chain's new head.
	Head Head
	// Entry is the entry as stored: Seq, PrevHash and Time assigned.
	Entry approvals.AuditEntry
}

// Seal places p after head: it assigns the next seq, links it to head's
// Sum and stamps the time (now, UTC) unless one was given. It is pure:
// a backend that retries its transaction just seals again.
func (p Prepared) Seal(k Key, head Head, now time.Time) Sealed {
	seq := head.Seq + 1
	e := p.e
	e.Seq, e.PrevHash = seq, ""
	timeJSON := p.timeJSON
	if timeJSON == nil {
		e.Time = now.UTC()
		timeJSON = e.Time.AppendFormat(append(make([]byte, 0, 40), '"'), time.RFC3339Nano)
		timeJSON = append(timeJSON, '"')
	}
	v := make([]byte, 0, len(p.body)+len(timeJSON)+sha256.Size*2+48)
	v = append(v, `{"seq":`...)
	v = strconv.AppendUint(v, seq, 10)
	if head.Seq > 0 {
		e.PrevHash = head.Sum.Hex()
		v = append(v, `,"prev_hash":"`...)
		v = append(v, e.PrevHash...)
		v = append(v, '"')
	}
	v = append(v, `,"time":`...)
	v = append(v, timeJSON...)
	if len(p.body) > 2 {
		v = append(v, ',')
		v = append(v, p.body[1:]...)
	} else {
		v = append(v, '}')
	}
	return Sealed{Stored: v, Head: Head{Seq: seq, Sum: SumOf(k, v)}, Entry: e}
}

// Decode returns the entry stored as b.
func Decode(b []byte) (approvals.AuditEntry, error) {
	var e approvals.AuditEntry
	if err := json.Unmarshal(b, &e); err != nil {
		return e, fmt.Errorf("audit entry is damaged (%w); run `gitlab-chatops audit verify`", err)
	}
	return e, nil
}
