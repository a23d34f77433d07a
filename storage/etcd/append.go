package etcd

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// commitTimeout bounds one group commit of appends: they belong to several
// callers, so no one caller's context can bound it.
const commitTimeout = 15 * time.Second

// errClosed: Append after Close.
var errClosed = errors.New("the etcd store is closed")

// Append implements approvals.Store: entries, in order, in one Txn under
// the compare on the audit head. Appends that overlap in this process are
// grouped into one Txn (as bbolt's Batch does), up to etcd's limits, so
// 64 concurrent writers cost a few round trips instead of 64 retries; a
// group that lost the head to another replica is sealed again and
// retried. A call's entries are never split: a call that alone exceeds a
// limit is refused, writing nothing.
//
// If ctx ends while the group is in flight, Append returns ctx's error and
// the entries may still be committed (as with any write whose answer was
// not awaited).
func (s *Store) Append(ctx context.Context, entries ...approvals.AuditEntry) ([]approvals.AuditEntry, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	prepared, err := auditchain.PrepareAll(entries)
	if err != nil {
		return nil, fmt.Errorf("append to the audit log: %w", err)
	}
	if len(prepared) == 0 {
		return nil, nil
	}
	// One call alone must fit (with the head): checked on its sealed size
	// after the empty chain's head, which the real head changes by only a
	// prev_hash and a few digits per entry, within the margin under etcd's
	// request limit.
	alone := s.seal(auditchain.Head{}, prepared, time.Now())
	if err := s.fits(len(alone.ops)+1, alone.bytes+len(prepared)*80); err != nil {
		return nil, fmt.Errorf("append to the audit log: %w", err)
	}
	call := &appendCall{prepared: prepared, done: make(chan struct{})}
	if err := s.appends.enqueue(call); err != nil {
		return nil, fmt.Errorf("append to the audit log: %w", err)
	}
	select {
	case <-call.done:
	case <-ctx.Done():
		return nil, fmt.Errorf("append to the audit log: %w", ctx.Err())
	}
	if call.err != nil {
		return nil, fmt.Errorf("append to the audit log in etcd %s: %w", s.c.Prefix(), call.err)
	}
	return call.out, nil
}

// appendCall is one Append waiting for its group's commit.
type appendCall struct {
	prepared []auditchain.Prepared
	out      []approvals.AuditEntry
	err      error
	done     chan struct{}
}

// appender commits queued appends in groups, one group at a time, from one
// goroutine: a lone append is committed at once, and the appends that
// arrive while a group is in flight form the next group.
type appender struct {
	s *Store

	mu     sync.Mutex
	queue  []*appendCall
	closed bool
	wake   chan struct{} // buffered 1: the queue is not empty
	exited chan struct{}
}

func newAppender(s *Store) *appender {
	a := &appender{s: s, wake: make(chan struct{}, 1), exited: make(chan struct{})}
	go a.run()
	return a
}

func (a *appender) enqueue(c *appendCall) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return errClosed
	}
	a.queue = append(a.queue, c)
	select {
	case a.wake <- struct{}{}:
	default:
	}
	return nil
}

// close commits what is queued and stops.
func (a *appender) close() {
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	select {
	case a.wake <- struct{}{}:
	default:
	}
	<-a.exited
}

func (a *appender) run() {
	defer close(a.exited)
	var head chainHead // the last head seen; a stale one costs one retry
	for range a.wake {
		for {
			a.mu.Lock()
			group := a.queue
			a.queue = nil
			closed := a.closed
			a.mu.Unlock()
			if len(group) == 0 {
				if closed {
					return
				}
				break
			}
			for len(group) > 0 {
				n := a.s.groupSize(head.head, group)
				head = a.s.commitGroup(head, group[:n])
				group = group[n:]
			}
		}
	}
}

// groupSize is how many calls from the start of group fit in one Txn (at
// least one: Append checked that each call fits alone).
func (s *Store) groupSize(h auditchain.Head, group []*appendCall) int {
	ops, bytes := 1, 0
	now := time.Now()
	for i, c := range group {
		se := s.seal(h, c.prepared, now)
		ops += len(se.ops)
		bytes += se.bytes
		if i > 0 && s.fits(ops, bytes) != nil {
			return i
		}
		h = se.next
	}
	return len(group)
}

// commitGroup seals group after the head and commits it, sealing again
// while another writer moved the head; it reports each call's outcome and
// returns the head it leaves.
func (s *Store) commitGroup(h chainHead, group []*appendCall) chainHead {
	ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
	defer cancel()
	var prepared []auditchain.Prepared
	for _, c := range group {
		prepared = append(prepared, c.prepared...)
	}
	finish := func(err error) {
		for _, c := range group {
			c.err = err
			close(c.done)
		}
	}
	for {
		se := s.seal(h.head, prepared, time.Now())
		resp, err := s.kv.Txn(ctx).
			If(s.headCmp(h)).
			Then(append(se.ops, s.headPut(se.next))...).
			Else(s.headGet()).
			Commit()
		if err != nil {
			finish(err)
			return chainHead{}
		}
		if resp.Succeeded {
			out := se.out
			for _, c := range group {
				c.out, out = out[:len(c.prepared):len(c.prepared)], out[len(c.prepared):]
				close(c.done)
			}
			return chainHead{head: se.next, rev: resp.Header.Revision}
		}
		if h, err = parseHead(resp.Responses[0].GetResponseRange()); err != nil {
			finish(err)
			return chainHead{}
		}
	}
}
