package agent

import (
	"fmt"
	"net/http"
)

// handleFindJobs is GET /v1/jobs?request_id=ID: the job that ran, or runs,
// for an approved request. The bot asks it when it lost a run's answer
// before it learnt the job's ID (connection reset, TLS error, timeout, or
// a bot restart): the job may have started, and only the agent knows.
// The answer is the job's record; 404 with field "request_id" means the
// agent has no job for that request (never started, or pruned beyond
// keep_jobs).
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
	s.mu.Lock()
	id, _, ok := s.jobForRequest(rid)
	s.mu.Unlock()
	if !ok {
		writeError(w, r, http.StatusNotFound, fmt.Sprintf("no mutating job for request %q on this agent (never started, or pruned beyond keep_jobs)", rid), "request_id")
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
