package agent

import (
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// reqInfo collects what the request log says about a request; handlers
// fill it in as they learn it. Only the request's goroutine touches it.
type reqInfo struct {
	client    string
	operation string
	jobID     string
	requestID string
	requester string
	errMsg    string
}

type reqInfoKey struct{}

func infoOf(r *http.Request) *reqInfo {
	if i, ok := r.Context().Value(reqInfoKey{}).(*reqInfo); ok {
		return i
	}
	return &reqInfo{} // not reached through logRequests: a throwaway
}

// statusRecorder remembers the status for the request log. Unwrap keeps
// http.ResponseController (flush, write deadlines) working through it.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (w *statusRecorder) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusRecorder) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.ResponseWriter.Write(b)
}

func (w *statusRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// logRequests appends one entry per request to requests.log when the
// request ends (for a stream: when the stream ends).
func (s *Server) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &reqInfo{}
		rec := &statusRecorder{ResponseWriter: w}
		next.ServeHTTP(rec, r.WithContext(context.WithValue(r.Context(), reqInfoKey{}, info)))
		status := rec.status
		if status == 0 {
			status = http.StatusOK
		}
		s.reqlog.write(requestEntry{
			Time: start.UTC(), Remote: r.RemoteAddr, Client: info.client,
			Method: r.Method, Path: r.URL.RequestURI(), Status: status,
			Operation: info.operation, JobID: info.jobID,
			RequestID: info.requestID, Requester: info.requester,
			DurationMS: time.Since(start).Milliseconds(), Error: info.errMsg,
		}, s.log)
	})
}

// authenticate admits a request whose client certificate (verified by the
// TLS handshake against client_ca) carries an allowed name. Without TLS
// (insecure loopback mode) every request is admitted.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := infoOf(r)
		if s.cfg.Insecure {
			info.client = "insecure-loopback"
			next.ServeHTTP(w, r)
			return
		}
		if r.TLS == nil || len(r.TLS.PeerCertificates) == 0 {
			// Unreachable behind Serve's listener, which requires a
			// verified certificate at the handshake.
			writeError(w, r, http.StatusForbidden, "a client certificate is required", "")
			return
		}
		cert := r.TLS.PeerCertificates[0]
		name, ok := authorizedName(cert, s.cfg.TLS.AllowedClients)
		info.client = name
		if !ok {
			writeError(w, r, http.StatusForbidden,
				"client certificate "+quoteNames(certNames(cert))+" is not in the agent's tls.allowed_clients", "")
			return
		}
		next.ServeHTTP(w, r)
	})
}

// writeJSON answers with v as JSON.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v) // the client may be gone; nothing to do about it
}

// writeError answers with an ErrorResponse and notes the error for the
// request log.
func writeError(w http.ResponseWriter, r *http.Request, status int, msg, field string) {
	infoOf(r).errMsg = msg
	writeJSON(w, status, ErrorResponse{Error: msg, Field: field})
}

func (s *Server) handleHealth(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h := Health{Status: "ok", Version: s.cfg.Version, Time: time.Now().UTC(), Running: []JobSummary{}}
	if s.draining {
		h.Status = "draining"
	}
	jobs := make([]*job, 0, len(s.running))
	for _, j := range s.running {
		jobs = append(jobs, j)
	}
	s.mu.Unlock()
	for _, j := range jobs {
		h.Running = append(h.Running, j.summary())
	}
	writeJSON(w, http.StatusOK, h)
}

// Draining reports whether the agent is shutting down (no new jobs).
func (s *Server) Draining() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.draining
}

func (s *Server) handleVersion(w http.ResponseWriter, r *http.Request) {
	v := VersionInfo{Version: s.cfg.Version, Protocol: ProtocolVersion}
	for _, op := range gitlab.Catalogue() {
		v.Operations = append(v.Operations, OperationInfo{
			Name: op.Name, Kind: op.Kind.String(), Mutating: op.Mutating(), Program: string(op.Program),
			TimeoutSeconds: int64(s.cfg.Timeout(op).Seconds()), Summary: op.Summary,
		})
	}
	writeJSON(w, http.StatusOK, v)
}
