package agent

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"time"
)

// Layout of state_dir:
//
//	jobs/<id>/record.json    the JobRecord, replaced atomically
//	jobs/<id>/output.ndjson  the output log (see outputlog.go)
//	requests.log             one JSON line per HTTP request
const (
	jobsDirName     = "jobs"
	recordName      = "record.json"
	requestsLogName = "requests.log"
)

// jobIDRE is what a job ID looks like; anything else in a URL is refused
// before it comes near a file path.
var jobIDRE = regexp.MustCompile(`^[0-9]{8}T[0-9]{6}Z-[0-9a-f]{8}$`)

// newJobID returns a new ID that sorts by start time (to the second) and
// is unique thanks to 32 random bits.
func newJobID(now time.Time) (string, error) {
	var b [4]byte
	if _, err := rand.Read(b[:]); err != nil {
		return "", fmt.Errorf("job id: %w", err)
	}
	return now.UTC().Format("20060102T150405Z") + "-" + hex.EncodeToString(b[:]), nil
}

// writeRecord replaces dir/record.json atomically: a reader (or a restart)
// sees the old record or the new one, never a mix.
func writeRecord(dir string, rec JobRecord) error {
	data, err := json.MarshalIndent(rec, "", "  ")
	if err != nil {
		return fmt.Errorf("encode record: %w", err)
	}
	if err := replaceFile(filepath.Join(dir, recordName), append(data, '\n')); err != nil {
		return fmt.Errorf("record: %w", err)
	}
	return nil
}

// replaceFile replaces path with data (mode 0600) atomically and durably:
// written to a temporary file in the same directory, synced, renamed over
// path, and the directory synced, so that after a crash path holds the old
// contents or the new ones, and a file opened at path afterwards is the
// one the directory keeps.
func replaceFile(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+"-*.tmp")
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	defer os.Remove(tmp.Name()) // fails harmlessly once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write: %w", err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("replace: %w", err)
	}
	return syncDir(dir)
}

// syncDir makes a rename in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

func readRecord(dir string) (JobRecord, error) {
	data, err := os.ReadFile(filepath.Join(dir, recordName))
	if err != nil {
		return JobRecord{}, fmt.Errorf("read record: %w", err)
	}
	var rec JobRecord
	if err := json.Unmarshal(data, &rec); err != nil {
		return JobRecord{}, fmt.Errorf("decode record %s: %w", filepath.Join(dir, recordName), err)
	}
	return rec, nil
}

// finishedJob is what the server keeps in memory about a finished job; the
// rest is read from disk on demand, so memory does not grow with keep_jobs
// times the size of Head and Tail.
type finishedJob struct {
	id      string
	state   string
	started time.Time
	ended   time.Time
	// requestID and mutating let admit refuse to run one approved request
	// twice.
	requestID string
	mutating  bool
}

func finishedOf(r JobRecord) finishedJob {
	return finishedJob{id: r.ID, state: r.State, started: r.Started, ended: r.Ended, requestID: r.RequestID, mutating: r.Mutating}
}

// interruptedMessage is the Error of a job that was running when the agent
// stopped without finishing it.
const interruptedMessage = "the agent stopped (crashed, was killed or the host rebooted) while this job ran; " +
	"its processes were killed with the agent, and output after the last saved line may be missing; " +
	"check the host's state before running it again"

// loadJobs reads every job record under jobsDir. Records still "running"
// belong to a previous agent process and are rewritten as interrupted.
func loadJobs(jobsDir string, log *slog.Logger) ([]finishedJob, error) {
	entries, err := os.ReadDir(jobsDir)
	if err != nil {
		return nil, fmt.Errorf("read jobs dir: %w", err)
	}
	var jobs []finishedJob
	for _, e := range entries {
		if !e.IsDir() || !jobIDRE.MatchString(e.Name()) {
			continue
		}
		dir := filepath.Join(jobsDir, e.Name())
		rec, err := readRecord(dir)
		if err != nil {
			// A job dir without a readable record is left alone for a
			// person to look at; it is not served.
			log.Warn("skipping job without a readable record", "dir", dir, "err", err)
			continue
		}
		if rec.ID != e.Name() {
			log.Warn("skipping job whose record names another id", "dir", dir, "id", rec.ID)
			continue
		}
		if rec.State == StateRunning {
			rec = recoverInterrupted(dir, rec, log)
			if err := writeRecord(dir, rec); err != nil {
				return nil, fmt.Errorf("mark job %s interrupted: %w", rec.ID, err)
			}
			log.Warn("job was running when the agent stopped; marked interrupted",
				"job_id", rec.ID, "operation", rec.Operation, "request_id", rec.RequestID, "lines", rec.Lines)
		}
		jobs = append(jobs, finishedOf(rec))
	}
	return jobs, nil
}

// recoverInterrupted turns the last saved record of a job that was running
// into its final, interrupted record. The output log may hold lines written
// after the record was last saved; the record is brought up to date from it
// so that its Lines and Digest agree with what a replay delivers. Bytes of
// those extra lines is counted as text plus newline, which can overcount by
// one byte per line that was split or unterminated.
func recoverInterrupted(dir string, rec JobRecord, log *slog.Logger) JobRecord {
	rec.State = StateInterrupted
	rec.Error = interruptedMessage
	rec.Ended = time.Now().UTC()
	if fi, err := os.Stat(filepath.Join(dir, recordName)); err == nil {
		rec.Ended = fi.ModTime().UTC()
	}
	if fi, err := os.Stat(filepath.Join(dir, outputLogName)); err == nil && fi.ModTime().After(rec.Ended) {
		rec.Ended = fi.ModTime().UTC()
	}
	rec.DurationMS = max(0, rec.Ended.Sub(rec.Started).Milliseconds())

	f, err := os.Open(filepath.Join(dir, outputLogName))
	if err != nil {
		return rec
	}
	defer f.Close()
	lr := newLogReader(f)
	d := NewDigester()
	var head, tail []Line
	var extraBytes, last int64
	for {
		enc, seq, err := lr.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			log.Warn("reading output log of interrupted job", "job_id", rec.ID, "err", err)
			return rec
		}
		var l Line
		if err := json.Unmarshal(enc, &l); err != nil || seq != last+1 {
			log.Warn("output log of interrupted job is damaged; keeping the saved record", "job_id", rec.ID)
			return rec
		}
		last = seq
		d.Add(l.Stream, l.Text)
		if len(head) < HeadTailLines {
			head = append(head, l)
		}
		tail = append(tail, l)
		if len(tail) > HeadTailLines {
			tail = tail[1:]
		}
		if seq > rec.Lines {
			extraBytes += int64(len(l.Text)) + 1
		}
	}
	if last <= rec.Lines {
		return rec // the saved record already covers the log
	}
	rec.Lines = last
	rec.Bytes += extraBytes
	rec.Digest = d.Sum()
	rec.Head = head
	rec.Tail = slices.Clone(tail) // do not pin the larger array
	return rec
}

// pruneOrder returns which finished jobs to delete so that at most keep
// jobs remain, counting running ones (which are never deleted): oldest
// finished first.
func pruneOrder(finished []finishedJob, running, keep int) []finishedJob {
	excess := len(finished) + running - keep
	if excess <= 0 {
		return nil
	}
	sorted := append([]finishedJob(nil), finished...)
	sort.Slice(sorted, func(a, b int) bool {
		if !sorted[a].ended.Equal(sorted[b].ended) {
			return sorted[a].ended.Before(sorted[b].ended)
		}
		return sorted[a].id < sorted[b].id
	})
	return sorted[:min(excess, len(sorted))]
}
