package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// How /readyz checks. An agent's health is asked at most once per
// agentHealthTTL whatever the probe traffic (concurrent probes share one
// call), and a call that takes longer than agentHealthTimeout counts as no
// answer. The database's write probe is shared the same way, for a second.
const (
	agentHealthTTL     = 10 * time.Second
	agentHealthTimeout = 5 * time.Second
	dbProbeTTL         = time.Second
	dbProbeTimeout     = 5 * time.Second
)

// readiness answers /readyz: 200 only when the database is writable, every
// configured agent answered its health call in time and every chat
// platform was reached since start; otherwise 503. The JSON body names
// what is not ready and why in a few words; the error itself goes to the
// log (the listener may face the internet, the log does not).
type readiness struct {
	checks    []*cachedCheck
	platforms []*reached
}

// readyBody is /readyz's answer.
type readyBody struct {
	Ready bool `json:"ready"`
	// NotReady maps each check that failed ("database", "agent:NAME",
	// "slack", "mattermost") to why.
	NotReady map[string]string `json:"not_ready,omitempty"`
}

func (rd *readiness) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body := rd.check(r.Context())
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	if !body.Ready {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	_ = json.NewEncoder(w).Encode(body)
}

// check runs every check (the cached ones concurrently) and says what is
// not ready.
func (rd *readiness) check(ctx context.Context) readyBody {
	notReady := map[string]string{}
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, c := range rd.checks {
		wg.Go(func() {
			if why := c.result(ctx); why != "" {
				mu.Lock()
				notReady[c.name] = why
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	for _, p := range rd.platforms {
		if why := p.why(); why != "" {
			notReady[p.name] = why
		}
	}
	if len(notReady) == 0 {
		return readyBody{Ready: true}
	}
	return readyBody{NotReady: notReady}
}

// healthz answers /healthz: the process is alive and serving HTTP.
func healthz(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte(`{"alive":true}` + "\n"))
}

// cachedCheck is one readiness check whose result is reused for ttl and
// which concurrent probes share (singleflight), so that probe traffic
// never multiplies the calls behind it. A change of its result is logged
// once, with the error.
type cachedCheck struct {
	name    string
	ttl     time.Duration
	timeout time.Duration
	run     func(ctx context.Context) error
	// why turns a failure into the few words /readyz shows.
	why func(err error) string
	log *slog.Logger

	flight singleflight.Group
	mu     sync.Mutex
	at     time.Time
	last   string // "" when ready
}

// result is "" when the check passed within its ttl, else why not.
func (c *cachedCheck) result(ctx context.Context) string {
	c.mu.Lock()
	if !c.at.IsZero() && time.Since(c.at) < c.ttl {
		defer c.mu.Unlock()
		return c.last
	}
	c.mu.Unlock()
	// The call is shared: one probe going away must not cancel it for the
	// others, so it runs on its own deadline.
	v, _, _ := c.flight.Do("", func() (any, error) {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), c.timeout)
		defer cancel()
		err := c.run(cctx)
		why := ""
		if err != nil {
			why = c.why(err)
		}
		c.mu.Lock()
		changed := why != c.last || c.at.IsZero() && why != ""
		c.at, c.last = time.Now(), why
		c.mu.Unlock()
		switch {
		case changed && err != nil:
			c.log.Warn("not ready", "check", c.name, "why", why, "err", err)
		case changed:
			c.log.Info("ready again", "check", c.name)
		}
		return why, nil
	})
	return v.(string)
}

// storeCheck is the store's write probe: "database" for the bbolt file,
// "etcd" for etcd (a write through the replica's connection, so a replica
// cut off from etcd is not ready).
func storeCheck(kind string, probe func(context.Context) error, log *slog.Logger) *cachedCheck {
	name := "database"
	if kind == backendEtcd {
		name = "etcd"
	}
	return &cachedCheck{
		name: name, ttl: dbProbeTTL, timeout: dbProbeTimeout, run: probe, log: log,
		why: func(err error) string {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Sprintf("no write within %s; the bot's log has the error", dbProbeTimeout)
			}
			return "not writable; the bot's log has the error"
		},
	}
}

// agentCheck is one host's agent health call (agent.Client.Health; an
// agent that cannot be asked is never ready).
func agentCheck(host string, a any, log *slog.Logger) *cachedCheck {
	c, canAsk := a.(interface {
		Health(context.Context) (agent.Health, error)
	})
	return &cachedCheck{
		name: "agent:" + host, ttl: agentHealthTTL, timeout: agentHealthTimeout, log: log,
		run: func(ctx context.Context) error {
			if !canAsk {
				return fmt.Errorf("the bot's client for %s has no health call", host)
			}
			h, err := c.Health(ctx)
			if err == nil && h.Status != "ok" {
				err = fmt.Errorf("the agent says its status is %q", h.Status)
			}
			return err
		},
		why: func(err error) string {
			if errors.Is(err, context.DeadlineExceeded) {
				return fmt.Sprintf("no answer to its health call within %s", agentHealthTimeout)
			}
			return "its health call failed; the bot's log has the error"
		},
	}
}

// reached records whether a chat platform was reached since start: its
// start check (auth.test, GetMe) is retried with backoff until it
// succeeds, and the platform is not ready until then.
type reached struct {
	name string // "slack", "mattermost"
	call string // what is called, for people: "auth.test"

	mu   sync.Mutex
	ok   bool
	last error
}

func (p *reached) why() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.ok:
		return ""
	case p.last != nil:
		return fmt.Sprintf("not reached since start (%s failed); the bot's log has the error", p.call)
	}
	return fmt.Sprintf("not reached yet (%s)", p.call)
}

// Retry bounds of a platform's start check.
const (
	reachFirstWait = time.Second
	reachMaxWait   = time.Minute
	reachTimeout   = 30 * time.Second
)

// run calls reach until it succeeds or ctx ends, waiting between attempts
// (reachFirstWait, doubling to reachMaxWait): a chat platform that is down
// at start may come back, and /readyz says so meanwhile. Only a refusal
// of the bot's credentials (bot.ErrCredentialsRefused) fails serve: no
// retry can help, the configuration must change.
func (p *reached) run(ctx context.Context, reach func(context.Context) error, log *slog.Logger) error {
	wait := reachFirstWait
	for {
		cctx, cancel := context.WithTimeout(ctx, reachTimeout)
		err := reach(cctx)
		cancel()
		p.mu.Lock()
		p.ok, p.last = err == nil, err
		p.mu.Unlock()
		if errors.Is(err, bot.ErrCredentialsRefused) {
			return err
		}
		if err == nil || ctx.Err() != nil {
			return nil
		}
		log.Warn("chat platform not reached; retrying", "platform", p.name, "call", p.call, "err", err, "wait", wait)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
		wait = min(2*wait, reachMaxWait)
	}
}
