package approvalstest

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// Harness is one backend under test by RunStoreSuite.
type Harness struct {
	// Store is a fresh, empty store.
	Store approvals.Store
	// Reader lists the store's audit chain, as `audit verify` reads it.
	Reader auditchain.Reader
	// Key is the audit key the store seals its chain with.
	Key auditchain.Key
	// Tamper changes the stored bytes of audit entry seq behind the
	// store's back, as someone with write access to its files would.
	Tamper func(seq uint64, edit func([]byte) []byte) error
}

// RunStoreSuite is the conformance suite every approvals.Store backend must
// pass (bbolt in package storage, the in-memory Store here, etcd next):
// every transition and refusal of the workflow through a Service on the
// store, exactly one start under 100 concurrent approvals, Apply's atomic
// and optimistic-retry semantics (fn's side effects and entries of an
// attempt that did not commit are never written), and the audit chain
// under concurrent appends, verified by auditchain and with tampering
// detected; and Requests' filters, which text inside a request never fools.
func RunStoreSuite(t *testing.T, newStore func(t *testing.T) Harness) {
	t.Run("transitions", func(t *testing.T) { suiteTransitions(t, newStore) })
	t.Run("create and apply write with their entries or not at all", func(t *testing.T) { suiteAtomic(t, newStore(t)) })
	t.Run("100 concurrent approvals start once", func(t *testing.T) { suiteStartOnce(t, newStore(t)) })
	t.Run("optimistic retry", func(t *testing.T) { suiteRetry(t, newStore(t)) })
	t.Run("audit chain under concurrent appends", func(t *testing.T) { suiteChain(t, newStore(t)) })
	t.Run("emergency request and its review", func(t *testing.T) { suiteEmergency(t, newStore(t)) })
	t.Run("requests filter", func(t *testing.T) { suiteFilter(t, newStore(t)) })
}

// suiteEmergency: an emergency request keeps what makes it one through
// the store (Emergency, the emergency approver's decision, ReviewDue, the
// Review), and RequestFilter.ReviewOpen finds it until it is reviewed.
func suiteEmergency(t *testing.T, h Harness) {
	ctx := context.Background()
	f := newSuiteFixture(t, h, approvals.Policy{}) // its clock and verify
	svc, err := approvals.NewService(h.Store, approvals.Policy{Approvers: []string{suiteBob.ID}, Admins: []string{suiteCarol.ID}, EmergencyApprovers: []string{"oncall"}},
		approvals.WithClock(f.clock.Now), approvals.WithGroupResolver("", Groups{Members: map[string][]string{"oncall": {suiteCarol.ID}}}))
	if err != nil {
		t.Fatal(err)
	}
	nr := suiteRequest()
	nr.Emergency, nr.Reason = true, "INC-1"
	r, err := svc.Open(ctx, nr)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Approve(ctx, r.ID, suiteCarol, "fp-1"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Start(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Finish(ctx, r.ID, approvals.StateSucceeded, "done"); err != nil {
		t.Fatal(err)
	}
	open, err := h.Store.Requests(ctx, approvals.RequestFilter{ReviewOpen: true})
	if err != nil || len(open) != 1 {
		t.Fatalf("ReviewOpen: %d requests, %v; want 1", len(open), err)
	}
	got := open[0]
	if !got.Emergency || got.Required != 2 || len(got.Approvals()) != 1 || !got.Approvals()[0].EmergencyApprover ||
		!got.ReviewDue.Equal(suiteT0.Add(approvals.ReviewWithin)) || !slices.Equal(got.EmergencyApprovers, []string{"oncall"}) {
		t.Fatalf("stored emergency request lost what makes it one: %+v", got)
	}
	f.clock.Advance(approvals.ReviewWithin)
	if _, err := svc.MarkReviewReminded(ctx, r.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.Review(ctx, r.ID, suiteCarol, "postmortem"); err != nil {
		t.Fatal(err)
	}
	got, err = h.Store.Request(ctx, r.ID)
	if err != nil || got.Review == nil || got.Review.Note != "postmortem" || got.ReviewReminded.IsZero() {
		t.Fatalf("after the review: %+v, %v", got, err)
	}
	if open, err := h.Store.Requests(ctx, approvals.RequestFilter{ReviewOpen: true}); err != nil || len(open) != 0 {
		t.Fatalf("ReviewOpen after the review: %d, %v", len(open), err)
	}
	if rep := f.verify(t); rep.Break != nil || rep.Entries < 6 {
		t.Fatalf("audit chain after the emergency: %+v", rep)
	}
}

var (
	suiteAlice = approvals.User{ID: "U-alice", Name: "alice"} // requester
	suiteBob   = approvals.User{ID: "U-bob", Name: "bob"}     // approver
	suiteCarol = approvals.User{ID: "U-carol", Name: "carol"} // approver
	suiteT0    = time.Date(2025, 3, 4, 10, 30, 0, 0, time.UTC)
)

func suiteRequest() approvals.NewRequest {
	return approvals.NewRequest{
		Platform: "console", Channel: "C-ops", Host: "gitlab-1", Operation: "migrate",
		Argv: []string{"gitlab-rake", "db:migrate"}, Requester: suiteAlice, Reason: "upgrade",
		Fingerprint: "fp-1", FingerprintInfo: "3 migrations down",
		Params: map[string]string{"db": "main"},
	}
}

type suiteFixture struct {
	h     Harness
	svc   *approvals.Service
	clock *Clock
}

func newSuiteFixture(t *testing.T, h Harness, p approvals.Policy) *suiteFixture {
	t.Helper()
	f := &suiteFixture{h: h, clock: NewClock(suiteT0)}
	svc, err := approvals.NewService(h.Store, p, approvals.WithClock(f.clock.Now))
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	f.svc = svc
	return f
}

// entries counts the audit entries through the Reader.
func (f *suiteFixture) entries(t *testing.T) int {
	t.Helper()
	n := 0
	if _, err := f.h.Reader.ReadAudit(context.Background(), func(uint64, []byte) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	return n
}

func (f *suiteFixture) lastEntry(t *testing.T) approvals.AuditEntry {
	t.Helper()
	var last []byte
	if _, err := f.h.Reader.ReadAudit(context.Background(), func(_ uint64, b []byte) error { last = append(last[:0], b...); return nil }); err != nil {
		t.Fatal(err)
	}
	e, err := auditchain.Decode(last)
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func (f *suiteFixture) verify(t *testing.T) auditchain.Report {
	t.Helper()
	rep, err := auditchain.Verify(context.Background(), f.h.Reader, f.h.Key, nil)
	if err != nil {
		t.Fatalf("audit verify: %v", err)
	}
	return rep
}

// reach drives a fresh request into state s through the Service.
func (f *suiteFixture) reach(t *testing.T, s approvals.State) *approvals.Request {
	t.Helper()
	ctx := context.Background()
	r, err := f.svc.Open(ctx, suiteRequest())
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	step := func(_ *approvals.Request, err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("reach %s: %v", s, err)
		}
	}
	switch s {
	case approvals.StatePending:
	case approvals.StateApproved:
		step(f.svc.Approve(ctx, r.ID, suiteBob, "fp-1"))
	case approvals.StateRunning:
		step(f.svc.Approve(ctx, r.ID, suiteBob, "fp-1"))
		step(f.svc.Start(ctx, r.ID))
	case approvals.StateSucceeded, approvals.StateFailed, approvals.StateInterrupted:
		step(f.svc.Approve(ctx, r.ID, suiteBob, "fp-1"))
		step(f.svc.Start(ctx, r.ID))
		step(f.svc.Finish(ctx, r.ID, s, "done"))
	case approvals.StateDenied:
		step(f.svc.Deny(ctx, r.ID, suiteBob, "not now"))
	case approvals.StateCancelled:
		step(f.svc.Cancel(ctx, r.ID, suiteAlice))
	case approvals.StateExpired:
		f.clock.Advance(approvals.DefaultTTL)
		step(f.svc.Expire(ctx, r.ID))
	default:
		t.Fatalf("cannot reach %s", s)
	}
	got, err := f.h.Store.Request(ctx, r.ID)
	if err != nil || got.State != s {
		t.Fatalf("reach %s: got %v, %v", s, got, err)
	}
	return got
}

// suiteTransitions tries every action from every state and checks the
// resulting state and its audit entry, or the refusal, that nothing
// changed, and that the refusal was audited.
func suiteTransitions(t *testing.T, newStore func(t *testing.T) Harness) {
	type action struct {
		name string
		do   func(*suiteFixture, string) (*approvals.Request, error)
	}
	ctx := context.Background()
	actions := []action{
		{"approve", func(f *suiteFixture, id string) (*approvals.Request, error) {
			return f.svc.Approve(ctx, id, suiteCarol, "fp-1")
		}},
		{"approve-late", func(f *suiteFixture, id string) (*approvals.Request, error) {
			f.clock.Advance(approvals.DefaultTTL + time.Second)
			return f.svc.Approve(ctx, id, suiteCarol, "fp-1")
		}},
		{"deny", func(f *suiteFixture, id string) (*approvals.Request, error) {
			return f.svc.Deny(ctx, id, suiteCarol, "no")
		}},
		{"cancel", func(f *suiteFixture, id string) (*approvals.Request, error) { return f.svc.Cancel(ctx, id, suiteAlice) }},
		{"expire-early", func(f *suiteFixture, id string) (*approvals.Request, error) { return f.svc.Expire(ctx, id) }},
		{"expire", func(f *suiteFixture, id string) (*approvals.Request, error) {
			f.clock.Advance(approvals.DefaultTTL)
			return f.svc.Expire(ctx, id)
		}},
		{"start", func(f *suiteFixture, id string) (*approvals.Request, error) { return f.svc.Start(ctx, id) }},
		{"abandon", func(f *suiteFixture, id string) (*approvals.Request, error) {
			return f.svc.Abandon(ctx, id, "the start failed")
		}},
		{"setjob", func(f *suiteFixture, id string) (*approvals.Request, error) { return f.svc.SetJob(ctx, id, "job-1") }},
		{"finish", func(f *suiteFixture, id string) (*approvals.Request, error) {
			return f.svc.Finish(ctx, id, approvals.StateSucceeded, "all up")
		}},
		{"note", func(f *suiteFixture, id string) (*approvals.Request, error) {
			return f.svc.Note(ctx, id, "outcome unknown: agent unreachable")
		}},
		{"addparams", func(f *suiteFixture, id string) (*approvals.Request, error) {
			return f.svc.AddParams(ctx, id, map[string]string{"finalize_table": "ci_builds"}, "GitLab asked to finalize")
		}},
		// What was approved never changes: another value for a parameter
		// the request has is refused, in every state.
		{"addparams-changed", func(f *suiteFixture, id string) (*approvals.Request, error) {
			return f.svc.AddParams(ctx, id, map[string]string{"db": "ci"}, "another database")
		}},
	}
	// audited is the action of each change that is not a state transition
	// (its entry's Outcome is the state it leaves unchanged), and effect
	// checks what it changed.
	audited := map[string]string{"note": approvals.ActionRequestNoted, "addparams": approvals.ActionRequestAnnotated}
	effect := map[string]func(*approvals.Request) bool{
		"note":      func(r *approvals.Request) bool { return r.Note == "outcome unknown: agent unreachable" },
		"addparams": func(r *approvals.Request) bool { return r.Params["finalize_table"] == "ci_builds" },
	}
	const (
		P = approvals.StatePending
		A = approvals.StateApproved
		R = approvals.StateRunning
		S = approvals.StateSucceeded
		F = approvals.StateFailed
		I = approvals.StateInterrupted
		D = approvals.StateDenied
		X = approvals.StateExpired
		C = approvals.StateCancelled
	)
	type want struct {
		state approvals.State // state afterwards
		err   error           // nil: the action succeeded
	}
	var (
		decided    = approvals.ErrAlreadyDecided
		expired    = approvals.ErrExpired
		started    = approvals.ErrAlreadyStarted
		notRunning = approvals.ErrNotRunning
	)
	// table[from][action]
	table := map[approvals.State]map[string]want{
		P: {"approve": {A, nil}, "approve-late": {X, expired}, "deny": {D, nil}, "cancel": {C, nil},
			"expire-early": {P, approvals.ErrInvalid}, "expire": {X, nil},
			"start": {P, approvals.ErrNotApproved}, "abandon": {P, approvals.ErrNotApproved}, "setjob": {P, notRunning}, "finish": {P, notRunning}},
		A: {"approve": {A, decided}, "approve-late": {A, decided}, "deny": {A, decided}, "cancel": {A, decided},
			"expire-early": {A, decided}, "expire": {A, decided},
			"start": {R, nil}, "abandon": {I, nil}, "setjob": {A, notRunning}, "finish": {A, notRunning}},
		R: {"approve": {R, decided}, "approve-late": {R, decided}, "deny": {R, decided}, "cancel": {R, decided},
			"expire-early": {R, decided}, "expire": {R, decided},
			"start": {R, started}, "abandon": {R, started}, "setjob": {R, nil}, "finish": {S, nil},
			"note": {R, nil}},
	}
	for _, end := range []approvals.State{S, F, I} {
		table[end] = map[string]want{"approve": {end, decided}, "approve-late": {end, decided}, "deny": {end, decided},
			"cancel": {end, decided}, "expire-early": {end, decided}, "expire": {end, decided},
			"start": {end, started}, "abandon": {end, started}, "setjob": {end, notRunning}, "finish": {end, decided}}
	}
	for _, end := range []approvals.State{D, C} {
		table[end] = map[string]want{"approve": {end, decided}, "approve-late": {end, decided}, "deny": {end, decided},
			"cancel": {end, decided}, "expire-early": {end, decided}, "expire": {end, decided},
			"start": {end, decided}, "abandon": {end, decided}, "setjob": {end, notRunning}, "finish": {end, notRunning}}
	}
	table[X] = map[string]want{"approve": {X, expired}, "approve-late": {X, expired}, "deny": {X, expired},
		"cancel": {X, expired}, "expire-early": {X, expired}, "expire": {X, expired},
		"start": {X, expired}, "abandon": {X, expired}, "setjob": {X, notRunning}, "finish": {X, notRunning}}

	for _, from := range approvals.States() {
		// Only a running request takes a note; parameters may be added in
		// any state (what was approved never changes: AddParams refuses
		// another value for a key the request has).
		if _, ok := table[from]["note"]; !ok {
			table[from]["note"] = want{from, notRunning}
		}
		table[from]["addparams"] = want{from, nil}
		table[from]["addparams-changed"] = want{from, approvals.ErrInvalid}
	}
	for _, from := range approvals.States() {
		for _, a := range actions {
			w, found := table[from][a.name]
			if !found {
				t.Fatalf("table has no entry for %s/%s", from, a.name)
			}
			t.Run(string(from)+"/"+a.name, func(t *testing.T) {
				f := newSuiteFixture(t, newStore(t), approvals.Policy{Approvers: []string{suiteBob.ID, suiteCarol.ID}})
				before := f.reach(t, from)
				nAudit := f.entries(t)
				got, err := a.do(f, before.ID)
				after, rerr := f.h.Store.Request(ctx, before.ID)
				if rerr != nil {
					t.Fatal(rerr)
				}
				if after.State != w.state {
					t.Errorf("state after %s from %s = %s, want %s", a.name, from, after.State, w.state)
				}
				if w.err == nil {
					if err != nil {
						t.Fatalf("%s from %s: %v", a.name, from, err)
					}
					if got.State != w.state || got.Version != after.Version {
						t.Errorf("returned request state %s v%d, stored %s v%d", got.State, got.Version, after.State, after.Version)
					}
					if after.Version != before.Version+1 {
						t.Errorf("version %d -> %d, want +1", before.Version, after.Version)
					}
					if from != w.state && !from.CanBecome(w.state) {
						t.Errorf("State.CanBecome(%s, %s) = false but the Service allowed it", from, w.state)
					}
					if e := f.lastEntry(t); e.RequestID != before.ID || e.Outcome != string(w.state) {
						t.Errorf("the change was audited as %+v", e)
					}
					if act, ok := audited[a.name]; ok {
						if e := f.lastEntry(t); e.Action != act {
							t.Errorf("%s was audited as %s, want %s", a.name, e.Action, act)
						}
						if !effect[a.name](after) {
							t.Errorf("%s from %s did not change the stored request: %+v", a.name, from, after)
						}
					}
				} else {
					if !errors.Is(err, w.err) {
						t.Fatalf("%s from %s: err = %v, want %v", a.name, from, err, w.err)
					}
					if !approvals.IsRefusal(err) {
						t.Errorf("IsRefusal(%v) = false", err)
					}
					if got != nil {
						t.Errorf("refusal returned a request")
					}
					if after.State == from && after.Version != before.Version {
						t.Errorf("refused %s changed the request: version %d -> %d", a.name, before.Version, after.Version)
					}
					if e := f.lastEntry(t); e.Action != approvals.ActionRequestRefused || e.RequestID != before.ID {
						t.Errorf("the refusal was audited as %+v", e)
					}
				}
				if n := f.entries(t); n <= nAudit {
					t.Errorf("%s from %s wrote no audit entry", a.name, from)
				}
				f.verify(t)
			})
		}
	}
}

// suiteAtomic: Create and Apply write the request and its entries in one
// transaction, or nothing.
func suiteAtomic(t *testing.T, h Harness) {
	ctx := context.Background()
	f := newSuiteFixture(t, h, approvals.Policy{})
	r := &approvals.Request{ID: "aaaaaaaa", Host: "gitlab-1", Operation: "migrate", State: approvals.StatePending, Version: 1, CreatedAt: suiteT0}
	if err := h.Store.Create(ctx, r, approvals.AuditEntry{Action: "one"}, approvals.AuditEntry{Action: "two"}); err != nil {
		t.Fatal(err)
	}
	if n := f.entries(t); n != 2 {
		t.Fatalf("Create wrote %d entries, want 2", n)
	}
	r.Host = "changed after Create"
	if got, _ := h.Store.Request(ctx, r.ID); got.Host != "gitlab-1" {
		t.Fatal("the store kept the caller's request instead of a copy")
	}
	if err := h.Store.Create(ctx, &approvals.Request{ID: r.ID}, approvals.AuditEntry{Action: "dup"}); !errors.Is(err, approvals.ErrExists) {
		t.Fatalf("second Create = %v, want ErrExists", err)
	}
	if n := f.entries(t); n != 2 {
		t.Fatalf("a refused Create wrote entries (%d)", n)
	}

	refusal := errors.New("refused")
	_, err := h.Store.Apply(ctx, r.ID, func(q *approvals.Request) ([]approvals.AuditEntry, error) {
		q.State = approvals.StateDenied
		return []approvals.AuditEntry{{Action: "must not be written"}}, refusal
	})
	if err != refusal {
		t.Fatalf("Apply returned %v, want fn's error unchanged", err)
	}
	if got, _ := h.Store.Request(ctx, r.ID); got.State != approvals.StatePending || got.Version != 1 || f.entries(t) != 2 {
		t.Fatalf("a failed Apply wrote something: %+v, %d entries", got, f.entries(t))
	}
	if _, err := h.Store.Apply(ctx, "zzzzzzzz", func(*approvals.Request) ([]approvals.AuditEntry, error) {
		t.Error("fn called for a missing request")
		return nil, nil
	}); !errors.Is(err, approvals.ErrNotFound) {
		t.Fatalf("Apply(missing) = %v", err)
	}
	if _, err := h.Store.Apply(ctx, r.ID, func(q *approvals.Request) ([]approvals.AuditEntry, error) {
		q.ID = "bbbbbbbb"
		return nil, nil
	}); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("Apply changing the ID = %v", err)
	}
	up, err := h.Store.Apply(ctx, r.ID, func(q *approvals.Request) ([]approvals.AuditEntry, error) {
		q.State = approvals.StateApproved
		return []approvals.AuditEntry{{Action: "three", RequestID: q.ID}}, nil
	})
	if err != nil || up.Version != 2 || up.State != approvals.StateApproved || f.entries(t) != 3 || f.lastEntry(t).Action != "three" {
		t.Fatalf("Apply = %+v, %v; %d entries", up, err, f.entries(t))
	}
	if out, err := h.Store.Append(ctx, approvals.AuditEntry{Action: "four"}, approvals.AuditEntry{Action: "five"}); err != nil || len(out) != 2 || out[0].Seq != 4 || out[1].Seq != 5 {
		t.Fatalf("Append = %+v, %v", out, err)
	}
	list, err := h.Store.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StateApproved}})
	if err != nil || len(list) != 1 || list[0].ID != r.ID {
		t.Fatalf("Requests(approved) = %+v, %v", list, err)
	}
	f.verify(t)
}

// suiteStartOnce: 100 users approve and start concurrently; exactly the
// required approvals are recorded and exactly one start succeeds.
func suiteStartOnce(t *testing.T, h Harness) {
	ctx := context.Background()
	const required = 2
	f := newSuiteFixture(t, h, approvals.Policy{ApprovalsRequired: required})
	r, err := f.svc.Open(ctx, suiteRequest())
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg                sync.WaitGroup
		approved, started atomic.Int64
	)
	for i := range 100 {
		wg.Go(func() {
			u := approvals.User{ID: fmt.Sprintf("U-%03d", i)}
			if _, err := f.svc.Approve(ctx, r.ID, u, "fp-1"); err == nil {
				approved.Add(1)
			} else if !errors.Is(err, approvals.ErrAlreadyDecided) {
				t.Errorf("approve: %v", err)
			}
			if _, err := f.svc.Start(ctx, r.ID); err == nil {
				started.Add(1)
			} else if !errors.Is(err, approvals.ErrAlreadyStarted) && !errors.Is(err, approvals.ErrNotApproved) {
				t.Errorf("start: %v", err)
			}
		})
	}
	wg.Wait()
	if approved.Load() != required || started.Load() != 1 {
		t.Fatalf("%d approvals and %d starts succeeded, want %d and 1", approved.Load(), started.Load(), required)
	}
	counts := map[string]int{}
	if _, err := h.Reader.ReadAudit(ctx, func(_ uint64, b []byte) error {
		e, err := auditchain.Decode(b)
		counts[e.Action]++
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if counts[approvals.ActionRequestStarted] != 1 || counts[approvals.ActionRequestApproved] != required {
		t.Fatalf("audit actions %v", counts)
	}
	f.verify(t)
}

// suiteRetry: concurrent Applies on one request lose no update, and an
// attempt that did not commit leaves no trace, even when fn ran for it
// (a backend with optimistic concurrency runs fn again on the new
// version).
func suiteRetry(t *testing.T, h Harness) {
	ctx := context.Background()
	f := newSuiteFixture(t, h, approvals.Policy{})
	r := &approvals.Request{ID: "cccccccc", State: approvals.StatePending, Version: 1, CreatedAt: suiteT0}
	if err := h.Store.Create(ctx, r); err != nil {
		t.Fatal(err)
	}
	const writers = 50
	var (
		wg    sync.WaitGroup
		calls atomic.Int64
	)
	for i := range writers {
		wg.Go(func() {
			_, err := h.Store.Apply(ctx, r.ID, func(q *approvals.Request) ([]approvals.AuditEntry, error) {
				calls.Add(1)
				runtime.Gosched() // let other writers in: an optimistic backend must retry
				q.Decisions = append(q.Decisions, approvals.Decision{User: approvals.User{ID: fmt.Sprintf("U-%02d", i)}, Verdict: approvals.VerdictApprove})
				return []approvals.AuditEntry{{Action: "apply", Actor: fmt.Sprintf("U-%02d", i), Detail: fmt.Sprintf("after %d decisions", len(q.Decisions)-1)}}, nil
			})
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	got, err := h.Store.Request(ctx, r.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.Version != writers+1 || len(got.Decisions) != writers {
		t.Fatalf("after %d concurrent Applies: version %d, %d decisions; an update was lost", writers, got.Version, len(got.Decisions))
	}
	if c := calls.Load(); c > writers {
		t.Logf("fn ran %d times for %d commits (optimistic retries)", c, writers)
	}
	// Each committed attempt wrote its entry, which saw the version it
	// was committed on: entry k says "after k-1 decisions".
	seen := map[string]bool{}
	k := 0
	if _, err := h.Reader.ReadAudit(ctx, func(_ uint64, b []byte) error {
		e, err := auditchain.Decode(b)
		if err != nil {
			return err
		}
		if seen[e.Actor] {
			return fmt.Errorf("%s's entry was written twice", e.Actor)
		}
		seen[e.Actor] = true
		if want := fmt.Sprintf("after %d decisions", k); e.Detail != want {
			return fmt.Errorf("entry %d says %q, want %q: an entry of an attempt that did not commit was written", k+1, e.Detail, want)
		}
		k++
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if k != writers {
		t.Fatalf("%d entries for %d commits", k, writers)
	}
	f.verify(t)
}

// suiteChain: concurrent appends and transitions give one gapless chain
// that verifies; a changed entry is named.
func suiteChain(t *testing.T, h Harness) {
	ctx := context.Background()
	f := newSuiteFixture(t, h, approvals.Policy{})
	const writers, each = 32, 10
	var wg sync.WaitGroup
	seqs := make(chan uint64, writers*each)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				out, err := h.Store.Append(ctx, approvals.AuditEntry{Actor: fmt.Sprintf("writer-%02d-%02d", w, i), Action: approvals.ActionReadOnlyRun})
				if err != nil {
					t.Error(err)
					return
				}
				seqs <- out[0].Seq
			}
		})
	}
	// Transitions interleave with the appends.
	for range 4 {
		wg.Go(func() {
			r, err := f.svc.Open(ctx, suiteRequest())
			if err == nil {
				_, err = f.svc.Approve(ctx, r.ID, suiteBob, "fp-1")
			}
			if err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	close(seqs)
	distinct := map[uint64]bool{}
	for s := range seqs {
		if distinct[s] {
			t.Fatalf("seq %d assigned twice", s)
		}
		distinct[s] = true
	}
	rep := f.verify(t)
	if want := uint64(writers*each + 4*2); rep.Entries != want || rep.Head.Seq != want {
		t.Fatalf("chain has %d entries, head %d; want %d", rep.Entries, rep.Head.Seq, want)
	}
	if _, err := auditchain.Verify(ctx, h.Reader, auditchain.Key("not-the-key-0123456789abcdef012345"), nil); !errors.Is(err, auditchain.ErrBroken) {
		t.Fatalf("the chain verifies with another key: %v", err)
	}
	const victim = 57
	if err := h.Tamper(victim, func(b []byte) []byte {
		return []byte(strings.Replace(string(b), `"action":"`, `"action":"X`, 1))
	}); err != nil {
		t.Fatal(err)
	}
	rep, err := auditchain.Verify(ctx, h.Reader, h.Key, nil)
	if !errors.Is(err, auditchain.ErrBroken) || rep.Break == nil || rep.Break.Seq != victim {
		t.Fatalf("after changing entry %d: %+v, %v", victim, rep.Break, err)
	}
}
