package agent

import (
	"crypto/sha256"
	"encoding/hex"
	"hash"
)

// The output digest lets the bot prove that what it showed and archived is
// what the program printed, line for line:
//
//	digest = "sha256:" + hex(SHA-256( for each line in Seq order:
//	             ("o " if Stream is stdout, "e " if stderr) + Text + "\n" ))
//
// Text is the line as transmitted (valid UTF-8, no newline). A job without
// output has the digest of the empty input. The definition does not depend
// on timestamps or on the on-disk log, so a client that received every line
// recomputes it exactly.

// Digester computes the output digest incrementally. The zero value is not
// usable; call NewDigester.
type Digester struct {
	h hash.Hash
}

// NewDigester returns a Digester over no lines yet.
func NewDigester() *Digester { return &Digester{h: sha256.New()} }

// Add feeds the next line, which must follow the previous one in Seq order.
func (d *Digester) Add(stream, text string) {
	if stream == StreamStderr {
		d.h.Write([]byte("e "))
	} else {
		d.h.Write([]byte("o "))
	}
	d.h.Write([]byte(text))
	d.h.Write([]byte{'\n'})
}

// Sum returns the digest of the lines added so far; Add may continue after.
func (d *Digester) Sum() string {
	return "sha256:" + hex.EncodeToString(d.h.Sum(nil))
}

// DigestLines returns the digest of lines, which must be every line of a job
// in Seq order.
func DigestLines(lines []Line) string {
	d := NewDigester()
	for _, l := range lines {
		d.Add(l.Stream, l.Text)
	}
	return d.Sum()
}
