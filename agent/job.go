package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// job is one running (or just finished) execution.
//
// Locking: mu guards the record, the digest, the log and the subscriber set.
// fanMu serialises delivery to subscribers and is always taken before mu.
// Assigning a Seq, logging the line and taking the list of subscribers
// happen together under mu, so a subscriber registered under mu at Seq S
// receives exactly the lines after S: nothing lost, nothing twice. Delivery
// happens outside mu (under fanMu, which keeps Seq order) so that a slow
// client holds back the job's output but never a GET or a new subscriber.
type job struct {
	id  string
	dir string
	op  gitlab.Operation
	log *slog.Logger

	// ctx is cancelled, with a *stopCause, to stop the job.
	ctx    context.Context
	cancel context.CancelCauseFunc

	fanMu  sync.Mutex
	fanBuf []*subscriber // reused under fanMu

	mu       sync.Mutex
	rec      JobRecord // live record; rec.Tail is kept in tail instead
	digest   *Digester
	tail     []Line // ring of the last HeadTailLines lines
	tailNext int
	out      *outputLog
	subs     map[*subscriber]struct{}
	finished bool
	final    JobRecord // set when finished

	done chan struct{} // closed once the final record is persisted
}

// stopCause says why the agent stopped a job and which state that yields.
type stopCause struct {
	state string
	msg   string
}

func (c *stopCause) Error() string { return c.msg }

// liveLine is what subscribers receive: the Seq and the encoded Line,
// shared read-only by all of them.
type liveLine struct {
	seq int64
	enc []byte
}

// subscriberBuffer is how many lines a live client may lag behind before it
// holds the job back: enough to absorb bursts, small enough to bound memory
// (each line is at most a few hundred KiB encoded, usually far less).
const subscriberBuffer = 256

type subscriber struct {
	ch       chan liveLine // closed by finish after the last line
	gone     chan struct{} // closed by unsubscribe
	goneOnce sync.Once
}

func (s *subscriber) deliver(l liveLine) {
	select {
	case s.ch <- l:
	case <-s.gone:
	}
}

// jobLogger is log with the job's ID and, when it has one, its request's.
func jobLogger(log *slog.Logger, id, requestID string) *slog.Logger {
	if requestID != "" {
		return log.With("job_id", id, "request_id", requestID)
	}
	return log.With("job_id", id)
}

func newJob(parent context.Context, id, dir string, op gitlab.Operation, rec JobRecord, out *outputLog, log *slog.Logger) *job {
	ctx, cancel := context.WithCancelCause(parent)
	rec.Head = []Line{}
	return &job{
		// Every line of the job names it (and its request, for a mutating
		// one): the logger is derived once, here.
		id: id, dir: dir, op: op, log: jobLogger(log, id, rec.RequestID),
		ctx: ctx, cancel: cancel,
		rec:    rec,
		digest: NewDigester(),
		tail:   make([]Line, 0, HeadTailLines),
		out:    out,
		subs:   map[*subscriber]struct{}{},
		done:   make(chan struct{}),
	}
}

// appendLine numbers one line of output, accounts for it and hands it to
// the log and every subscriber. raw is the number of bytes the program wrote
// for it, newline included.
func (j *job) appendLine(stream, text string, raw int64) {
	now := time.Now().UTC()
	j.fanMu.Lock()
	defer j.fanMu.Unlock()

	j.mu.Lock()
	seq := j.rec.Lines + 1
	line := Line{Seq: seq, Stream: stream, Time: now, Text: text}
	enc, err := json.Marshal(line)
	if err != nil {
		// Unreachable: a Line of valid UTF-8 always encodes. Keep the count
		// honest anyway.
		j.log.Error("encode output line", "err", err)
		enc = []byte(`{"seq":` + strconv.FormatInt(seq, 10) + `,"stream":"` + stream + `","text":""}`)
	}
	j.rec.Lines = seq
	j.rec.Bytes += raw
	j.digest.Add(stream, text)
	if len(j.rec.Head) < HeadTailLines {
		j.rec.Head = append(j.rec.Head, line)
	}
	if len(j.tail) < HeadTailLines {
		j.tail = append(j.tail, line)
	} else {
		j.tail[j.tailNext] = line
		j.tailNext = (j.tailNext + 1) % HeadTailLines
	}
	j.out.append(enc, seq)
	subs := j.fanBuf[:0]
	for s := range j.subs {
		subs = append(subs, s)
	}
	j.fanBuf = subs
	j.mu.Unlock()

	for _, s := range subs {
		s.deliver(liveLine{seq: seq, enc: enc})
	}
	clear(subs) // do not keep gone subscribers reachable
}

// flushLog writes the log's buffer to the file.
func (j *job) flushLog() {
	j.mu.Lock()
	j.out.flush()
	j.mu.Unlock()
}

// orderedTail returns the tail ring oldest first. Call with mu held.
func (j *job) orderedTail() []Line {
	t := make([]Line, 0, len(j.tail))
	t = append(t, j.tail[j.tailNext:]...)
	return append(t, j.tail[:j.tailNext]...)
}

// snapshot returns a copy of the current record. Call with mu held.
func (j *job) snapshotLocked() JobRecord {
	if j.finished {
		return j.final
	}
	r := j.rec
	r.Head = slices.Clone(j.rec.Head)
	r.Tail = j.orderedTail()
	r.Digest = j.digest.Sum()
	r.LogTruncated = j.out.truncated
	r.DurationMS = time.Since(r.Started).Milliseconds()
	return r
}

// record returns the current (or final) record.
func (j *job) record() JobRecord {
	j.mu.Lock()
	defer j.mu.Unlock()
	return j.snapshotLocked()
}

// summary returns the job's summary.
func (j *job) summary() JobSummary {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.finished {
		return j.final.Summary()
	}
	return j.rec.Summary()
}

// persist writes the current record to disk, making the log readable up to
// it first so that record and log agree after a crash.
func (j *job) persist() {
	j.mu.Lock()
	if j.finished {
		j.mu.Unlock()
		return
	}
	j.out.flush()
	rec := j.snapshotLocked()
	j.mu.Unlock()
	if err := writeRecord(j.dir, rec); err != nil {
		j.log.Error("persist job record", "err", err)
	}
}

// subscription is what subscribe returns: the lines to replay from the log
// (Seq from..upto, then whatever of tail follows the log), and either a live
// subscriber or, for a finished job, the final record.
type subscription struct {
	sub    *subscriber // nil when the job had finished
	upto   int64       // last Seq to replay; live lines follow it
	tail   []Line
	record JobRecord // a snapshot at subscription, or the final record
}

// subscribe registers a live subscriber for the lines after the current
// Seq, or reports that the job has finished.
func (j *job) subscribe() subscription {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.finished {
		return subscription{upto: j.final.Lines, tail: j.final.Tail, record: j.final}
	}
	j.out.flush() // the replay reads the file up to upto
	rec := j.snapshotLocked()
	s := &subscriber{ch: make(chan liveLine, subscriberBuffer), gone: make(chan struct{})}
	j.subs[s] = struct{}{}
	return subscription{sub: s, upto: rec.Lines, tail: rec.Tail, record: rec}
}

// unsubscribe detaches s; a delivery blocked on it returns at once.
func (j *job) unsubscribe(s *subscriber) {
	if s == nil {
		return
	}
	s.goneOnce.Do(func() { close(s.gone) })
	j.mu.Lock()
	delete(j.subs, s)
	j.mu.Unlock()
}

// finish completes the record, persists it and ends every subscription.
// All output must have been appended before.
func (j *job) finish(state string, exitCode *int, errText string) JobRecord {
	j.fanMu.Lock()
	defer j.fanMu.Unlock()

	j.mu.Lock()
	logErr := j.out.close()
	rec := j.snapshotLocked()
	rec.State = state
	rec.ExitCode = exitCode
	rec.Ended = time.Now().UTC()
	rec.DurationMS = rec.Ended.Sub(rec.Started).Milliseconds()
	rec.Error = errText
	rec.LogTruncated = j.out.truncated
	if logErr != nil {
		j.log.Error("output log incomplete", "err", logErr)
	}
	j.final = rec
	j.finished = true
	subs := make([]*subscriber, 0, len(j.subs))
	for s := range j.subs {
		subs = append(subs, s)
	}
	j.subs = nil
	j.mu.Unlock()

	// Persist before ending the streams: a client that saw the end event
	// can rely on the record being on disk.
	if err := writeRecord(j.dir, rec); err != nil {
		j.log.Error("persist final job record", "err", err)
	}
	for _, s := range subs {
		close(s.ch)
	}
	j.cancel(nil) // release the context's resources
	close(j.done)
	return rec
}

// stop asks the runner to stop the job; the first cause wins.
func (j *job) stop(cause *stopCause) {
	j.cancel(cause)
}

func (j *job) logPath() string { return filepath.Join(j.dir, outputLogName) }
