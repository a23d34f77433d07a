package leader

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// manual is a Leadership whose terms the test begins and ends, and which
// counts its campaigns.
type manual struct {
	campaigns atomic.Int32
	leading   atomic.Bool
	terms     chan context.Context // a term to run, ended by its cancel
}

func (m *manual) IsLeader() bool { return m.leading.Load() }

func (m *manual) RunWhileLeader(ctx context.Context, fn func(context.Context)) error {
	m.campaigns.Add(1)
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case term := <-m.terms:
			tctx, cancel := context.WithCancel(ctx)
			stop := context.AfterFunc(term, cancel)
			m.leading.Store(true)
			fn(tctx)
			<-tctx.Done()
			m.leading.Store(false)
			stop()
			cancel()
		}
	}
}

// user records one RunWhileLeader user's terms.
type user struct {
	mu      sync.Mutex
	running int // fn calls in progress
	most    int // the most at once
	started int // fn calls
	began   chan struct{}
}

func (u *user) fn(ctx context.Context) {
	u.mu.Lock()
	u.running++
	u.started++
	u.most = max(u.most, u.running)
	u.mu.Unlock()
	u.began <- struct{}{}
	<-ctx.Done()
	u.mu.Lock()
	u.running--
	u.mu.Unlock()
}

// TestSharedTerms: two users of one Shared run in every term of the one
// campaign (never twice at once, stopped when the term ends, started again
// in the next), IsLeader is the campaign's, and a user whose ctx ends
// returns at once.
func TestSharedTerms(t *testing.T) {
	m := &manual{terms: make(chan context.Context)}
	s := NewShared(m)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	runDone := make(chan error, 1)
	go func() { runDone <- s.Run(ctx) }()

	a, b := &user{began: make(chan struct{}, 4)}, &user{began: make(chan struct{}, 4)}
	actx, stopA := context.WithCancel(ctx)
	aDone, bDone := make(chan error, 1), make(chan error, 1)
	go func() { aDone <- s.RunWhileLeader(actx, a.fn) }()
	go func() { bDone <- s.RunWhileLeader(ctx, b.fn) }()

	wait := func(c chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatalf("%s never began", what)
		}
	}
	quiet := func(c chan struct{}, what string) {
		t.Helper()
		select {
		case <-c:
			t.Fatalf("%s began outside a term", what)
		case <-time.After(100 * time.Millisecond):
		}
	}
	quiet(a.began, "a")
	if s.IsLeader() {
		t.Error("leader before any term")
	}
	for term := 1; term <= 2; term++ {
		tctx, end := context.WithCancel(context.Background())
		m.terms <- tctx
		wait(a.began, "a's term")
		wait(b.began, "b's term")
		if !s.IsLeader() {
			t.Errorf("term %d: not leader", term)
		}
		end()
		quiet(a.began, "a")
	}
	stopA()
	select {
	case err := <-aDone:
		if err != context.Canceled {
			t.Errorf("a returned %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("a's RunWhileLeader did not return when its ctx ended")
	}
	cancel()
	for _, c := range []chan error{bDone, runDone} {
		select {
		case <-c:
		case <-time.After(10 * time.Second):
			t.Fatal("did not return when ctx ended")
		}
	}
	if n := m.campaigns.Load(); n != 1 {
		t.Errorf("%d campaigns, want 1 for both users", n)
	}
	for name, u := range map[string]*user{"a": a, "b": b} {
		if u.started != 2 || u.most != 1 {
			t.Errorf("%s: %d terms run, at most %d at once; want 2 and 1", name, u.started, u.most)
		}
	}
}
