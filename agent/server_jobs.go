package agent

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// maxRunBody bounds a RunRequest; real ones are a few hundred bytes
// (job_arguments itself is capped at 4 KiB by the catalogue).
const maxRunBody = 64 << 10

// Limits of the metadata fields, which end up in logs and records.
const (
	maxMetaLen   = 256
	maxApprovers = 16
)

// requestError is a refusal of a request's content, naming the field.
// status is the HTTP status to answer with; 0 means 400.
type requestError struct {
	field  string
	msg    string
	status int
}

func (e *requestError) Error() string { return e.msg }

// httpStatus is the status a refusal is answered with.
func (e *requestError) httpStatus() int {
	if e.status == 0 {
		return http.StatusBadRequest
	}
	return e.status
}

// refuseRequest answers err, a *requestError (anything else is a 400 with
// its text), and notes it in the request log.
func refuseRequest(w http.ResponseWriter, r *http.Request, err error) {
	var re *requestError
	if !errors.As(err, &re) {
		re = &requestError{msg: err.Error()}
	}
	writeError(w, r, re.httpStatus(), re.msg, re.field)
}

// decodeJSONBody reads one JSON object into v strictly: a body over
// limit is refused with 413, a key named twice (see
// checkNoDuplicateKeys), another JSON value (null, an array), an unknown
// field or trailing data with 400. An empty body is allowed when
// allowEmpty. Nothing of the request is acted on unless all of it is
// well-formed.
func decodeJSONBody(w http.ResponseWriter, r *http.Request, limit int64, v any, allowEmpty bool) error {
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(30 * time.Second)) // a trickling body cannot hold a handler
	defer rc.SetReadDeadline(time.Time{})
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return &requestError{status: http.StatusRequestEntityTooLarge,
				msg: fmt.Sprintf("request body is larger than %d bytes", limit)}
		}
		return &requestError{msg: "reading the request body: " + err.Error()}
	}
	if len(bytes.TrimSpace(data)) == 0 {
		if allowEmpty {
			return nil
		}
		return &requestError{msg: "request body is empty: send a JSON object"}
	}
	if err := checkNoDuplicateKeys(data); err != nil {
		return err
	}
	// encoding/json decodes null into a struct as "nothing to do", which
	// would leave v empty and the refusal about its first missing field;
	// every request is an object (found by FuzzDecodeRunRequest).
	if bytes.TrimSpace(data)[0] != '{' {
		return &requestError{msg: "request body is not a JSON object: send one, e.g. {\"operation\": \"migrate-status\"}"}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if f, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
			name := strings.Trim(f, `"`)
			return &requestError{field: name, msg: fmt.Sprintf("unknown field %q in request body", name)}
		}
		return &requestError{msg: "request body is not valid JSON: " + err.Error()}
	}
	return nil
}

// validateRun checks a RunRequest against the catalogue and returns the
// operation and its command.
func validateRun(req RunRequest) (gitlab.Operation, gitlab.Command, error) {
	op, err := gitlab.Lookup(req.Operation)
	if err != nil {
		return gitlab.Operation{}, gitlab.Command{}, &requestError{field: "operation", msg: err.Error()}
	}
	cmd, err := op.Command(req.Args)
	if err != nil {
		var ae *gitlab.ArgError
		if errors.As(err, &ae) {
			return op, gitlab.Command{}, &requestError{field: ae.Field, msg: err.Error()}
		}
		return op, gitlab.Command{}, &requestError{field: "args", msg: err.Error()}
	}
	if err := checkApprovedArgv(op, cmd, req.Argv); err != nil {
		return op, cmd, err
	}
	for _, m := range []struct{ field, val string }{
		{"request_id", req.RequestID}, {"requester", req.Requester},
	} {
		if err := checkMeta(m.field, m.val); err != nil {
			return op, cmd, err
		}
	}
	switch req.Purpose {
	case "":
	case PurposeApprovalCheck:
		if op.Mutating() {
			return op, cmd, &requestError{field: "purpose", msg: fmt.Sprintf("purpose %q is for read-only operations; %s is mutating", req.Purpose, op.Name)}
		}
	default:
		return op, cmd, &requestError{field: "purpose", msg: fmt.Sprintf("unknown purpose %q: use %q or leave it out", req.Purpose, PurposeApprovalCheck)}
	}
	if len(req.Approvers) > maxApprovers {
		return op, cmd, &requestError{field: "approvers", msg: fmt.Sprintf("approvers: more than %d names", maxApprovers)}
	}
	for _, a := range req.Approvers {
		if err := checkMeta("approvers", a); err != nil {
			return op, cmd, err
		}
	}
	return op, cmd, nil
}

// checkApprovedArgv compares the argv the bot approved and sent with the
// one this agent's catalogue builds. A bot and an agent of different
// versions could otherwise run a command line that nobody saw: what runs is
// what was approved, or nothing. A mutating run must carry its argv; a
// read-only one is compared when it does.
func checkApprovedArgv(op gitlab.Operation, cmd gitlab.Command, approved []string) error {
	if len(approved) == 0 {
		if op.Mutating() {
			return &requestError{field: "argv", msg: fmt.Sprintf(
				"argv: required for %s: send the approved command line (as the approval message showed it); nothing was started", op.Name)}
		}
		return nil
	}
	if built := cmd.Argv(); !slices.Equal(built, approved) {
		return &requestError{field: "argv", msg: fmt.Sprintf(
			"the approved command %q is not what this agent builds for %s (%q); nothing was started: run the same version of bot and agent, then open a new request",
			approved, op.Name, built)}
	}
	return nil
}

// checkMeta refuses over-long values and control characters, which would
// make logs and records misleading.
func checkMeta(field, v string) error {
	if len(v) > maxMetaLen {
		return &requestError{field: field, msg: fmt.Sprintf("%s: longer than %d bytes", field, maxMetaLen)}
	}
	if strings.IndexFunc(v, unicode.IsControl) >= 0 {
		return &requestError{field: field, msg: fmt.Sprintf("%s: contains control characters", field)}
	}
	return nil
}

// handleRun is POST /v1/jobs: validate, admit, start, stream.
func (s *Server) handleRun(w http.ResponseWriter, r *http.Request) {
	info := infoOf(r)
	var req RunRequest
	if err := decodeJSONBody(w, r, maxRunBody, &req, false); err != nil {
		refuseRequest(w, r, err)
		return
	}
	info.operation, info.requestID, info.requester = req.Operation, req.RequestID, req.Requester
	op, cmd, err := validateRun(req)
	if err != nil {
		refuseRequest(w, r, err)
		return
	}
	if op.Mutating() {
		// Read-only operations need only the client certificate; a
		// mutating one also the bot's signed approval of this very run.
		if err := s.approval.verify(req.Approval, req, s.cfg.Name, cmd.Argv(), time.Now()); err != nil {
			s.log.Warn("mutating run refused: approval statement", "operation", op.Name,
				"request_id", req.RequestID, "client", info.client, "reason", err)
			writeError(w, r, http.StatusForbidden, err.Error()+"; nothing was started", "approval")
			return
		}
	} else if req.Approval != nil {
		refuseRequest(w, r, &requestError{field: "approval", msg: fmt.Sprintf(
			"approval: %s is read-only and takes no approval statement", op.Name)})
		return
	}
	j, sub, refusal := s.admit(req, op, cmd)
	if refusal != nil {
		infoOf(r).errMsg = refusal.body.Error
		if refusal.status == http.StatusTooManyRequests {
			// Read-only jobs take seconds: a client that waits this long
			// will usually find a free slot.
			w.Header().Set("Retry-After", strconv.Itoa(readOnlyRetryAfter))
		}
		writeJSON(w, refusal.status, refusal.body)
		return
	}
	info.jobID = j.id
	// Prune when a job is added rather than when one ends: the count is
	// then exact (finished + running <= keep_jobs) by the time the client
	// hears of the job.
	s.prune()
	s.stream(w, r, j, sub, 1)
}

// readOnlyRetryAfter is the Retry-After (seconds) of a 429.
const readOnlyRetryAfter = 1

// refusal is an admission failure: status and body.
type refusal struct {
	status int
	body   ErrorResponse
}

// admit applies the concurrency rules and, if the job may run, creates its
// state, subscribes the caller from the first line and starts it. It holds
// s.mu throughout, so two requests can never both take the mutating slot.
func (s *Server) admit(req RunRequest, op gitlab.Operation, cmd gitlab.Command) (*job, subscription, *refusal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.draining {
		return nil, subscription{}, &refusal{http.StatusServiceUnavailable,
			ErrorResponse{Error: "the agent is shutting down and accepts no new jobs; retry when it is back"}}
	}
	if op.Mutating() && req.RequestID != "" {
		if prev, state, ok := s.jobForRequest(req.RequestID); ok {
			return nil, subscription{}, &refusal{http.StatusConflict, ErrorResponse{Error: fmt.Sprintf(
				"request %s already ran here as job %s (%s); the agent runs each approved request once: open a new request",
				req.RequestID, prev, state)}}
		}
	}
	if op.Mutating() && s.used.closed(req.RequestID, time.Now()) {
		return nil, subscription{}, &refusal{http.StatusConflict, ErrorResponse{Error: fmt.Sprintf(
			"request %s had no job here when the bot asked, so it ended \"nothing ran\": this request was declared not started; open a new request",
			req.RequestID)}}
	}
	if op.Mutating() && s.used.used(req.RequestID, time.Now()) {
		return nil, subscription{}, &refusal{http.StatusConflict, ErrorResponse{Error: fmt.Sprintf(
			"the approval statement of request %s was already used on this agent; a statement starts one job at most: open a new request",
			req.RequestID)}}
	}
	if op.Mutating() && s.mutating != nil {
		s.obs.BusyRejected(true)
		run := s.mutating.summary()
		return nil, subscription{}, &refusal{http.StatusConflict, ErrorResponse{Error: busyMessage(run), Running: &run}}
	}
	reserved := false
	if !op.Mutating() {
		var ok bool
		if reserved, ok = s.readOnlySlot(req.Purpose); !ok {
			s.obs.BusyRejected(false)
			return nil, subscription{}, &refusal{http.StatusTooManyRequests, ErrorResponse{Error: fmt.Sprintf(
				"too many read-only jobs: %d are running (max_read_only_jobs is %d); retry when one has finished",
				s.readOnly, s.cfg.MaxReadOnlyJobs)}}
		}
	}
	prog, err := s.cfg.Program(cmd.Program)
	if err != nil {
		return nil, subscription{}, &refusal{http.StatusInternalServerError, ErrorResponse{Error: err.Error()}}
	}
	spec := procSpec{
		argv:      buildArgv(s.cfg.Sudo, prog, cmd.Args),
		env:       jobEnv(s.cfg.Env),
		killGrace: s.cfg.KillGrace,
		persist:   s.cfg.PersistInterval,
	}
	if op.Mutating() {
		// Burn the statement before anything starts: if the job cannot be
		// created after this, the request is lost, never run twice.
		if err := s.used.add(req.RequestID, time.Unix(req.Approval.ExpiresAt, 0), time.Now()); err != nil {
			s.log.Error("cannot record the used approval", "request_id", req.RequestID, "err", err)
			return nil, subscription{}, &refusal{http.StatusInternalServerError,
				ErrorResponse{Error: "cannot record the approval as used, so the job was not started: " + err.Error()}}
		}
	}
	j, err := s.createJob(req, op, spec.argv)
	if err != nil {
		s.log.Error("cannot create job state", "operation", op.Name, "err", err)
		return nil, subscription{}, &refusal{http.StatusInternalServerError,
			ErrorResponse{Error: "cannot record the job, so it was not started: " + err.Error()}}
	}
	sub := j.subscribe()
	s.running[j.id] = j
	switch {
	case op.Mutating():
		s.mutating = j
	case reserved:
		s.reserved = j
	default:
		s.readOnly++
	}
	s.jobsWG.Add(1)
	s.obs.JobStarted(op.Name, op.Mutating())
	go s.runJob(j, spec)
	return j, sub, nil
}

// readOnlySlot says whether a read-only job of purpose may start now and
// whether it takes the reserved slot. Callers hold s.mu.
//
// One slot beyond max_read_only_jobs is reserved for approval checks, so
// that status traffic, however heavy, never makes an approver wait. A client
// could mark any read-only run as an approval check to use that slot: it is
// still only one read-only catalogue operation, and the client is still
// authenticated by its certificate, so the abuse is bounded to one extra
// concurrent read-only job. Such a client gains no way around the mutating
// rules.
func (s *Server) readOnlySlot(purpose string) (reserved, ok bool) {
	if s.readOnly < s.cfg.MaxReadOnlyJobs {
		return false, true
	}
	if purpose == PurposeApprovalCheck && s.reserved == nil {
		return true, true
	}
	return false, false
}

// jobForRequest finds a mutating job, running or finished, that ran for
// requestID. The bot's exactly-once gate is the primary guarantee; this is
// the host's own, against a bot bug or a replayed call. Callers hold s.mu.
func (s *Server) jobForRequest(requestID string) (id, state string, ok bool) {
	for _, j := range s.running {
		if sum := j.summary(); sum.Mutating && sum.RequestID == requestID {
			return sum.ID, sum.State, true
		}
	}
	for _, f := range s.finished {
		if f.mutating && f.requestID == requestID {
			return f.id, f.state, true
		}
	}
	return "", "", false
}

func busyMessage(run JobSummary) string {
	rid, who := run.RequestID, run.Requester
	if rid == "" {
		rid = "(none)"
	}
	if who == "" {
		who = "(unknown)"
	}
	return fmt.Sprintf("busy: %s job %s for request %s by %s running since %s",
		run.Operation, run.ID, rid, who, run.Started.Format(time.RFC3339))
}

// createJob makes the job's directory, output log and first record. A job
// is never started without a record on disk.
func (s *Server) createJob(req RunRequest, op gitlab.Operation, argv []string) (*job, error) {
	now := time.Now().UTC()
	id, err := newJobID(now)
	if err != nil {
		return nil, err
	}
	dir := filepath.Join(s.jobsDir, id)
	if err := os.Mkdir(dir, 0o700); err != nil {
		return nil, fmt.Errorf("job dir: %w", err)
	}
	out, err := createOutputLog(filepath.Join(dir, outputLogName), s.cfg.MaxLogBytes)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	rec := JobRecord{
		ID: id, Operation: op.Name, Args: req.Args, Argv: argv, Mutating: op.Mutating(),
		RequestID: req.RequestID, Requester: req.Requester, Approvers: req.Approvers,
		State: StateRunning, Started: now, Digest: NewDigester().Sum(),
		Head: []Line{}, Tail: []Line{},
	}
	if err := writeRecord(dir, rec); err != nil {
		out.close()
		os.RemoveAll(dir)
		return nil, err
	}
	return newJob(s.jobsCtx, id, dir, op, rec, out, s.log), nil
}

// runJob runs j to its end, records the outcome and frees its slot.
func (s *Server) runJob(j *job, spec procSpec) {
	defer s.jobsWG.Done()
	timeout := s.cfg.Timeout(j.op)
	ctx, cancel := context.WithTimeoutCause(j.ctx, timeout, &stopCause{state: StateTimedOut,
		msg: fmt.Sprintf("timed out after %s (timeouts.%s); the process group was stopped (SIGTERM, then SIGKILL after kill_grace)", timeout, j.op.Name)})
	defer cancel()

	res := execute(ctx, j, spec)
	state, errText := classify(res, spec.argv)

	// The process has exited: free its slot BEFORE the end record is
	// published. A client that has seen a job end may start the next one
	// at once (the bot's follow-ups and approval checks do), and must never
	// be refused for a slot the ended job still held. The job stays in
	// s.running until its record is final, so lookups by job or request ID
	// find it throughout.
	s.mu.Lock()
	switch j {
	case s.mutating:
		s.mutating = nil
	case s.reserved:
		s.reserved = nil
	default:
		s.readOnly--
	}
	s.mu.Unlock()

	rec := j.finish(state, res.exitCode, errText)
	s.obs.JobEnded(rec.Operation, rec.Mutating, rec.State, time.Duration(rec.DurationMS)*time.Millisecond)

	s.mu.Lock()
	delete(s.running, j.id)
	s.finished[j.id] = finishedOf(rec)
	s.mu.Unlock()

	attrs := []any{"operation", rec.Operation, "state", rec.State,
		"lines", rec.Lines, "bytes", rec.Bytes, "duration", time.Duration(rec.DurationMS) * time.Millisecond,
		"requester", rec.Requester}
	if rec.ExitCode != nil {
		attrs = append(attrs, "exit_code", *rec.ExitCode)
	}
	if rec.Error != "" {
		attrs = append(attrs, "error", rec.Error)
	}
	jobLogger(s.log, rec.ID, rec.RequestID).Info("job ended", attrs...)
}

// classify turns an outcome into a state and an explanation.
func classify(res outcome, argv []string) (string, string) {
	var state, msg string
	switch {
	case res.startErr != nil:
		state, msg = StateFailed, fmt.Sprintf("cannot start %s: %v", argv[0], res.startErr)
	case res.cause != nil:
		state, msg = res.cause.state, res.cause.msg
	case res.signal != "":
		state, msg = StateFailed, "the program was killed by signal "+res.signal
	case res.exitCode != nil && *res.exitCode == 0:
		state = StateSucceeded
	case res.exitCode != nil:
		state, msg = StateFailed, fmt.Sprintf("exit status %d", *res.exitCode)
	default:
		state, msg = StateFailed, "the program's exit status is unknown"
	}
	if res.escaped != "" {
		if msg != "" {
			msg += "; "
		}
		msg += res.escaped
	}
	return state, msg
}

// handleGetJob is GET /v1/jobs/{id}.
func (s *Server) handleGetJob(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	infoOf(r).jobID = id
	rec, _, err := s.lookupRecord(id)
	if err != nil {
		s.jobLookupError(w, r, id, err)
		return
	}
	writeJSON(w, http.StatusOK, rec)
}

func (s *Server) jobLookupError(w http.ResponseWriter, r *http.Request, id string, err error) {
	if errors.Is(err, errJobNotFound) {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("no job %q on this agent (never run, or pruned beyond keep_jobs)", id), "id")
		return
	}
	s.log.Error("read job record", "job_id", id, "err", err)
	writeError(w, r, http.StatusInternalServerError, "cannot read the job's record: "+err.Error(), "")
}

// handleCancel is POST /v1/jobs/{id}/cancel. The job's process group gets
// SIGTERM, then SIGKILL after kill_grace; the answer does not wait for it.
func (s *Server) handleCancel(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	info := infoOf(r)
	info.jobID = id
	var req CancelRequest
	if err := decodeJSONBody(w, r, 4096, &req, true); err != nil {
		refuseRequest(w, r, err)
		return
	}
	if err := checkMeta("requester", req.Requester); err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error(), "requester")
		return
	}
	if err := checkMeta("reason", req.Reason); err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error(), "reason")
		return
	}
	info.requester = req.Requester
	rec, j, err := s.lookupRecord(id)
	if err != nil {
		s.jobLookupError(w, r, id, err)
		return
	}
	info.operation, info.requestID = rec.Operation, rec.RequestID
	if j == nil || rec.Finished() {
		writeError(w, r, http.StatusConflict, fmt.Sprintf("job %s has already ended (%s)", id, rec.State), "")
		return
	}
	who := req.Requester
	if who == "" {
		who = info.client
	}
	msg := "cancelled by " + who
	if req.Reason != "" {
		msg += ": " + req.Reason
	}
	j.stop(&stopCause{state: StateCancelled, msg: msg})
	s.log.Info("job cancel requested", "job_id", id, "by", who, "reason", req.Reason)
	writeJSON(w, http.StatusAccepted, j.summary())
}
