package agent

import (
	"fmt"
	"net/http"
	"time"
)

// handleFindJobs is GET /v1/jobs?request_id=ID: the job that ran, or runs,
// for an approved request. The bot asks it when it lost a run's answer
// before it learnt the job's ID (connection reset, TLS error, timeout, or
// a bot restart): the job may have started, and only the agent knows.
// The answer is the job's record; 404 with field "request_id" means the
// agent has no job for that request and never will: the request is closed
// (recorded durably before the answer), so a run for it that arrives later
// is refused. The bot may therefore end it "nothing ran" on one answer.
// 410 means the request's statement was used here but its job was pruned
// (keep_jobs): the job may have run, and the outcome is unknown.
func (s *Server) handleFindJobs(w http.ResponseWriter, r *http.Request) {
	rid := r.URL.Query().Get("request_id")
	info := infoOf(r)
	info.requestID = rid
	if rid == "" {
		writeError(w, r, http.StatusBadRequest, "request_id: give the request ID to look up, e.g. /v1/jobs?request_id=abc123", "request_id")
		return
	}
	if err := checkMeta("request_id", rid); err != nil {
		writeError(w, r, http.StatusBadRequest, err.Error(), "request_id")
		return
	}
	id, status, msg := s.findOrClose(rid)
	if status != 0 {
		field := "request_id"
		if status != http.StatusNotFound {
			field = ""
		}
		writeError(w, r, status, msg, field)
		return
	}
	info.jobID = id
	rec, _, err := s.lookupRecord(id)
	if err != nil {
		s.jobLookupError(w, r, id, err)
		return
	}
	info.operation, info.requester = rec.Operation, rec.Requester
	writeJSON(w, http.StatusOK, rec)
}

// findOrClose returns the job of request rid or, if it has none, closes
// the request (see usedApprovals.close) so that it never starts. status is
// 0 with the job's ID, else the HTTP status and message to answer. It
// holds s.mu, as admit does, so a run admitted concurrently is either
// found here or refused there.
func (s *Server) findOrClose(rid string) (id string, status int, msg string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if id, _, ok := s.jobForRequest(rid); ok {
		return id, 0, ""
	}
	now := time.Now()
	switch {
	case s.used.closed(rid, now):
		// Declared before: the answer stays the same.
	case s.used.used(rid, now):
		return "", http.StatusGone, fmt.Sprintf("request %q had its approval used on this agent, which has no record of its job (pruned beyond keep_jobs, or it could not be created): the outcome is unknown; check the host", rid)
	default:
		if err := s.used.close(rid, now); err != nil {
			s.log.Error("cannot record the request as not started", "request_id", rid, "err", err)
			return "", http.StatusInternalServerError, "cannot record the request as not started, so the agent cannot say it never will; retry: " + err.Error()
		}
	}
	return "", http.StatusNotFound, fmt.Sprintf("no mutating job for request %q on this agent: it was never started and is now closed (a run for it is refused)", rid)
}
