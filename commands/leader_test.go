package commands_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// switchedLeadership is a Leadership a test grants and revokes: what an
// election does to a replica.
type switchedLeadership struct {
	mu     sync.Mutex
	leader bool
	change chan struct{} // closed and replaced on every change
}

func newSwitchedLeadership() *switchedLeadership {
	return &switchedLeadership{change: make(chan struct{})}
}

func (l *switchedLeadership) set(leader bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.leader = leader
	close(l.change)
	l.change = make(chan struct{})
}

func (l *switchedLeadership) state() (bool, chan struct{}) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.leader, l.change
}

func (l *switchedLeadership) IsLeader() bool { leader, _ := l.state(); return leader }

func (l *switchedLeadership) RunWhileLeader(ctx context.Context, fn func(context.Context)) error {
	for {
		leader, change := l.state()
		if !leader {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-change:
				continue
			}
		}
		term, end := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() { defer close(done); fn(term) }()
		select {
		case <-ctx.Done():
		case <-change:
		}
		end()
		<-done
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
}

// TestSweepRunsOnlyWhileLeader: a replica that is not leader never
// expires a request (another replica's sweep does); once it becomes
// leader, its sweep expires the request and says so in the thread; Start
// does not wait for leadership.
func TestSweepRunsOnlyWhileLeader(t *testing.T) {
	clock := approvalstest.NewClock(time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC))
	lead := newSwitchedLeadership()
	s := simtest.Start(t, simtest.Options{Clock: clock.Now, Policy: approvals.Policy{TTL: time.Minute},
		Router: commands.Options{Leadership: lead, ExpireEvery: 20 * time.Millisecond}})
	rec := newRecorder()
	s.Router.Register(rec)
	s.Run(t) // returns although this replica is not leader
	id, thread := openMigrate(t, s, rec)
	clock.Advance(2 * time.Minute)

	time.Sleep(200 * time.Millisecond) // ten sweeps, had this replica been leader
	if got, _ := s.DB.Request(context.Background(), id); got.State != approvals.StatePending {
		t.Fatalf("a replica without leadership swept: the request is %s", got.State)
	}
	lead.set(true)
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(strings.Join(rec.thread(thread), "\n"), "Expired: no approval within") {
		if time.Now().After(deadline) {
			t.Fatalf("the leader's sweep never expired the request; thread:\n%s", strings.Join(rec.thread(thread), "\n"))
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got, _ := s.DB.Request(context.Background(), id); got.State != approvals.StateExpired {
		t.Fatalf("the thread says expired, the request is %s", got.State)
	}
}
