package main

import (
	"bufio"
	binenc "encoding/binary"
	"fmt"
	"io"
	"time"
)

// The admin socket's protocol: one request per connection. The client
// writes an adminRequest as one JSON line; the bot answers with frames
// (a type byte, the payload's length as a uvarint, the payload) and ends
// with exactly one of frameHead, frameBreak, frameError or frameDone. The
// answer is streamed: neither side holds more than one frame (and the
// bot one storage chunk), whatever the length of the trail.
const (
	frameEntry = 'e' // 8-byte big-endian seq, then the entry's stored bytes
	frameData  = 'd' // bytes of `audit export` output, unchanged
	frameHead  = 'h' // the head recorded with the entries (auditchain.Head.Encode); ends a read
	frameBreak = 'b' // JSON auditchain.Break the store reported (bad key, damaged head); ends a read
	frameError = 'x' // the error text the bot's store returned; ends any answer
	frameDone  = 'z' // the end of an export or a page
)

// Admin operations: the three ways the audit commands read the store.
const (
	adminRead   = "read"   // every entry and the head, one snapshot (audit verify)
	adminExport = "export" // ExportAudit's output (audit export)
	adminPage   = "page"   // AuditPage's entries (audit tail)
)

// maxAdminFrame bounds a frame's payload, so a damaged stream cannot make
// the client allocate without limit. An entry is far smaller.
const maxAdminFrame = 16 << 20

// maxAdminRequest bounds the request line.
const maxAdminRequest = 4096

// adminRequest is what the CLI asks the running bot.
type adminRequest struct {
	Op     string    `json:"op"`
	Since  time.Time `json:"since,omitzero"`
	Before uint64    `json:"before,omitempty"`
	N      int       `json:"n,omitempty"`
}

// writeFrame writes one frame to w.
func writeFrame(w io.Writer, typ byte, payload ...[]byte) error {
	n := 0
	for _, p := range payload {
		n += len(p)
	}
	hdr := binenc.AppendUvarint([]byte{typ}, uint64(n))
	if _, err := w.Write(hdr); err != nil {
		return err
	}
	for _, p := range payload {
		if _, err := w.Write(p); err != nil {
			return err
		}
	}
	return nil
}

// frameReader reads frames; the payload it returns is valid until the
// next call.
type frameReader struct {
	r   *bufio.Reader
	buf []byte
}

func (f *frameReader) next() (byte, []byte, error) {
	typ, err := f.r.ReadByte()
	if err != nil {
		return 0, nil, err
	}
	n, err := binenc.ReadUvarint(f.r)
	if err != nil {
		return 0, nil, fmt.Errorf("frame length: %w", err)
	}
	if n > maxAdminFrame {
		return 0, nil, fmt.Errorf("a frame of %d bytes, more than the %d allowed", n, maxAdminFrame)
	}
	if uint64(cap(f.buf)) < n {
		f.buf = make([]byte, n)
	}
	f.buf = f.buf[:n]
	if _, err := io.ReadFull(f.r, f.buf); err != nil {
		return 0, nil, fmt.Errorf("frame payload: %w", err)
	}
	return typ, f.buf, nil
}
