package agent

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"
)

// Server is the agent: it runs catalogue operations for authenticated
// clients and keeps their records under Config.StateDir. A Server serves
// once: create it with NewServer, run it with Serve or ListenAndServe until
// the context ends.
type Server struct {
	cfg     Config
	log     *slog.Logger
	obs     ServerObserver
	jobsDir string
	reqlog  *requestLog
	// approval checks the bot's signed approval statements; used (held
	// under mu) remembers the accepted ones against replay.
	approval *approvalVerifier
	used     *usedApprovals
	// jobsCtx is the parent of every job's context. It is deliberately not
	// the serving context: jobs outlive the requests that started them and
	// are stopped one by one, with a reason, on shutdown.
	jobsCtx context.Context

	mu       sync.Mutex
	running  map[string]*job
	finished map[string]finishedJob
	mutating *job // the one mutating job, if any
	readOnly int  // read-only jobs running in the max_read_only_jobs pool
	// reserved is the approval check in the reserved read-only slot, if
	// any (see admitReadOnly).
	reserved *job
	draining bool // shutting down: no new jobs
	jobsWG   sync.WaitGroup
}

// NewServer validates cfg, prepares the state directory and loads the
// records of earlier jobs; jobs that were running when a previous agent
// stopped are marked interrupted.
func NewServer(cfg Config, log *slog.Logger, opts ...ServerOption) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if log == nil {
		log = slog.Default()
	}
	jobsDir := filepath.Join(cfg.StateDir, jobsDirName)
	if err := os.MkdirAll(jobsDir, 0o700); err != nil {
		return nil, fmt.Errorf("state_dir: %w", err)
	}
	loaded, err := loadJobs(jobsDir, log)
	if err != nil {
		return nil, fmt.Errorf("state_dir %s: %w", cfg.StateDir, err)
	}
	verifier, err := loadApprovalVerifier(cfg.ApprovalPublicKey)
	if err != nil {
		return nil, fmt.Errorf("approval_public_key: %w", err)
	}
	used, err := openUsedApprovals(filepath.Join(cfg.StateDir, usedApprovalsName), time.Now())
	if err != nil {
		return nil, err
	}
	rl, err := openRequestLog(filepath.Join(cfg.StateDir, requestsLogName))
	if err != nil {
		used.Close()
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, obs: noServerObserver{}, jobsDir: jobsDir, reqlog: rl, approval: verifier, used: used,
		jobsCtx:  context.Background(),
		running:  map[string]*job{},
		finished: map[string]finishedJob{},
	}
	for _, o := range opts {
		o(s)
	}
	for _, f := range loaded {
		s.finished[f.id] = f
	}
	s.removeJobs(pruneOrder(loaded, 0, cfg.KeepJobs))
	log.Info("agent state loaded", "state_dir", cfg.StateDir, "jobs", len(s.finished))
	return s, nil
}

// ListenAndServe listens on Config.Listen and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Listen)
	if err != nil {
		s.closeFiles()
		return fmt.Errorf("listen on %s: %w", s.cfg.Listen, err)
	}
	return s.Serve(ctx, ln)
}

// Serve serves on ln (wrapping it in mutual TLS unless Config.Insecure) until
// ctx ends, then shuts down gracefully: no new jobs, running jobs get
// Config.ShutdownGrace to finish, then their process groups are killed and
// they are recorded as interrupted. Serve closes ln.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	if s.cfg.Insecure {
		s.log.Warn("INSECURE MODE: serving plain HTTP without client authentication; for local development only",
			"listen", ln.Addr().String())
	} else {
		tc, err := serverTLSConfig(s.cfg.TLS)
		if err != nil {
			ln.Close()
			s.closeFiles()
			return err
		}
		ln = tls.NewListener(ln, tc)
	}
	srv := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 15 * time.Second, // also bounds the TLS handshake
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		// No WriteTimeout: streams last as long as jobs; each stream write
		// has its own deadline instead (see stream.go).
	}
	// HTTP/1.1 only: one stream per connection, so a per-write deadline is
	// a deadline on the TCP connection, and nothing multiplexes a slow
	// stream with others.
	srv.Protocols = new(http.Protocols)
	srv.Protocols.SetHTTP1(true)

	s.log.Info("agent serving", "listen", ln.Addr().String(), "tls", !s.cfg.Insecure,
		"allowed_clients", s.cfg.TLS.AllowedClients, "version", s.cfg.Version)
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	var serveErr error
	select {
	case err := <-errc:
		serveErr = fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	s.shutdown(srv)
	return serveErr
}

// Handler returns the agent's HTTP handler (without TLS: Serve adds it).
// Exposed for embedding; authentication of client certificates relies on
// r.TLS being set by the caller's TLS listener.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/jobs", s.handleRun)
	mux.HandleFunc("GET /v1/jobs", s.handleFindJobs)
	mux.HandleFunc("GET /v1/jobs/{id}", s.handleGetJob)
	mux.HandleFunc("GET /v1/jobs/{id}/stream", s.handleStream)
	mux.HandleFunc("POST /v1/jobs/{id}/cancel", s.handleCancel)
	mux.HandleFunc("GET /v1/health", s.handleHealth)
	mux.HandleFunc("GET /v1/version", s.handleVersion)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, http.StatusNotFound, "no such endpoint: "+r.Method+" "+r.URL.Path, "")
	})
	return s.logRequests(s.authenticate(mux))
}

// shutdown drains the agent; see Serve.
func (s *Server) shutdown(srv *http.Server) {
	s.mu.Lock()
	s.draining = true
	n := len(s.running)
	s.mu.Unlock()
	s.log.Info("shutting down: no new jobs; waiting for running ones", "jobs", n, "grace", s.cfg.ShutdownGrace.String())
	if !waitGroupTimeout(&s.jobsWG, s.cfg.ShutdownGrace) {
		s.mu.Lock()
		jobs := make([]*job, 0, len(s.running))
		for _, j := range s.running {
			jobs = append(jobs, j)
		}
		s.mu.Unlock()
		for _, j := range jobs {
			j.log.Warn("shutdown grace over: stopping job", "operation", j.op.Name)
			j.stop(&stopCause{state: StateInterrupted,
				msg: "the agent shut down while the job ran; its process group was stopped (SIGTERM, then SIGKILL after kill_grace)"})
		}
		// Stopping takes kill_grace plus a little; a job that does not end
		// even then is left to systemd's cgroup kill.
		if !waitGroupTimeout(&s.jobsWG, s.cfg.KillGrace+5*time.Second) {
			s.log.Error("jobs did not end after being killed; exiting anyway")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		s.log.Warn("closing remaining connections", "err", err)
		srv.Close()
	}
	s.closeFiles()
	s.log.Info("agent stopped")
}

// closeFiles closes the request log and the record of used approvals.
func (s *Server) closeFiles() {
	s.reqlog.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.used.Close(); err != nil {
		s.log.Warn("closing the record of used approvals", "err", err)
	}
}

func waitGroupTimeout(wg *sync.WaitGroup, d time.Duration) bool {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-done:
		return true
	case <-t.C:
		return false
	}
}

// prune deletes the oldest finished jobs beyond keep_jobs.
func (s *Server) prune() {
	s.mu.Lock()
	list := make([]finishedJob, 0, len(s.finished))
	for _, f := range s.finished {
		list = append(list, f)
	}
	victims := pruneOrder(list, len(s.running), s.cfg.KeepJobs)
	s.mu.Unlock()
	s.removeJobs(victims)
}

// removeJobs deletes the state of pruned jobs and forgets them.
func (s *Server) removeJobs(jobs []finishedJob) {
	for _, f := range jobs {
		s.mu.Lock()
		delete(s.finished, f.id)
		s.mu.Unlock()
		if err := os.RemoveAll(filepath.Join(s.jobsDir, f.id)); err != nil {
			s.log.Warn("prune job", "job_id", f.id, "err", err)
			continue
		}
		s.log.Debug("pruned job", "job_id", f.id, "ended", f.ended)
	}
}

// errJobNotFound is internal: the handlers turn it into 404.
var errJobNotFound = errors.New("no such job")

// lookupRecord returns a job's current or final record.
func (s *Server) lookupRecord(id string) (JobRecord, *job, error) {
	if !jobIDRE.MatchString(id) {
		return JobRecord{}, nil, errJobNotFound
	}
	s.mu.Lock()
	j := s.running[id]
	_, done := s.finished[id]
	s.mu.Unlock()
	if j != nil {
		return j.record(), j, nil
	}
	if !done {
		return JobRecord{}, nil, errJobNotFound
	}
	rec, err := readRecord(filepath.Join(s.jobsDir, id))
	if errors.Is(err, os.ErrNotExist) {
		return JobRecord{}, nil, errJobNotFound // pruned meanwhile
	}
	return rec, nil, err
}
