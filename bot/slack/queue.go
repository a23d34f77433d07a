package slack

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"time"
)

// sender serialises writes per channel: Slack allows about one message per
// second in a channel, so each channel gets a lane that sends one job at a
// time, at least interval apart, retrying through the retrier.
//
// A job that edits a message (merge key = the message ts) and is still
// waiting in its lane absorbs later edits of the same message: only the
// newest content is sent, and every caller whose edit was absorbed gets the
// outcome of the send that carried its successor. Nothing is dropped
// silently: each caller gets nil only once Slack accepted content at least
// as new as its own, and an error otherwise.
type sender struct {
	interval time.Duration
	timeout  time.Duration
	retry    retrier

	mu    sync.Mutex
	lanes map[string]*lane
	wg    sync.WaitGroup
}

type lane struct {
	queue   []*job
	running bool
	last    time.Time // when the last send ended
}

type job struct {
	method   string
	mergeKey string
	call     func(context.Context) (string, error)
	ctx      context.Context // the newest caller's, for its values
	waiters  []chan result
	cancel   context.CancelFunc // set once the job runs
	started  bool
}

type result struct {
	val string
	err error
}

func newSender(interval, timeout time.Duration, r retrier) *sender {
	return &sender{interval: interval, timeout: timeout, retry: r, lanes: map[string]*lane{}}
}

// send queues call on channel's lane and waits for its outcome. mergeKey,
// when not empty, lets a later job with the same key replace this one's
// call while it still waits.
func (s *sender) send(ctx context.Context, channel, method, mergeKey string, call func(context.Context) (string, error)) (string, error) {
	done := make(chan result, 1)
	s.mu.Lock()
	l := s.lanes[channel]
	if l == nil {
		l = &lane{}
		s.lanes[channel] = l
	}
	var j *job
	if mergeKey != "" {
		for _, q := range l.queue {
			if q.mergeKey == mergeKey {
				j = q
				break
			}
		}
	}
	if j != nil {
		j.call, j.ctx, j.method = call, ctx, method
		j.waiters = append(j.waiters, done)
	} else {
		j = &job{method: method, mergeKey: mergeKey, call: call, ctx: ctx, waiters: []chan result{done}}
		l.queue = append(l.queue, j)
	}
	if !l.running {
		l.running = true
		s.wg.Add(1)
		go s.run(channel, l)
	}
	s.mu.Unlock()

	select {
	case r := <-done:
		return r.val, r.err
	case <-ctx.Done():
		s.abandon(l, j, done)
		return "", fmt.Errorf("slack %s in %s: not confirmed before the caller gave up: %w", method, channel, ctx.Err())
	}
}

// abandon forgets a waiter whose caller gave up; a job nobody waits for
// any more is taken out of the queue, or cancelled if it runs.
func (s *sender) abandon(l *lane, j *job, done chan result) {
	s.mu.Lock()
	defer s.mu.Unlock()
	j.waiters = slices.DeleteFunc(j.waiters, func(c chan result) bool { return c == done })
	if len(j.waiters) > 0 {
		return
	}
	if j.started {
		if j.cancel != nil {
			j.cancel()
		}
		return
	}
	l.queue = slices.DeleteFunc(l.queue, func(q *job) bool { return q == j })
}

// run is a lane's worker. It exits once the lane has been idle for one
// interval, so idle channels cost nothing and pacing survives the exit.
func (s *sender) run(channel string, l *lane) {
	defer s.wg.Done()
	for {
		s.mu.Lock()
		wait := s.interval - time.Since(l.last)
		if len(l.queue) == 0 && wait <= 0 {
			l.running = false
			if s.lanes[channel] == l {
				delete(s.lanes, channel)
			}
			s.mu.Unlock()
			return
		}
		if wait > 0 {
			// Pace; waiting here also gives edits time to merge.
			s.mu.Unlock()
			sleep(wait)
			continue
		}
		j := l.queue[0]
		l.queue = l.queue[1:]
		// The send outlives a single caller's cancellation (others may
		// wait on it), but never the send timeout.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(j.ctx), s.timeout)
		j.started, j.cancel = true, cancel
		call, method := j.call, j.method
		s.mu.Unlock()

		v, err := s.retry.do(ctx, method, call)
		cancel()

		s.mu.Lock()
		l.last = time.Now()
		waiters := j.waiters
		j.waiters = nil
		s.mu.Unlock()
		for _, w := range waiters {
			w <- result{v, err}
		}
	}
}

// idle waits until every lane has drained (tests, shutdown).
func (s *sender) idle() { s.wg.Wait() }

func sleep(d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	<-t.C
}
