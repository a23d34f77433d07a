package commands

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/leader"
)

// Agent is the part of the agent client the router uses; *agent.Client
// implements it.
type Agent interface {
	Run(ctx context.Context, req agent.RunRequest, onEvent func(agent.Event) error) (agent.JobRecord, error)
	Attach(ctx context.Context, id string, from int64, onEvent func(agent.Event) error) (agent.JobRecord, error)
	Job(ctx context.Context, id string) (agent.JobRecord, error)
	JobForRequest(ctx context.Context, requestID string) (agent.JobRecord, error)
	// Version is the agent's version and catalogue; `hosts` calls it to
	// see whether the agent answers, and how fast.
	Version(ctx context.Context) (agent.VersionInfo, error)
}

// Host is a GitLab node the bot can reach through its agent.
type Host struct {
	Name  string
	Agent Agent
	// Signer signs the approval statement of each approved run on this
	// host; the agent refuses a mutating run without one.
	Signer *agent.ApprovalSigner
	// Default marks the host a read-only subcommand without --host runs
	// on. At most one host is the default; a single host is it anyway.
	Default bool
}

// AuditTrail is the read side of the audit log, for `audit [N] [--before
// SEQ]`: a page of entries. storage.DB implements it. The router writes audit entries only
// through the approvals.Service (Record), the only writer.
type AuditTrail interface {
	TailAudit(ctx context.Context, n int) ([]approvals.AuditEntry, error)
	// AuditBefore is up to n entries numbered below before (the newest
	// when before is 0), oldest first.
	AuditBefore(ctx context.Context, before uint64, n int) ([]approvals.AuditEntry, error)
	// AuditPage calls fn with the stored bytes of those entries, without
	// decoding them (show reads a request's entries this way).
	AuditPage(ctx context.Context, before uint64, n int, fn func(seq uint64, stored []byte) error) error
	// AuditHead is the last entry's seq and hash, for anchors.
	AuditHead(ctx context.Context) (auditchain.Head, error)
}

// Options configure a Router. Hosts, Approvals and Audit are required.
type Options struct {
	Hosts     []Host
	Approvals *approvals.Service
	Audit     AuditTrail
	Logger    *slog.Logger
	Clock     func() time.Time

	// ProgressEvery is the least time between two edits of a progress
	// message (default 1 s, which keeps within Slack's per-channel limit).
	ProgressEvery time.Duration
	// AttachOver is the number of output lines above which the full
	// output is attached as a file (default 40).
	AttachOver int
	// RestartWait is how long to poll services after a restart before
	// reporting those still down (default 3 min); RestartPoll is the
	// interval (default 5 s).
	RestartWait time.Duration
	RestartPoll time.Duration
	// BusyWait bounds how long a read-only run waits for a free slot on
	// an agent that answers 429 (default 2 min).
	BusyWait time.Duration
	// RetryMax is the longest wait between two attempts to reach an agent
	// that does not answer while the bot follows a job (default 15 s; the
	// waits double from 1 s).
	RetryMax time.Duration
	// ExpireEvery is how often pending requests past their TTL are
	// expired and their messages updated (default 30 s).
	ExpireEvery time.Duration
	// AuditChannel is where the audit head is anchored (posted daily and
	// on `audit anchor`); empty: the anchor is only logged and audited.
	AuditChannel string
	// AnchorEvery is how often the head is anchored (default 24 h).
	AnchorEvery time.Duration
	// Workers bounds how many queueable commands (read-only runs, opening
	// approval requests) run at once (default 256); the others wait in
	// order (pool.go). Approvals, executions and recovery never queue.
	Workers int
	// StartRate bounds how many queueable commands start per second while
	// commands keep arriving (default 20), after StartBurst (default 4) at
	// once, and none starts on StartBurst while commands arrive less than
	// 3 ms apart; when commands pause, the waiting ones start at once: a
	// burst is acknowledged first and its work follows (pool.go).
	StartRate  float64
	StartBurst int
	// QueueNotice is how many commands must wait before a new one for its
	// user to be told that it is queued (default 1024: a wait of several
	// seconds, as a status command holds its worker for about 2 s of
	// Slack's per-channel pacing: root post, answer, attachment).
	QueueNotice int
	// Observer is told about commands, jobs and status runs (metrics);
	// nil observes nothing.
	Observer Observer
	// Leadership decides whether this process does the once-only work:
	// restart recovery, the expiry sweep and the daily anchor (default
	// leader.Always{}: one process, always leader).
	Leadership leader.Leadership
	// Owners says which follower follows each running request (default:
	// this process's memory; several replicas share one, see owner.go).
	Owners Owners
}

// Router implements bot.Handler. Slow work (agent calls, executions) runs in
// goroutines owned by the router, bound to the context given to Start, so
// a slash command is acknowledged at once.
type Router struct {
	opt   Options
	hosts map[string]Host
	log   *slog.Logger
	// flights shares identical read-only runs (status commands, approval
	// checks) among concurrent callers.
	flights *flights
	// owners holds who follows each running request (Options.Owners); the
	// sweep adopts those nobody holds (owner.go).
	owners Owners
	// pool runs queueable work with a bound (pool.go).
	pool *pool

	mu    sync.Mutex
	chats map[string]bot.Chat
	// schedules is the scheduler `schedules` manages (UseSchedules).
	schedules Schedules
	base      context.Context
	stop      context.CancelFunc
	work      sync.WaitGroup // background work started by commands and actions
	loops     sync.WaitGroup // the expiry loop

	// argvSent, set only by tests (export_test.go), replaces the argv sent
	// to the agent: it plays a bot whose catalogue builds another argv.
	argvSent func([]string) []string
	// anchorPoll, set only by tests, replaces anchorPoll.
	anchorPoll time.Duration
}

var _ bot.Handler = (*Router)(nil)

// New checks opt and returns a Router. Call Register for each chat adapter,
// then Start.
func New(opt Options) (*Router, error) {
	switch {
	case len(opt.Hosts) == 0:
		return nil, errors.New("commands: no GitLab hosts configured: add at least one host with its agent")
	case opt.Approvals == nil || opt.Audit == nil:
		return nil, errors.New("commands: approvals and audit trail are required")
	}
	if opt.Logger == nil {
		opt.Logger = slog.Default()
	}
	if opt.Clock == nil {
		opt.Clock = time.Now
	}
	if opt.ProgressEvery <= 0 {
		opt.ProgressEvery = time.Second
	}
	if opt.AttachOver <= 0 {
		opt.AttachOver = 40
	}
	if opt.RestartWait <= 0 {
		opt.RestartWait = 3 * time.Minute
	}
	if opt.RestartPoll <= 0 {
		opt.RestartPoll = 5 * time.Second
	}
	if opt.BusyWait <= 0 {
		opt.BusyWait = 2 * time.Minute
	}
	if opt.RetryMax <= 0 {
		opt.RetryMax = 15 * time.Second
	}
	if opt.ExpireEvery <= 0 {
		opt.ExpireEvery = 30 * time.Second
	}
	if opt.AnchorEvery <= 0 {
		opt.AnchorEvery = 24 * time.Hour
	}
	if opt.Workers <= 0 {
		opt.Workers = 256
	}
	if opt.QueueNotice <= 0 {
		opt.QueueNotice = 1024
	}
	if opt.StartRate <= 0 {
		opt.StartRate = 20
	}
	if opt.StartBurst <= 0 {
		opt.StartBurst = 4
	}
	if opt.Leadership == nil {
		opt.Leadership = leader.Always{}
	}
	if opt.Owners == nil {
		opt.Owners = newFollowers()
	}
	r := &Router{opt: opt, hosts: map[string]Host{}, log: opt.Logger, chats: map[string]bot.Chat{}, flights: newFlights(time.Now), owners: opt.Owners, pool: newPool(opt.Workers, opt.StartRate, opt.StartBurst)}
	for _, h := range opt.Hosts {
		if h.Name == "" || h.Agent == nil {
			return nil, fmt.Errorf("commands: host %q has no name or no agent", h.Name)
		}
		if _, dup := r.hosts[h.Name]; dup {
			return nil, fmt.Errorf("commands: host %q is configured twice", h.Name)
		}
		r.hosts[h.Name] = h
	}
	if err := checkHostNames(opt.Hosts); err != nil {
		return nil, fmt.Errorf("commands: %w", err)
	}
	return r, nil
}

// Register makes chat the adapter for its platform: commands and clicks
// of that platform are answered on it, and background work (recovery
// after a restart, expiry, schedules) posts into threads it opened. A
// chat whose platform lacks a capability (bot.Capable) is used degraded
// (degrade.go).
func (r *Router) Register(chat bot.Chat) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.chats[chat.Platform()] = degrade(chat)
}

// chatFor is the chat a command or click arrived on: the one registered
// for its platform.
func (r *Router) chatFor(platform string) (bot.Chat, error) {
	if c, ok := r.chat(platform); ok {
		return c, nil
	}
	return nil, fmt.Errorf("commands: no chat registered for platform %q (Register the adapter's Chat before handing the router commands)", platform)
}

func (r *Router) chat(platform string) (bot.Chat, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	c, ok := r.chats[platform]
	return c, ok
}

// Start runs the once-only work under Options.Leadership: each time this
// process becomes leader it recovers requests left running by a previous
// process, then runs the expiry sweep and the daily anchor until
// leadership is lost. When this process is leader at once (always, with
// leader.Always), Start returns after the first recovery, so every running
// request has its follower before a command is handled, and returns the
// recovery's error (having stopped everything it started). Background
// work stops when ctx is cancelled or Close is called.
func (r *Router) Start(ctx context.Context) error {
	r.mu.Lock()
	if r.base != nil {
		r.mu.Unlock()
		return errors.New("commands: router already started")
	}
	r.base, r.stop = context.WithCancel(ctx)
	base := r.base
	r.mu.Unlock()
	r.logHead(ctx, "at start")
	// With leadership at once, Start waits for the first term's recovery
	// (report); later terms, or a first term that comes later, log theirs.
	// Terms never overlap, so report needs no lock.
	wait := r.opt.Leadership.IsLeader()
	recovered := make(chan error, 1)
	var report chan<- error
	if wait {
		report = recovered
	}
	r.loops.Add(1)
	go func() {
		defer r.loops.Done()
		err := r.opt.Leadership.RunWhileLeader(base, func(ctx context.Context) {
			r.lead(ctx, report)
			report = nil
		})
		if err != nil && base.Err() == nil {
			r.log.Error("leadership ended: recovery, expiry and anchors stop in this process", "err", err)
		}
	}()
	if !wait {
		return nil
	}
	select {
	case err := <-recovered:
		if err != nil {
			r.stop()
			r.loops.Wait()
			r.work.Wait()
			return fmt.Errorf("recovering running requests: %w", err)
		}
	case <-ctx.Done():
	}
	return nil
}

// lead is one term of leadership: recovery, then the sweep and anchor
// loops until ctx ends (leadership lost, or the router closing). A
// non-nil report receives the recovery's result (Start waits for it and
// stops the router when it failed); otherwise a failure is logged and the
// sweep adopts what recovery left (sweepRunning).
func (r *Router) lead(ctx context.Context, report chan<- error) {
	err := r.recoverRunning(ctx)
	if ctx.Err() != nil {
		err = nil // not a failure: leadership or the router ended
	}
	switch {
	case report != nil:
		report <- err // buffered
		if err != nil {
			return
		}
	case err != nil:
		r.log.Error("recovering running requests after becoming leader; the sweep adopts them", "err", err)
	}
	var loops sync.WaitGroup
	loops.Add(2)
	go func() {
		defer loops.Done()
		r.expireLoop(ctx)
	}()
	go func() {
		defer loops.Done()
		r.anchorLoop(ctx)
	}()
	loops.Wait()
}

// Wait blocks until all background work started so far has finished. The
// console uses it to run piped input one line at a time.
func (r *Router) Wait() { r.work.Wait() }

// Close stops background work and waits for it.
func (r *Router) Close() {
	r.mu.Lock()
	stop := r.stop
	r.mu.Unlock()
	if stop != nil {
		stop()
	}
	r.work.Wait()
	r.loops.Wait()
	// Bounded: a store that cannot be reached (etcd down at SIGTERM)
	// must not hold the shutdown; the head is then simply not logged.
	ctx, cancel := context.WithTimeout(context.Background(), stopHeadTimeout)
	defer cancel()
	r.logHead(ctx, "at stop")
}

// stopHeadTimeout bounds reading the audit head to log it at Close.
const stopHeadTimeout = 2 * time.Second

// background runs fn in a goroutine bound to the router's lifetime, not
// to the inbound request's. It never queues: use it for work that must
// start at once (approvals, executions, recovery); commands a person
// typed that may wait their turn go through queued (pool.go).
func (r *Router) background(name string, fn func(ctx context.Context)) {
	base := r.baseContext()
	r.work.Add(1)
	go func() {
		defer r.work.Done()
		r.guarded(base, name, fn)
	}()
}

// baseContext is the context background work runs under.
func (r *Router) baseContext() context.Context {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.base == nil {
		return context.Background()
	}
	return r.base
}

// guarded runs fn(ctx), logging a panic instead of ending the process.
func (r *Router) guarded(ctx context.Context, name string, fn func(ctx context.Context)) {
	defer func() {
		if p := recover(); p != nil {
			r.logger(ctx).Error("background work panicked", "work", name, "panic", p)
		}
	}()
	fn(ctx)
}

// audit records e through the Service, logging (never hiding) a failure
// to write it.
func (r *Router) audit(ctx context.Context, e approvals.AuditEntry) {
	if err := r.opt.Approvals.Record(ctx, e); err != nil {
		l := r.logger(ctx)
		if s := scopeOf(ctx); e.RequestID != "" && (s == nil || s.requestID() != e.RequestID) {
			l = l.With("request_id", e.RequestID)
		}
		l.Error("audit append failed", "action", e.Action, "err", err)
	}
}
