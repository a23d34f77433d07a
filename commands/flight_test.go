package commands

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// TestFlightsShareOneRun: concurrent callers with one key get one run's
// result; the busy signal reaches every caller; a failure is not reused;
// a success is reused within its window only.
func TestFlightsShareOneRun(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var mu sync.Mutex
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	fs := newFlights(clock)
	ctx := context.Background()

	var runs atomic.Int64
	release := make(chan struct{})
	started := make(chan struct{})
	fn := func(onBusy func()) flightResult {
		if runs.Add(1) == 1 {
			close(started)
		}
		onBusy()
		<-release
		return flightResult{Taken: clock()}
	}
	const callers = 50
	var (
		wg     sync.WaitGroup
		busy   atomic.Int64
		shared atomic.Int64
	)
	first := make(chan struct{})
	for i := range callers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i > 0 {
				<-first
			}
			_, s := fs.do(ctx, "k", "h", time.Second, func() { busy.Add(1) }, func(onBusy func()) flightResult {
				if i == 0 {
					close(first)
				}
				return fn(onBusy)
			})
			if s {
				shared.Add(1)
			}
		}()
	}
	<-started
	// Let the others join before the run ends.
	deadline := time.Now().Add(10 * time.Second)
	for busy.Load() < callers && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	close(release)
	wg.Wait()
	if got := runs.Load(); got != 1 {
		t.Errorf("%d runs for %d concurrent callers, want 1", got, callers)
	}
	if got := shared.Load(); got != callers-1 {
		t.Errorf("%d callers shared the run, want %d", got, callers-1)
	}
	if got := busy.Load(); got != callers {
		t.Errorf("%d callers heard the run was busy, want %d", got, callers)
	}

	quick := func(onBusy func()) flightResult { runs.Add(1); return flightResult{} }
	// Within the reuse window: the same answer, no run.
	advance(500 * time.Millisecond)
	if _, s := fs.do(ctx, "k", "h", time.Second, nil, quick); !s || runs.Load() != 1 {
		t.Errorf("within the window: shared=%v runs=%d, want the earlier answer", s, runs.Load())
	}
	// After it: a new run.
	advance(time.Second)
	if _, s := fs.do(ctx, "k", "h", time.Second, nil, quick); s || runs.Load() != 2 {
		t.Errorf("after the window: shared=%v runs=%d, want a new run", s, runs.Load())
	}
	// Another key never shares.
	if _, s := fs.do(ctx, "other", "h", time.Second, nil, quick); s || runs.Load() != 3 {
		t.Errorf("other key: shared=%v runs=%d, want its own run", s, runs.Load())
	}
	// A failure is nobody else's answer.
	boom := errors.New("agent down")
	fail := func(onBusy func()) flightResult { runs.Add(1); return flightResult{Err: boom} }
	if res, _ := fs.do(ctx, "f", "h", time.Minute, nil, fail); !errors.Is(res.Err, boom) {
		t.Fatalf("failed run: err %v", res.Err)
	}
	if res, s := fs.do(ctx, "f", "h", time.Minute, nil, quick); s || res.Err != nil {
		t.Errorf("after a failure: shared=%v err=%v, want a fresh run", s, res.Err)
	}
}

// TestFlightWaiterStopsWithItsContext: a waiter whose context ends stops
// waiting with the cause; the run goes on for the others.
func TestFlightWaiterStopsWithItsContext(t *testing.T) {
	fs := newFlights(time.Now)
	release := make(chan struct{})
	inRun := make(chan struct{})
	done := make(chan flightResult)
	go func() {
		res, _ := fs.do(context.Background(), "k", "h", 0, nil, func(func()) flightResult {
			close(inRun)
			<-release
			return flightResult{}
		})
		done <- res
	}()
	<-inRun
	ctx, cancel := context.WithCancelCause(context.Background())
	stop := errors.New("bot stopping")
	cancel(stop)
	if res, shared := fs.do(ctx, "k", "h", 0, nil, nil); !shared || !errors.Is(res.Err, stop) {
		t.Errorf("cancelled waiter: shared=%v err=%v, want the cause", shared, res.Err)
	}
	close(release)
	if res := <-done; res.Err != nil {
		t.Errorf("the leader's run: %v", res.Err)
	}
}

// TestFlightsForgetAHostThatChanged: once a mutating job starts or ends on
// a host, no earlier answer about it is shared with a new caller, whether
// it had finished or was still in flight; other hosts keep theirs.
func TestFlightsForgetAHostThatChanged(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	fs := newFlights(func() time.Time { return now })
	ctx := context.Background()
	var runs atomic.Int64
	quick := func(func()) flightResult { runs.Add(1); return flightResult{} }

	fs.do(ctx, "a", "h1", time.Minute, nil, quick)
	fs.do(ctx, "b", "h2", time.Minute, nil, quick)
	fs.changed("h1")
	if _, shared := fs.do(ctx, "a", "h1", time.Minute, nil, quick); shared || runs.Load() != 3 {
		t.Fatalf("after a change on h1 its old answer was shared (runs %d)", runs.Load())
	}
	if _, shared := fs.do(ctx, "b", "h2", time.Minute, nil, quick); !shared || runs.Load() != 3 {
		t.Fatalf("a change on h1 dropped h2's answer (runs %d)", runs.Load())
	}

	// A run in flight when the host changes: its callers get it, a caller
	// after the change starts a new run, and the old run, once it ends,
	// neither removes the new one nor is kept for reuse.
	release := make(chan struct{})
	inFlight := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		fs.do(ctx, "c", "h1", time.Minute, nil, func(func()) flightResult { close(inFlight); <-release; runs.Add(1); return flightResult{} })
	}()
	<-inFlight
	fs.changed("h1")
	if _, shared := fs.do(ctx, "c", "h1", time.Minute, nil, quick); shared {
		t.Fatal("a caller after the change joined a run started before it")
	}
	close(release)
	<-done
	before := runs.Load()
	if _, shared := fs.do(ctx, "c", "h1", time.Minute, nil, quick); !shared || runs.Load() != before {
		t.Fatalf("the answer of the run after the change is not shared (shared %v, runs %d→%d)", shared, before, runs.Load())
	}
}
