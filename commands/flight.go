package commands

import (
	"context"
	"errors"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
)

// flights lets identical read-only agent runs share one job: whoever asks
// while a run with the same key is in flight, or within reuse after it
// ended well, gets its result instead of starting another job. Fifty
// approvers of one request then cost one status run, and two hundred
// `status` commands a handful.
//
// Invariants: at most one run per key is in flight; a failed run is never
// reused; entries older than their reuse window are dropped on the next
// call, so the map holds only live keys. A run is shared only within one
// generation of its host: when a mutating job starts or ends there
// (changed), every earlier answer about that host, finished or still in
// flight, stops being given to new callers, so nobody is told "6 down"
// from before a migrate that has just succeeded.
type flights struct {
	now func() time.Time

	mu    sync.Mutex
	calls map[string]*flight
	gen   map[string]uint64 // by host name
}

// flight is one shared run. done is closed once res is set; busy is closed
// the first time the run had to wait for a free slot on the agent, so that
// every caller can say so in its own thread.
type flight struct {
	done     chan struct{}
	busy     chan struct{}
	busyOnce sync.Once
	reuse    time.Duration
	host     string
	gen      uint64
	res      flightResult
	ended    time.Time
}

// flightResult is what a shared run gives every caller. Out is read-only
// once the run has ended. Taken is when the run started: the time the
// answer describes.
type flightResult struct {
	Rec   agent.JobRecord
	Out   *output
	Err   error
	Taken time.Time
}

func newFlights(now func() time.Time) *flights {
	return &flights{now: now, calls: map[string]*flight{}, gen: map[string]uint64{}}
}

// changed starts a new generation for host: a mutating job starts or ended
// there, so what read-only runs said before no longer holds.
// A nil flights (a Router built bare in a test) has nothing to forget.
func (fs *flights) changed(host string) {
	if fs == nil {
		return
	}
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.gen[host]++
}

// markBusy closes f.busy once.
func (f *flight) markBusy() { f.busyOnce.Do(func() { close(f.busy) }) }

// join returns the flight for key and whether the caller leads it (and so
// must run it with lead). A finished flight is joined while it is younger
// than its reuse window and succeeded; any flight only while its host has
// not changed since it started.
func (fs *flights) join(key, host string, reuse time.Duration) (*flight, bool) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	now := fs.now()
	for k, f := range fs.calls {
		if !f.ended.IsZero() && now.Sub(f.ended) > f.reuse {
			delete(fs.calls, k)
		}
	}
	if f, ok := fs.calls[key]; ok && f.gen == fs.gen[host] {
		return f, false
	}
	// A flight of an older generation is left to its callers; the new one
	// takes its key (finish never removes a successor).
	f := &flight{done: make(chan struct{}), busy: make(chan struct{}), reuse: reuse, host: host, gen: fs.gen[host]}
	fs.calls[key] = f
	return f, true
}

// finish publishes f's result.
func (fs *flights) finish(key string, f *flight, res flightResult) {
	fs.mu.Lock()
	f.res, f.ended = res, fs.now()
	if (res.Err != nil || f.reuse <= 0 || f.gen != fs.gen[f.host]) && fs.calls[key] == f {
		delete(fs.calls, key) // a failure, or a stale answer, is nobody else's
	}
	fs.mu.Unlock()
	close(f.done)
}

// do runs fn once for all concurrent callers with the same key and returns
// its result and whether this caller shared another's run. The first
// caller runs fn in its own goroutine (so the router's bookkeeping of
// background work covers it); the others wait. onBusy (may be nil) is
// called, once per caller, if the run has to wait for the agent. A waiting
// caller whose ctx ends stops waiting; the run goes on for the others.
func (fs *flights) do(ctx context.Context, key, host string, reuse time.Duration, onBusy func(), fn func(onBusy func()) flightResult) (flightResult, bool) {
	f, leader := fs.join(key, host, reuse)
	if leader {
		// The deferred finish also releases the waiters if fn panics.
		res := flightResult{Err: errors.New("the shared agent run stopped unexpectedly"), Taken: fs.now()}
		defer func() { fs.finish(key, f, res) }()
		var once sync.Once
		res = fn(func() {
			f.markBusy()
			if onBusy != nil {
				once.Do(onBusy)
			}
		})
		return res, false
	}
	busy := f.busy
	for {
		select {
		case <-f.done:
			return f.res, true
		case <-busy:
			busy = nil
			if onBusy != nil {
				onBusy()
			}
		case <-ctx.Done():
			return flightResult{Err: context.Cause(ctx), Taken: fs.now()}, true
		}
	}
}
