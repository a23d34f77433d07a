package commands

import (
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

func readAll(t *testing.T, open func() (io.Reader, error)) string {
	t.Helper()
	r, err := open()
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSpooledAttachment: the attachment comes from the spool, stdout then
// the marked stderr, its Size is what Open yields, every Open starts
// over, a replayed line is not kept twice, and the spool's bound is marked.
func TestSpooledAttachment(t *testing.T) {
	for _, tc := range []struct {
		name  string
		limit int64
		want  string
	}{
		{"whole", maxSpool, "== 1 A: migrating\n== 1 A: migrated\n\n--- stderr ---\nrake aborted!\n"},
		{"bounded", 20, "== 1 A: migrating\n\n--- output truncated here; the agent keeps the full log ---\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, err := newOutput()
			if err != nil {
				t.Fatal(err)
			}
			defer o.close()
			o.spoolLimit = tc.limit
			for _, l := range []agent.Line{
				{Seq: 1, Stream: agent.StreamStdout, Text: "== 1 A: migrating"},
				{Seq: 2, Stream: agent.StreamStderr, Text: "rake aborted!"},
				{Seq: 2, Stream: agent.StreamStderr, Text: "rake aborted!"}, // replayed after a re-attach
				{Seq: 3, Stream: agent.StreamStdout, Text: "== 1 A: migrated"},
			} {
				o.add(&l)
			}
			f, err := o.attachment("migrate.txt", "Full output of migrate")
			if err != nil {
				t.Fatal(err)
			}
			first, second := readAll(t, f.Open), readAll(t, f.Open)
			if first != tc.want || second != first {
				t.Errorf("attachment = %q then %q, want %q", first, second, tc.want)
			}
			if f.Size != int64(len(first)) {
				t.Errorf("Size %d, content %d bytes", f.Size, len(first))
			}
			if got := string(o.combined()); !strings.Contains(got, "migrated\nrake aborted!\n") || o.lines != 3 {
				t.Errorf("parsers' copy %q with %d lines", got, o.lines)
			}
		})
	}
}

// TestVerifyNeedsEveryLineInOrder: only output received whole and in
// order passes; a short read or a gap is an incompleteError (never a
// silent pass), and a changed line is a digest mismatch.
func TestVerifyNeedsEveryLineInOrder(t *testing.T) {
	lines := []agent.Line{{Seq: 1, Text: "a"}, {Seq: 2, Text: "b"}, {Seq: 3, Text: "c"}}
	d := agent.NewDigester()
	for _, l := range lines {
		d.Add(l.Stream, l.Text)
	}
	rec := agent.JobRecord{ID: "j1", Lines: 3, Digest: d.Sum()}
	for _, tc := range []struct {
		name       string
		seqs       []int // indexes of lines received, in order
		incomplete bool
	}{
		{"whole", []int{0, 1, 2}, false},
		{"short read", []int{0, 1}, true},
		{"gap", []int{0, 2}, true},
		{"nothing", nil, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := memoryOutput()
			for _, i := range tc.seqs {
				o.add(&lines[i])
			}
			err := o.verify(rec)
			if got := errors.As(err, new(*incompleteError)); got != tc.incomplete {
				t.Errorf("verify = %v, want incomplete %v", err, tc.incomplete)
			}
			if !tc.incomplete && err != nil {
				t.Errorf("verify = %v, want nil", err)
			}
		})
	}
	o := memoryOutput()
	for _, l := range []agent.Line{{Seq: 1, Text: "a"}, {Seq: 2, Text: "B"}, {Seq: 3, Text: "c"}} {
		o.add(&l)
	}
	if err := o.verify(rec); !errors.Is(err, agent.ErrDigestMismatch) {
		t.Errorf("changed line: verify = %v, want a digest mismatch", err)
	}
}
