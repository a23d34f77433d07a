package commands

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// maxKeptOutput bounds how much of one stream the bot keeps in memory for
// the parsers. GitLab's outputs are far smaller; beyond it the parsers see
// the start, and the attachment (from the spool) has more.
const maxKeptOutput = 8 << 20

// maxSpool bounds the attachment: how much of a job's output (both
// streams together) the bot writes to its spool. A runaway job's full log
// stays on the agent.
const maxSpool = 256 << 20

// output collects a job's lines as they stream: bounded in memory for the
// parsers, the full text (bounded) in a spool of two unlinked temporary
// files for the attachment, and the digest of everything received in
// order, to check against the agent's record.
//
// Invariant: a line is taken once, in Seq order; replays after a re-attach
// (Seq <= lastSeq) are ignored.
type output struct {
	stdout, stderr bytes.Buffer
	truncated      bool
	lines          int64
	lastSeq        int64
	lastLine       string

	spool          [2]spoolFile // stdout, stderr
	spoolLimit     int64        // maxSpool; smaller in tests
	spooled        int64
	spoolTruncated bool
	spoolErr       error

	digest  *agent.Digester
	inOrder bool // every line from 1 on, without a gap
}

// spoolFile is an unlinked temporary file: nothing is left behind if the
// bot dies, and the space is freed when it is closed.
type spoolFile struct {
	f *os.File
	w *bufio.Writer
}

func newOutput() (*output, error) {
	o := &output{digest: agent.NewDigester(), inOrder: true, spoolLimit: maxSpool}
	for i := range o.spool {
		f, err := os.CreateTemp("", "gitlab-chatops-output-*")
		if err != nil {
			o.close()
			return nil, fmt.Errorf("creating the output spool: %w", err)
		}
		if err := os.Remove(f.Name()); err != nil {
			f.Close()
			o.close()
			return nil, fmt.Errorf("unlinking the output spool: %w", err)
		}
		o.spool[i] = spoolFile{f: f, w: bufio.NewWriterSize(f, 64<<10)}
	}
	return o, nil
}

// memoryOutput is an output without a spool: the attachment is built from
// the bounded in-memory copy.
func memoryOutput() *output { return &output{digest: agent.NewDigester(), inOrder: true} }

func (o *output) add(l *agent.Line) {
	if l.Seq <= o.lastSeq {
		return // a replay after re-attaching: already kept
	}
	if l.Seq != o.lastSeq+1 {
		o.inOrder = false // the agent's log was truncated: a gap
	}
	o.lastSeq = l.Seq
	o.lines++
	if o.inOrder {
		o.digest.Add(l.Stream, l.Text)
	}
	if l.Text != "" {
		o.lastLine = l.Text
	}
	i, buf := 0, &o.stdout
	if l.Stream == agent.StreamStderr {
		i, buf = 1, &o.stderr
	}
	if buf.Len()+len(l.Text)+1 > maxKeptOutput {
		o.truncated = true
	} else {
		buf.WriteString(l.Text)
		buf.WriteByte('\n')
	}
	o.spoolLine(i, l.Text)
}

func (o *output) spoolLine(i int, text string) {
	s := o.spool[i]
	if s.f == nil || o.spoolErr != nil || o.spoolTruncated {
		return
	}
	if o.spooled+int64(len(text))+1 > o.spoolLimit {
		o.spoolTruncated = true
		return
	}
	if _, err := s.w.WriteString(text); err != nil {
		o.spoolErr = err
		return
	}
	if err := s.w.WriteByte('\n'); err != nil {
		o.spoolErr = err
		return
	}
	o.spooled += int64(len(text)) + 1
}

// verify checks the digest of the lines received against the agent's
// record. Output the bot did not receive whole and in order cannot be
// checked: that is an *incompleteError, never a silent pass.
func (o *output) verify(rec agent.JobRecord) error {
	if rec.Digest == "" {
		return nil // a record without a digest: nothing to check against
	}
	if !o.inOrder || o.lastSeq != rec.Lines || o.lines != rec.Lines {
		return &incompleteError{job: rec.ID, received: o.lines, want: rec.Lines, gap: !o.inOrder}
	}
	if got := o.digest.Sum(); got != rec.Digest {
		return fmt.Errorf("%w: job %s: the %d lines received digest to %s, the agent recorded %s",
			agent.ErrDigestMismatch, rec.ID, rec.Lines, got, rec.Digest)
	}
	return nil
}

// incompleteError: the bot did not receive every line of a job, in order
// (the agent's log was truncated before a re-attach, or the stream ended
// short), so the output is not verified against the agent's digest. The
// job's end record still holds; what was read from the output does not.
type incompleteError struct {
	job            string
	received, want int64
	gap            bool // lines were missing in the middle, not only at the end
}

func (e *incompleteError) Error() string {
	how := "the stream ended early"
	if e.gap {
		how = "lines were missing in between"
	}
	return fmt.Sprintf("the output of job %s is incomplete: the bot received %d of its %d lines (%s), so it is not verified against the agent's digest", e.job, e.received, e.want, how)
}

// sentence is the incompleteness said to people: what is missing and
// where the whole output is.
func (e *incompleteError) sentence() string {
	return fmt.Sprintf("Output incomplete: I received %d of the job's %d lines, so the output is not verified against the agent's digest; the full output is in the agent's job log (%s).", e.received, e.want, e.job)
}

// combined is what the parsers read: stdout, then stderr. The parsers
// accept either order; keeping the streams apart until here means a
// "rake aborted!" block never lands inside a migration line.
func (o *output) combined() []byte {
	b := make([]byte, 0, o.stdout.Len()+o.stderr.Len())
	b = append(b, o.stdout.Bytes()...)
	return append(b, o.stderr.Bytes()...)
}

// stdoutBytes is what the parsers of a gitlab.StdoutOnly operation read
// (output.parsed): gitlab-ctl prints everything on stdout, and anything on
// stderr (a warning, a simulator banner) is not a service line.
func (o *output) stdoutBytes() []byte { return o.stdout.Bytes() }

// attachment is the full output as a file read from the spool: both
// streams, stderr marked. Each Open reads it anew from the start.
func (o *output) attachment(name, title string) (bot.File, error) {
	if o.spool[0].f == nil {
		return bot.BytesFile(name, title, o.transcript()), nil
	}
	if o.spoolErr != nil {
		return bot.File{}, fmt.Errorf("writing the output spool: %w", o.spoolErr)
	}
	var sizes [2]int64
	for i, s := range o.spool {
		if err := s.w.Flush(); err != nil {
			return bot.File{}, fmt.Errorf("writing the output spool: %w", err)
		}
		fi, err := s.f.Stat()
		if err != nil {
			return bot.File{}, fmt.Errorf("reading the output spool: %w", err)
		}
		sizes[i] = fi.Size()
	}
	const stderrMark = "\n--- stderr ---\n"
	const truncMark = "\n--- output truncated here; the agent keeps the full log ---\n"
	size := sizes[0] + sizes[1]
	if sizes[1] > 0 {
		size += int64(len(stderrMark))
	}
	if o.spoolTruncated {
		size += int64(len(truncMark))
	}
	stdout, stderr := o.spool[0].f, o.spool[1].f
	open := func() (io.Reader, error) {
		parts := []io.Reader{io.NewSectionReader(stdout, 0, sizes[0])}
		if sizes[1] > 0 {
			parts = append(parts, strings.NewReader(stderrMark), io.NewSectionReader(stderr, 0, sizes[1]))
		}
		if o.spoolTruncated {
			parts = append(parts, strings.NewReader(truncMark))
		}
		return io.MultiReader(parts...), nil
	}
	return bot.File{Name: name, Title: title, Size: size, Open: open}, nil
}

// transcript is the in-memory attachment of an output without a spool.
func (o *output) transcript() []byte {
	var b bytes.Buffer
	b.Write(o.stdout.Bytes())
	if o.stderr.Len() > 0 {
		b.WriteString("\n--- stderr ---\n")
		b.Write(o.stderr.Bytes())
	}
	if o.truncated {
		b.WriteString("\n--- output truncated here; the agent keeps the full log ---\n")
	}
	return b.Bytes()
}

// close frees the spool. Safe to call more than once.
func (o *output) close() {
	if o == nil {
		return
	}
	for i := range o.spool {
		if o.spool[i].f != nil {
			o.spool[i].f.Close()
			o.spool[i] = spoolFile{}
		}
	}
}
