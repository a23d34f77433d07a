package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
)

// The output log is jobs/<id>/output.ndjson: one JSON-encoded Line per line,
// in Seq order, exactly the bytes that live subscribers receive. It is
// bounded by max_log_bytes: the line that would cross the bound is replaced
// by one truncation marker and nothing more is written. The job's record
// still counts and digests every line; replays stop at the marker and then
// continue with the record's Tail.

const outputLogName = "output.ndjson"

// truncationMarker is the last entry of a truncated log. Its first key is
// not "seq", which is how readers tell it from a Line cheaply.
type truncationMarker struct {
	Truncated   bool   `json:"truncated"`
	AfterSeq    int64  `json:"after_seq"`
	MaxLogBytes int64  `json:"max_log_bytes"`
	Reason      string `json:"reason"`
}

// outputLog appends encoded lines. It is not safe for concurrent use: the
// job calls it under its lock, which also keeps file order = Seq order.
type outputLog struct {
	f         *os.File
	w         *bufio.Writer
	max       int64
	written   int64
	lastSeq   int64 // last Seq written to the file
	truncated bool
	closed    bool
	err       error // first write error; the log stops there
}

func createOutputLog(path string, max int64) (*outputLog, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return nil, fmt.Errorf("create output log: %w", err)
	}
	return &outputLog{f: f, w: bufio.NewWriterSize(f, 64*1024), max: max}, nil
}

// append writes one encoded line (without newline). Errors are kept, not
// returned: a full disk must not kill a running migration; the log is then
// marked truncated and the record says so.
func (l *outputLog) append(enc []byte, seq int64) {
	if l.truncated || l.err != nil || l.closed {
		return
	}
	n := int64(len(enc)) + 1
	if l.written+n > l.max {
		l.truncate(fmt.Sprintf("output log reached max_log_bytes (%d bytes); later lines are counted and digested but not stored", l.max))
		return
	}
	l.w.Write(enc)
	if err := l.w.WriteByte('\n'); err != nil {
		l.fail(err)
		return
	}
	l.written += n
	l.lastSeq = seq
}

func (l *outputLog) truncate(reason string) {
	l.truncated = true
	m, _ := json.Marshal(truncationMarker{Truncated: true, AfterSeq: l.lastSeq, MaxLogBytes: l.max, Reason: reason})
	l.w.Write(m)
	if err := l.w.WriteByte('\n'); err != nil {
		l.fail(err)
	}
}

func (l *outputLog) fail(err error) {
	if l.err == nil {
		l.err = fmt.Errorf("write output log: %w", err)
		l.truncated = true
	}
}

// flush makes everything appended so far readable by replays.
func (l *outputLog) flush() {
	if l.err != nil || l.closed {
		return
	}
	if err := l.w.Flush(); err != nil {
		l.fail(err)
	}
}

// close flushes, syncs and closes the file.
func (l *outputLog) close() error {
	if l.closed {
		return l.err
	}
	l.flush()
	l.closed = true
	if l.err == nil {
		if err := l.f.Sync(); err != nil {
			l.fail(err)
		}
	}
	if err := l.f.Close(); err != nil && l.err == nil {
		l.fail(err)
	}
	return l.err
}

// maxEncodedLine bounds one encoded line in the log: MaxLineBytes of text
// where every byte may need a six-byte \u escape, plus the other fields.
const maxEncodedLine = 6*MaxLineBytes + 1024

var seqPrefix = []byte(`{"seq":`)

// logReader reads entries of an output log.
type logReader struct {
	r   *bufio.Reader
	buf []byte
}

func newLogReader(r io.Reader) *logReader {
	return &logReader{r: bufio.NewReaderSize(r, 64*1024)}
}

// next returns the next encoded line and its Seq. At a truncation marker or
// at the end of the data it returns io.EOF; a line cut short (the agent was
// killed mid-write) also ends the log. The returned slice is valid until the
// next call.
func (lr *logReader) next() ([]byte, int64, error) {
	lr.buf = lr.buf[:0]
	for {
		chunk, err := lr.r.ReadSlice('\n')
		lr.buf = append(lr.buf, chunk...)
		if errors.Is(err, bufio.ErrBufferFull) {
			if len(lr.buf) > maxEncodedLine {
				return nil, 0, fmt.Errorf("output log: an entry is longer than %d bytes", maxEncodedLine)
			}
			continue
		}
		if errors.Is(err, io.EOF) {
			return nil, 0, io.EOF // a partial last line is not a line
		}
		if err != nil {
			return nil, 0, fmt.Errorf("read output log: %w", err)
		}
		break
	}
	entry := lr.buf[:len(lr.buf)-1]
	seq, ok := parseSeq(entry)
	if !ok {
		return nil, 0, io.EOF // the truncation marker
	}
	return entry, seq, nil
}

// parseSeq reads the Seq of an encoded Line without decoding all of it:
// encoding/json writes struct fields in declaration order, Seq first.
func parseSeq(entry []byte) (int64, bool) {
	if !bytes.HasPrefix(entry, seqPrefix) {
		return 0, false
	}
	rest := entry[len(seqPrefix):]
	end := bytes.IndexByte(rest, ',')
	if end < 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(string(rest[:end]), 10, 64)
	return n, err == nil
}

// replayLog calls emit for every logged line with from <= Seq <= upto (upto
// < 0: no upper bound), in order, and returns the last Seq it read from the
// log (emitted or not). A missing log is an empty one.
func replayLog(path string, from, upto int64, emit func(enc []byte, seq int64) error) (int64, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("open output log: %w", err)
	}
	defer f.Close()
	lr := newLogReader(f)
	var last int64
	for {
		enc, seq, err := lr.next()
		if errors.Is(err, io.EOF) {
			return last, nil
		}
		if err != nil {
			return last, err
		}
		if upto >= 0 && seq > upto {
			return last, nil
		}
		last = seq
		if seq < from {
			continue
		}
		if err := emit(enc, seq); err != nil {
			return last, err
		}
	}
}
