package auditchain

import (
	"bytes"
	"context"
	"crypto/hmac"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"strconv"
	"strings"
)

// ErrBroken: Verify found the chain broken.
var ErrBroken = errors.New("audit log integrity check failed")

// BreakKind says what is wrong with an audit entry.
type BreakKind string

const (
	// BreakBadKey: a backend key is not a sequence number.
	BreakBadKey BreakKind = "bad key"
	// BreakBadEncoding: the stored bytes do not start with the chain
	// fields this format writes.
	BreakBadEncoding BreakKind = "bad encoding"
	// BreakSeqMismatch: an entry is missing, or says it has another seq
	// than the one it is stored under.
	BreakSeqMismatch BreakKind = "seq mismatch"
	// BreakPrevHash: the link between an entry and the next one does not
	// hold: one of them was changed after it was written (or written with
	// another key).
	BreakPrevHash BreakKind = "prev hash mismatch"
	// BreakHead: the last entry does not match the recorded head: the tail
	// was truncated, changed or extended behind the log's back.
	BreakHead BreakKind = "head mismatch"
	// BreakAnchor: the anchored entry (the entry at the anchor's seq; any
	// entry for an anchor without one) does not have the anchored hash, or
	// is missing: the chain was rewritten up to (at least) the anchored
	// entry, entries were removed, or the anchor is from another store or
	// key.
	BreakAnchor BreakKind = "anchor not found"
)

// Break is the first broken entry Verify found.
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

// Report is the result of Verify.
type Report struct {
	// Entries is how many entries were read.
	Entries uint64
	// Head is the head the store recorded.
	Head Head
	// AnchorSeq is the entry that has the anchored hash, at the anchor's
	// seq (0 without an anchor).
	AnchorSeq uint64
	// Break is the first broken entry; nil when the chain is intact.
	Break *Break
}

// OK reports whether the chain is intact.
func (r Report) OK() bool { return r.Break == nil }

// Reader is what Verify needs from a backend.
type Reader interface {
	// ReadAudit calls fn with every stored entry in sequence order, from
	// the first, and returns the head recorded with them, all from one
	// consistent snapshot. stored is valid only during the call. A key
	// that is not a sequence number, or a damaged head, is returned as an
	// error wrapping a *Break. An error from fn is returned unchanged.
	ReadAudit(ctx context.Context, fn func(seq uint64, stored []byte) error) (Head, error)
}

// Verify walks the chain in r and checks, for every entry: it is the next
// seq, its stored bytes start with the chain fields, its prev_hash is the
// HMAC of the previous entry's stored bytes; at the end, that the last
// entry is the recorded head; and, when anchor is given, that the entry at
// anchor.Seq has exactly the hash anchor.Sum (an anchor with Seq 0, from
// a bare HASH, is matched by any entry with that hash); the chain after it
// is then vouched for by the walk.
// It holds one entry at a time: memory does not grow with the log.
//
// It reports the FIRST broken entry in Report.Break and returns an error
// wrapping ErrBroken that names it; other errors mean the log could not be
// read. When the link between entries n and n+1 fails, the entry named is
// the one whose bytes no longer match what its successor (or the head)
// recorded: n if n+1 is itself vouched for by n+2 (or the head), otherwise
// n+1.
func Verify(ctx context.Context, r Reader, k Key, anchor *Head) (Report, error) {
	if err := k.Check(); err != nil {
		return Report{}, err
	}
	v := NewVerifier(k, anchor)
	head, err := r.ReadAudit(ctx, func(seq uint64, stored []byte) error {
		if b := v.Add(seq, stored); b != nil {
			return b
		}
		return ctx.Err()
	})
	rep := v.Report()
	var b *Break
	switch {
	case errors.As(err, &b):
		if b.Seq == 0 {
			b.Seq = v.expected // the backend cannot know which seq it is at
		}
		rep.Break = v.first(b)
	case err != nil:
		return rep, fmt.Errorf("verify audit log: %w", err)
	default:
		rep.Head = head
		rep.Break = v.End(head)
	}
	if rep.Break != nil {
		return rep, fmt.Errorf("%w: %w", ErrBroken, rep.Break)
	}
	return rep, nil
}

// Verifier checks a chain one entry at a time. Use Verify unless the
// entries do not come from a Reader.
type Verifier struct {
	mac      hash.Hash
	expected uint64 // the next seq
	prev     Sum    // Sum of entry expected-1
	entries  uint64
	anchor   *Head
	anchorAt uint64
	// suspect is set when the link into entry suspect.seq failed: whether
	// the previous entry or that one was changed is decided by the next
	// entry (or the head).
	suspect *suspect
	broken  *Break
}

type suspect struct {
	seq uint64
	sum Sum
}

// NewVerifier returns a Verifier for a chain keyed with k; anchor, when
// not nil, is the hash the entry at anchor.Seq must have (any entry, when
// anchor.Seq is 0).
func NewVerifier(k Key, anchor *Head) *Verifier {
	return &Verifier{mac: k.mac(), expected: 1, anchor: anchor}
}

// Report returns what was checked so far (without Head).
func (v *Verifier) Report() Report {
	return Report{Entries: v.entries, AnchorSeq: v.anchorAt, Break: v.broken}
}

// first returns the break already found, else the earlier of a pending
// suspect and b.
func (v *Verifier) first(b *Break) *Break {
	if v.broken != nil {
		return v.broken
	}
	if v.suspect != nil {
		v.broken = v.resolve(nil)
		return v.broken
	}
	v.broken = b
	return b
}

// Add checks the entry stored under seq. It returns the first break, once
// known; after a break, the rest of the chain need not be read.
func (v *Verifier) Add(seq uint64, stored []byte) *Break {
	if v.broken != nil {
		return v.broken
	}
	v.entries++
	if seq != v.expected {
		return v.first(&Break{Seq: v.expected, Kind: BreakSeqMismatch,
			Detail: fmt.Sprintf("entry %d is missing (the next entry stored is %d): entries were removed", v.expected, seq)})
	}
	fieldSeq, prevHex, ok := chainFields(stored)
	if !ok {
		return v.first(&Break{Seq: seq, Kind: BreakBadEncoding, Detail: "the stored bytes do not start with the seq and prev_hash fields: the entry was changed, or written by an older gitlab-chatops"})
	}
	if fieldSeq != seq {
		return v.first(&Break{Seq: seq, Kind: BreakSeqMismatch, Detail: fmt.Sprintf("the entry stored under %d says it is entry %d: entries were moved or changed", seq, fieldSeq)})
	}
	var sum Sum
	v.mac.Reset()
	v.mac.Write(stored)
	v.mac.Sum(sum[:0])

	var link Sum
	linked := false
	if len(prevHex) == 2*len(link) {
		_, err := hex.Decode(link[:], prevHex)
		linked = err == nil
	}
	if v.suspect != nil {
		// The link into entry seq-1 failed; this entry says what seq-1's
		// bytes were when it was written.
		v.broken = v.resolve(func() bool { return linked && hmac.Equal(link[:], v.suspect.sum[:]) })
		return v.broken
	}
	switch {
	case seq == 1 && prevHex != nil:
		v.broken = &Break{Seq: 1, Kind: BreakPrevHash, Detail: "the first entry has a prev_hash: entries before it were removed, or it was changed"}
		return v.broken
	case seq > 1 && !(linked && hmac.Equal(link[:], v.prev[:])):
		v.suspect = &suspect{seq: seq, sum: sum}
	}
	if v.anchor != nil && v.anchorAt == 0 && (v.anchor.Seq == 0 || v.anchor.Seq == seq) && hmac.Equal(sum[:], v.anchor.Sum[:]) {
		v.anchorAt = seq
	}
	v.prev = sum
	v.expected++
	return nil
}

// resolve names the entry behind a failed link into v.suspect.seq; vouched
// reports whether the suspect's own bytes are what its successor recorded.
func (v *Verifier) resolve(vouched func() bool) *Break {
	s := v.suspect.seq
	if vouched != nil && vouched() {
		return &Break{Seq: s - 1, Kind: BreakPrevHash,
			Detail: fmt.Sprintf("entry %d was changed after it was written: its hash no longer matches the prev_hash recorded in entry %d", s-1, s)}
	}
	return &Break{Seq: s, Kind: BreakPrevHash,
		Detail: fmt.Sprintf("entry %d was changed after it was written: its prev_hash does not match entry %d and its own hash does not match what the next entry recorded (entry %d may be changed too)", s, s-1, s-1)}
}

// End checks the chain read so far against the recorded head (and the
// anchor) and returns the first break.
func (v *Verifier) End(head Head) *Break {
	if v.broken != nil {
		return v.broken
	}
	if v.suspect != nil {
		v.broken = v.resolve(func() bool { return head.Seq == v.suspect.seq && hmac.Equal(head.Sum[:], v.suspect.sum[:]) })
		return v.broken
	}
	last := v.expected - 1
	switch {
	case last == 0 && head.Seq == 0:
	case head.Seq == 0:
		v.broken = &Break{Seq: last, Kind: BreakHead, Detail: "the audit head is missing although entries exist: the store was changed"}
	case head.Seq > last:
		v.broken = &Break{Seq: last + 1, Kind: BreakHead,
			Detail: fmt.Sprintf("entries %d to %d recorded by the audit head are missing: the end of the log was removed", last+1, head.Seq)}
	case head.Seq < last:
		v.broken = &Break{Seq: head.Seq + 1, Kind: BreakHead,
			Detail: fmt.Sprintf("entries after %d were added without updating the audit head: they were not written by gitlab-chatops", head.Seq)}
	case !hmac.Equal(v.prev[:], head.Sum[:]):
		v.broken = &Break{Seq: last, Kind: BreakHead,
			Detail: fmt.Sprintf("entry %d, the last one, was changed after it was written: its hash does not match the audit head", last)}
	}
	if v.broken == nil && v.anchor != nil && v.anchorAt == 0 {
		switch a := v.anchor; {
		case a.Seq == 0 && a.Sum == (Sum{}):
			// The empty trail: every trail extends it.
		case a.Seq == 0:
			v.broken = &Break{Seq: 0, Kind: BreakAnchor,
				Detail: fmt.Sprintf("no entry has the anchored hash %s: the log was rewritten up to the anchored entry, or the anchor belongs to another store or key", a.Sum.Hex())}
		case a.Seq > last:
			v.broken = &Break{Seq: a.Seq, Kind: BreakAnchor,
				Detail: fmt.Sprintf("the anchor names entry %d but the log ends at entry %d: entries were removed, or the anchor belongs to another store", a.Seq, last)}
		default:
			v.broken = &Break{Seq: a.Seq, Kind: BreakAnchor,
				Detail: fmt.Sprintf("entry %d does not have the anchored hash %s: the log was rewritten up to it after the anchor was posted, or the anchor belongs to another store or key", a.Seq, a.Sum.Hex())}
		}
	}
	return v.broken
}

var (
	seqPrefix  = []byte(`{"seq":`)
	prevPrefix = []byte(`,"prev_hash":"`)
)

// chainFields reads seq and prev_hash from their fixed places at the start
// of stored bytes (see the package doc); prevHex is nil when there is no
// prev_hash.
func chainFields(b []byte) (seq uint64, prevHex []byte, ok bool) {
	if !bytes.HasPrefix(b, seqPrefix) {
		return 0, nil, false
	}
	b = b[len(seqPrefix):]
	i := 0
	for i < len(b) && i < 20 && b[i] >= '0' && b[i] <= '9' {
		i++
	}
	if i == 0 || i == len(b) || b[i] != ',' {
		return 0, nil, false
	}
	seq, err := strconv.ParseUint(string(b[:i]), 10, 64)
	if err != nil {
		return 0, nil, false
	}
	b = b[i:]
	if !bytes.HasPrefix(b, prevPrefix) {
		return seq, nil, true
	}
	b = b[len(prevPrefix):]
	end := bytes.IndexByte(b, '"')
	if end < 0 {
		return 0, nil, false
	}
	return seq, b[:end], true
}

// ParseAnchor reads an anchor as posted: "SEQ:HEX" (the entry at SEQ must
// have that hash; "0:" and zeros is the empty trail, anchored before the
// first entry, which every trail extends) or just the hex HMAC (Seq 0:
// any entry may have it).
func ParseAnchor(s string) (Head, error) {
	var h Head
	hexPart := s
	if i := strings.IndexByte(s, ':'); i >= 0 {
		seq, err := strconv.ParseUint(s[:i], 10, 64)
		if err != nil {
			return h, fmt.Errorf("anchor %q: %q is not an entry number (as posted to the audit channel: SEQ:HASH or HASH)", s, s[:i])
		}
		h.Seq, hexPart = seq, s[i+1:]
	}
	b, err := hex.DecodeString(hexPart)
	if err != nil || len(b) != len(h.Sum) {
		return h, fmt.Errorf("anchor %q: %q is not a %d-character hex hash (as posted to the audit channel: SEQ:HASH or HASH)", s, hexPart, 2*len(h.Sum))
	}
	copy(h.Sum[:], b)
	if h.Seq == 0 && strings.Contains(s, ":") && h.Sum != (Sum{}) {
		return h, fmt.Errorf("anchor %q: entry 0 is the empty trail, whose hash is all zeros; use the SEQ:HASH posted to the audit channel", s)
	}
	return h, nil
}
