package agent

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"path/filepath"
	"strconv"
	"time"
)

// A job stream is NDJSON: a job event, the line events (replayed from the
// output log, then live), heartbeats whenever nothing else was sent for
// HeartbeatInterval, and an end event with the final record. A client that
// stops reading holds the job's output back (bounded buffers), but only for
// WriteTimeout: then it is dropped and the job goes on.

// handleStream is GET /v1/jobs/{id}/stream?from=SEQ: re-attach to a job.
func (s *Server) handleStream(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	info := infoOf(r)
	info.jobID = id
	from := int64(1)
	if v := r.URL.Query().Get("from"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 0 {
			writeError(w, r, http.StatusBadRequest, fmt.Sprintf("from: %q is not a line number (0 or more)", v), "from")
			return
		}
		from = n
	}
	rec, j, err := s.lookupRecord(id)
	if err != nil {
		s.jobLookupError(w, r, id, err)
		return
	}
	info.operation, info.requestID, info.requester = rec.Operation, rec.RequestID, rec.Requester
	var sub subscription
	if j != nil {
		sub = j.subscribe() // may find it finished meanwhile: then no live part
	} else {
		sub = subscription{upto: rec.Lines, tail: rec.Tail, record: rec}
	}
	s.stream(w, r, j, sub, from)
}

// stream writes a job stream from line from. j may be nil for a job that
// finished before the request (sub then has no live subscriber).
func (s *Server) stream(w http.ResponseWriter, r *http.Request, j *job, sub subscription, from int64) {
	if j != nil {
		defer j.unsubscribe(sub.sub)
	}
	ew := &eventWriter{w: w, rc: http.NewResponseController(w), timeout: s.cfg.WriteTimeout}
	// The deadlines set here need no reset: net/http clears the write
	// deadline after every request (TestKeepAliveAfterStream guards it).
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)

	id := sub.record.ID
	fail := func(err error) {
		// The client went away or stopped reading; the job is unaffected.
		s.log.Info("stream ended early", "job_id", id, "remote", r.RemoteAddr, "err", err)
	}
	summary := sub.record.Summary()
	if err := ew.event(Event{Type: EventJob, Time: time.Now().UTC(), Job: &summary}); err != nil {
		fail(err)
		return
	}
	if err := ew.flush(); err != nil {
		fail(err)
		return
	}

	// Replay: the log up to sub.upto, then what of the tail the log lacks
	// (it is truncated or its end was not yet on disk).
	logged, err := replayLog(filepath.Join(s.jobsDir, id, outputLogName), from, sub.upto, ew.line)
	if err != nil {
		fail(err)
		return
	}
	for _, l := range sub.tail {
		if l.Seq > logged && l.Seq >= from && l.Seq <= sub.upto {
			enc, _ := json.Marshal(l)
			if err := ew.line(enc, l.Seq); err != nil {
				fail(err)
				return
			}
		}
	}
	if err := ew.flush(); err != nil {
		fail(err)
		return
	}

	if sub.sub != nil {
		if err := s.follow(r, ew, sub.sub, from); err != nil {
			fail(err)
			return
		}
		sub.record = j.record() // final: follow returns once the job finished
	}
	rec := sub.record
	if err := ew.event(Event{Type: EventEnd, Time: time.Now().UTC(), Record: &rec}); err != nil {
		fail(err)
		return
	}
	if err := ew.flush(); err != nil {
		fail(err)
	}
}

// follow writes live lines until the job finishes (the channel closes),
// sending heartbeats in silences.
func (s *Server) follow(r *http.Request, ew *eventWriter, sub *subscriber, from int64) error {
	hb := time.NewTimer(s.cfg.HeartbeatInterval)
	defer hb.Stop()
	for {
		select {
		case l, ok := <-sub.ch:
			if !ok {
				return nil
			}
			if l.seq < from {
				continue
			}
			if err := ew.line(l.enc, l.seq); err != nil {
				return err
			}
			// Flush when caught up: every line goes out promptly, and a
			// burst goes out in few TLS records.
			if len(sub.ch) == 0 {
				if err := ew.flush(); err != nil {
					return err
				}
			}
			hb.Reset(s.cfg.HeartbeatInterval)
		case <-hb.C:
			if err := ew.event(Event{Type: EventHeartbeat, Time: time.Now().UTC()}); err != nil {
				return err
			}
			if err := ew.flush(); err != nil {
				return err
			}
			hb.Reset(s.cfg.HeartbeatInterval)
		case <-r.Context().Done():
			return fmt.Errorf("client gone: %w", context.Cause(r.Context()))
		}
	}
}

// eventWriter writes NDJSON events, each write under a deadline so that a
// client that stops reading is dropped after timeout.
type eventWriter struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	timeout  time.Duration
	deadline time.Time
	buf      []byte
}

// arm extends the write deadline. Refreshing it only when an eighth of the
// timeout has passed keeps the cost per line negligible, and every write
// still has at least 7/8 of the timeout.
func (e *eventWriter) arm() error {
	now := time.Now()
	if e.deadline.Sub(now) > e.timeout-e.timeout/8 {
		return nil
	}
	e.deadline = now.Add(e.timeout)
	if err := e.rc.SetWriteDeadline(e.deadline); err != nil && !errors.Is(err, http.ErrNotSupported) {
		return fmt.Errorf("set write deadline: %w", err)
	}
	return nil
}

// line writes a line event around an already encoded Line.
func (e *eventWriter) line(enc []byte, _ int64) error {
	if err := e.arm(); err != nil {
		return err
	}
	e.buf = append(e.buf[:0], `{"type":"line","line":`...)
	e.buf = append(e.buf, enc...)
	e.buf = append(e.buf, "}\n"...)
	_, err := e.w.Write(e.buf)
	if cap(e.buf) > 64<<10 {
		e.buf = nil // do not keep one huge line's buffer for the whole stream
	}
	return err
}

func (e *eventWriter) event(ev Event) error {
	if err := e.arm(); err != nil {
		return err
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	_, err = e.w.Write(append(data, '\n'))
	return err
}

func (e *eventWriter) flush() error {
	if err := e.arm(); err != nil {
		return err
	}
	return e.rc.Flush()
}
