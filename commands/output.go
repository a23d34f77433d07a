package commands

import (
	"bytes"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// maxKeptOutput bounds how much of one stream the bot keeps in memory to
// parse and attach. GitLab's outputs are far smaller; a runaway job's full
// log stays on the agent.
const maxKeptOutput = 8 << 20

// output collects a job's lines as they stream, bounded, with what the
// progress message needs.
type output struct {
	stdout, stderr bytes.Buffer
	truncated      bool
	lines          int64
	lastSeq        int64
	lastLine       string
	lastEvent      time.Time
}

func (o *output) add(l *agent.Line) {
	if l.Seq <= o.lastSeq {
		return // a replay after re-attaching: already kept
	}
	o.lastSeq = l.Seq
	o.lines++
	if l.Text != "" {
		o.lastLine = l.Text
	}
	buf := &o.stdout
	if l.Stream == agent.StreamStderr {
		buf = &o.stderr
	}
	if buf.Len()+len(l.Text)+1 > maxKeptOutput {
		o.truncated = true
		return
	}
	buf.WriteString(l.Text)
	buf.WriteByte('\n')
}

// combined is what the parsers read: stdout, then stderr. The parsers
// accept either order; keeping the streams apart until here means a
// "rake aborted!" block never lands inside a migration line.
func (o *output) combined() []byte {
	b := make([]byte, 0, o.stdout.Len()+o.stderr.Len())
	b = append(b, o.stdout.Bytes()...)
	return append(b, o.stderr.Bytes()...)
}

// stdoutBytes is what gitlab-ctl's parsers read: gitlab-ctl prints
// everything on stdout, and anything on stderr (a warning, a simulator
// banner) is not a service line.
func (o *output) stdoutBytes() []byte { return o.stdout.Bytes() }

// transcript is the attachment: both streams, stderr marked.
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
