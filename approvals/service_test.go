package approvals_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
)

var (
	alice = approvals.User{ID: "U-alice", Name: "alice"} // requester
	bob   = approvals.User{ID: "U-bob", Name: "bob"}     // approver
	carol = approvals.User{ID: "U-carol", Name: "carol"} // approver
	dave  = approvals.User{ID: "U-dave", Name: "dave"}   // approver
	eve   = approvals.User{ID: "U-eve", Name: "eve"}     // nobody
)

var t0 = time.Date(2025, 3, 4, 10, 30, 0, 0, time.UTC)

type fixture struct {
	svc   *approvals.Service
	store *approvalstest.Store
	audit *approvalstest.Store // the same store: it holds the audit trail
	clock *approvalstest.Clock
}

func newFixture(t *testing.T, p approvals.Policy, opts ...approvals.Option) *fixture {
	t.Helper()
	f := &fixture{store: &approvalstest.Store{}, clock: approvalstest.NewClock(t0)}
	f.audit = f.store
	f.store.Now = f.clock.Now
	svc, err := approvals.NewService(f.store, p, append([]approvals.Option{approvals.WithClock(f.clock.Now)}, opts...)...)
	if err != nil {
		t.Fatalf("NewService: %v", err)
	}
	f.svc = svc
	return f
}

func migrate(by approvals.User) approvals.NewRequest {
	return approvals.NewRequest{
		Platform: "console", Channel: "C-ops", Host: "gitlab-1", Operation: "migrate",
		Argv: []string{"gitlab-rake", "db:migrate"}, Requester: by, Reason: "upgrade to 17.9",
		Fingerprint: "fp-1", FingerprintInfo: "3 migrations down",
	}
}

func (f *fixture) open(t *testing.T) *approvals.Request {
	t.Helper()
	r, err := f.svc.Open(context.Background(), migrate(alice))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return r
}

func (f *fixture) state(t *testing.T, id string) approvals.State {
	t.Helper()
	r, err := f.store.Request(context.Background(), id)
	if err != nil {
		t.Fatalf("Request(%s): %v", id, err)
	}
	return r.State
}

// must(f())(t) returns f's value, failing t if f returned an error.
func must[T any](v T, err error) func(testing.TB) T {
	return func(t testing.TB) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

// reach drives a fresh request into state s through the Service.
func (f *fixture) reach(t *testing.T, s approvals.State) *approvals.Request {
	t.Helper()
	ctx := context.Background()
	r := f.open(t)
	switch s {
	case approvals.StatePending:
	case approvals.StateApproved:
		must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t)
	case approvals.StateRunning:
		must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t)
		must(f.svc.Start(ctx, r.ID))(t)
	case approvals.StateSucceeded, approvals.StateFailed, approvals.StateInterrupted:
		must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t)
		must(f.svc.Start(ctx, r.ID))(t)
		must(f.svc.Finish(ctx, r.ID, s, "done"))(t)
	case approvals.StateDenied:
		must(f.svc.Deny(ctx, r.ID, bob, "not now"))(t)
	case approvals.StateCancelled:
		must(f.svc.Cancel(ctx, r.ID, alice))(t)
	case approvals.StateExpired:
		f.clock.Advance(approvals.DefaultTTL)
		must(f.svc.Expire(ctx, r.ID))(t)
	default:
		t.Fatalf("cannot reach %s", s)
	}
	if got := f.state(t, r.ID); got != s {
		t.Fatalf("reach %s: got %s", s, got)
	}
	return must(f.store.Request(ctx, r.ID))(t)
}

// The state machine (every action from every state) and exactly-once
// start under concurrency are checked on every store backend by
// approvalstest.RunStoreSuite (see approvalstest/suite_test.go and
// storage/suite_test.go).

func TestCanBecome(t *testing.T) {
	allowed := map[[2]approvals.State]bool{
		{"pending", "approved"}: true, {"pending", "denied"}: true, {"pending", "expired"}: true, {"pending", "cancelled"}: true,
		{"approved", "running"}: true, {"approved", "interrupted"}: true,
		{"running", "succeeded"}: true, {"running", "failed"}: true, {"running", "interrupted"}: true,
	}
	for _, a := range approvals.States() {
		if !a.Valid() {
			t.Errorf("%s not valid", a)
		}
		if a.Terminal() != (a != "pending" && a != "approved" && a != "running") {
			t.Errorf("%s.Terminal() = %v", a, a.Terminal())
		}
		for _, b := range approvals.States() {
			if got := a.CanBecome(b); got != allowed[[2]approvals.State{a, b}] {
				t.Errorf("%s.CanBecome(%s) = %v", a, b, got)
			}
		}
	}
	if approvals.State("bogus").Valid() {
		t.Error("bogus state is valid")
	}
}

func TestSelfApproval(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{}) // anyone but the requester may approve
	r := f.open(t)
	if err := f.svc.CheckApprover(ctx, r.ID, alice); !errors.Is(err, approvals.ErrSelfApproval) {
		t.Fatalf("CheckApprover(requester) = %v", err)
	}
	_, err := f.svc.Approve(ctx, r.ID, alice, "fp-1")
	if !errors.Is(err, approvals.ErrSelfApproval) {
		t.Fatalf("Approve(requester) = %v", err)
	}
	if !strings.Contains(err.Error(), "a different person must approve it") {
		t.Errorf("message does not say what to do: %v", err)
	}
	// The requester cannot veto their own request either: they cancel it.
	if _, err := f.svc.Deny(ctx, r.ID, alice, ""); !errors.Is(err, approvals.ErrSelfApproval) || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("Deny(requester) = %v", err)
	}
	// Anyone else may approve under the default policy.
	if err := f.svc.CheckApprover(ctx, r.ID, eve); err != nil {
		t.Fatalf("CheckApprover(eve) = %v", err)
	}
	if got := must(f.svc.Approve(ctx, r.ID, eve, "fp-1"))(t); got.State != approvals.StateApproved {
		t.Fatalf("state = %s", got.State)
	}
	refused := 0
	for _, e := range f.audit.Entries() {
		if e.Action == approvals.ActionRequestRefused && e.Actor == alice.ID {
			refused++
		}
	}
	if refused != 3 {
		t.Errorf("%d refusals of alice audited, want 3", refused)
	}
}

func TestNotApprover(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{Approvers: []string{bob.ID}})
	r := f.open(t)
	if err := f.svc.CheckApprover(ctx, r.ID, eve); !errors.Is(err, approvals.ErrNotApprover) {
		t.Fatalf("CheckApprover(eve) = %v", err)
	}
	if _, err := f.svc.Approve(ctx, r.ID, eve, "fp-1"); !errors.Is(err, approvals.ErrNotApprover) {
		t.Fatalf("Approve(eve) = %v", err)
	}
	if _, err := f.svc.Deny(ctx, r.ID, eve, "no"); !errors.Is(err, approvals.ErrNotApprover) {
		t.Fatalf("Deny(eve) = %v", err)
	}
	if _, err := f.svc.Cancel(ctx, r.ID, bob); !errors.Is(err, approvals.ErrNotRequester) {
		t.Fatalf("Cancel(bob) = %v", err)
	}
	if s := f.state(t, r.ID); s != approvals.StatePending {
		t.Fatalf("state = %s after refusals", s)
	}
	if err := f.svc.CheckApprover(ctx, "zzzzzzzz", bob); !errors.Is(err, approvals.ErrNotFound) {
		t.Fatalf("CheckApprover(unknown) = %v", err)
	}
	if _, err := f.svc.Approve(ctx, "zzzzzzzz", bob, ""); !errors.Is(err, approvals.ErrNotFound) {
		t.Fatalf("Approve(unknown) = %v", err)
	}
	if _, err := f.svc.Approve(ctx, r.ID, approvals.User{}, ""); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("Approve(no user) = %v", err)
	}
}

func TestGroupApprover(t *testing.T) {
	ctx := context.Background()
	groups := approvalstest.Groups{Members: map[string][]string{"dbas": {dave.ID, alice.ID}}}
	f := newFixture(t, approvals.Policy{Approvers: []string{bob.ID}, ApproverGroups: []string{"dbas"}}, approvals.WithGroupResolver("", groups))
	r := f.open(t)
	if _, err := f.svc.Approve(ctx, r.ID, eve, "fp-1"); !errors.Is(err, approvals.ErrNotApprover) {
		t.Fatalf("Approve(eve, not in group) = %v", err)
	}
	// alice is in the group but is the requester.
	if _, err := f.svc.Approve(ctx, r.ID, alice, "fp-1"); !errors.Is(err, approvals.ErrSelfApproval) {
		t.Fatalf("Approve(alice) = %v", err)
	}
	if err := f.svc.CheckApprover(ctx, r.ID, dave); err != nil {
		t.Fatalf("CheckApprover(dave) = %v", err)
	}
	if got := must(f.svc.Approve(ctx, r.ID, dave, "fp-1"))(t); got.State != approvals.StateApproved {
		t.Fatalf("state = %s", got.State)
	}
	if !slices.Equal(r.ApproverGroups, []string{"dbas"}) || !slices.Equal(r.ApproverIDs, []string{bob.ID}) {
		t.Errorf("approvers not copied onto the request: %v %v", r.ApproverIDs, r.ApproverGroups)
	}

	// A resolver failure is an error for the operator, not a refusal.
	broken := approvalstest.Groups{Err: errors.New("slack: rate limited")}
	f2 := newFixture(t, approvals.Policy{ApproverGroups: []string{"dbas"}}, approvals.WithGroupResolver("", broken))
	r2 := f2.open(t)
	_, err := f2.svc.Approve(ctx, r2.ID, dave, "fp-1")
	if err == nil || approvals.IsRefusal(err) || !strings.Contains(err.Error(), "rate limited") {
		t.Fatalf("Approve with broken resolver = %v", err)
	}

	// Groups without a resolver are a configuration error.
	_, err = approvals.NewService(&approvalstest.Store{}, approvals.Policy{ApproverGroups: []string{"dbas"}})
	if !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("NewService(groups, no resolver) = %v", err)
	}
}

func TestExpired(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{TTL: 10 * time.Minute})
	r := f.open(t)
	if !r.ExpiresAt.Equal(t0.Add(10 * time.Minute)) {
		t.Fatalf("ExpiresAt = %v", r.ExpiresAt)
	}
	f.clock.Advance(9 * time.Minute)
	if err := f.svc.CheckApprover(ctx, r.ID, bob); err != nil {
		t.Fatalf("CheckApprover before expiry = %v", err)
	}
	f.clock.Advance(time.Minute) // exactly at ExpiresAt: expired
	if err := f.svc.CheckApprover(ctx, r.ID, bob); !errors.Is(err, approvals.ErrExpired) {
		t.Fatalf("CheckApprover after expiry = %v", err)
	}
	if s := f.state(t, r.ID); s != approvals.StateExpired {
		t.Fatalf("CheckApprover did not mark the request expired: %s", s)
	}
	_, err := f.svc.Approve(ctx, r.ID, bob, "fp-1")
	if !errors.Is(err, approvals.ErrExpired) || !strings.Contains(err.Error(), "10:40 UTC") {
		t.Fatalf("Approve after expiry = %v", err)
	}
	acts := f.audit.Actions()
	if !slices.Contains(acts, approvals.ActionRequestExpired) {
		t.Errorf("no expiry audited: %v", acts)
	}

	// Lazy expiry inside Approve itself.
	r2 := f.open(t)
	f.clock.Advance(11 * time.Minute)
	if _, err := f.svc.Deny(ctx, r2.ID, bob, ""); !errors.Is(err, approvals.ErrExpired) {
		t.Fatalf("Deny after expiry = %v", err)
	}
	got := must(f.store.Request(ctx, r2.ID))(t)
	if got.State != approvals.StateExpired || got.Decisions[len(got.Decisions)-1].Verdict != approvals.VerdictExpire {
		t.Fatalf("lazy expiry: %+v", got)
	}
}

func TestExpireDue(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{})
	old := f.open(t)
	f.clock.Advance(10 * time.Minute)
	fresh := f.open(t)
	f.clock.Advance(5 * time.Minute) // old is due, fresh is not
	approved := f.open(t)            // approved within ApprovedDeadline
	must(f.svc.Approve(ctx, approved.ID, bob, "fp-1"))(t)
	got, err := f.svc.ExpireDue(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].ID != old.ID || got[0].State != approvals.StateExpired {
		t.Fatalf("ExpireDue = %+v", got)
	}
	if s := f.state(t, fresh.ID); s != approvals.StatePending {
		t.Errorf("fresh request is %s", s)
	}
	if s := f.state(t, approved.ID); s != approvals.StateApproved {
		t.Errorf("approved request is %s", s)
	}
}

func TestAlreadyDecided(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{})
	r := f.open(t)
	must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t)
	_, err := f.svc.Approve(ctx, r.ID, carol, "fp-1")
	if !errors.Is(err, approvals.ErrAlreadyDecided) {
		t.Fatalf("second approval = %v", err)
	}
	want := fmt.Sprintf("request %s was already approved by bob at 10:30 UTC", r.ID)
	if !strings.HasPrefix(err.Error(), want) {
		t.Errorf("message = %q, want prefix %q", err, want)
	}
	if err := f.svc.CheckApprover(ctx, r.ID, carol); !errors.Is(err, approvals.ErrAlreadyDecided) {
		t.Fatalf("CheckApprover on approved = %v", err)
	}

	r2 := f.open(t)
	must(f.svc.Deny(ctx, r2.ID, bob, "change freeze"))(t)
	_, err = f.svc.Approve(ctx, r2.ID, carol, "fp-1")
	if !errors.Is(err, approvals.ErrAlreadyDecided) || !strings.Contains(err.Error(), "denied by bob") || !strings.Contains(err.Error(), "change freeze") {
		t.Fatalf("approve after deny = %v", err)
	}
}

func TestDenyVetoWithTwoRequired(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{ApprovalsRequired: 2, Approvers: []string{bob.ID, carol.ID, dave.ID}})
	r := f.open(t)
	if r.Required != 2 {
		t.Fatalf("Required = %d", r.Required)
	}
	got := must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t)
	if got.State != approvals.StatePending || len(got.Approvals()) != 1 {
		t.Fatalf("after one of two approvals: %s %d", got.State, len(got.Approvals()))
	}
	got = must(f.svc.Deny(ctx, r.ID, carol, "wait for the maintenance window"))(t)
	if got.State != approvals.StateDenied {
		t.Fatalf("after deny: %s", got.State)
	}
	if _, err := f.svc.Approve(ctx, r.ID, dave, "fp-1"); !errors.Is(err, approvals.ErrAlreadyDecided) {
		t.Fatalf("approve after veto = %v", err)
	}
	if _, err := f.svc.Start(ctx, r.ID); !errors.Is(err, approvals.ErrAlreadyDecided) {
		t.Fatalf("start after veto = %v", err)
	}

	// An approver who already approved may still veto while pending.
	r2 := f.open(t)
	must(f.svc.Approve(ctx, r2.ID, bob, "fp-1"))(t)
	if got := must(f.svc.Deny(ctx, r2.ID, bob, "changed my mind"))(t); got.State != approvals.StateDenied {
		t.Fatalf("deny after own approval: %s", got.State)
	}
}

func TestDuplicateApproval(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{ApprovalsRequired: 2})
	r := f.open(t)
	must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t)
	if err := f.svc.CheckApprover(ctx, r.ID, bob); !errors.Is(err, approvals.ErrDuplicateApproval) {
		t.Fatalf("CheckApprover(bob again) = %v", err)
	}
	_, err := f.svc.Approve(ctx, r.ID, bob, "fp-1")
	if !errors.Is(err, approvals.ErrDuplicateApproval) || !strings.Contains(err.Error(), "1 more approval from someone else") {
		t.Fatalf("Approve(bob again) = %v", err)
	}
	if s := f.state(t, r.ID); s != approvals.StatePending {
		t.Fatalf("state = %s", s)
	}
	got := must(f.svc.Approve(ctx, r.ID, carol, "fp-1"))(t)
	if got.State != approvals.StateApproved || len(got.Decisions) != 2 {
		t.Fatalf("after carol: %s, %d decisions", got.State, len(got.Decisions))
	}
}

func TestFingerprintChanged(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{})
	r := f.open(t)
	_, err := f.svc.Approve(ctx, r.ID, bob, "fp-2")
	if !errors.Is(err, approvals.ErrStateChanged) {
		t.Fatalf("Approve(changed fingerprint) = %v", err)
	}
	for _, s := range []string{"3 migrations down", "open a new request", "alice"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("message %q does not mention %q", err, s)
		}
	}
	got := must(f.store.Request(ctx, r.ID))(t)
	if got.State != approvals.StatePending || len(got.Decisions) != 0 || got.Version != r.Version {
		t.Fatalf("refused approval changed the request: %+v", got)
	}
	if got := must(f.svc.Approve(ctx, r.ID, bob, "fp-1"))(t); got.State != approvals.StateApproved {
		t.Fatalf("state = %s", got.State)
	}

	// Without a fingerprint on the request, any current one is accepted.
	nr := migrate(alice)
	nr.Fingerprint = ""
	r2 := must(f.svc.Open(ctx, nr))(t)
	must(f.svc.Approve(ctx, r2.ID, bob, "whatever"))(t)
}

func TestOpenPolicy(t *testing.T) {
	ctx := context.Background()
	p := approvals.Policy{
		Requesters:    map[string][]string{"migrate": {alice.ID}, "restart": nil},
		Channels:      []string{"C-ops"},
		RequireReason: true,
	}
	f := newFixture(t, p)

	cases := []struct {
		name string
		edit func(*approvals.NewRequest)
		want error
	}{
		{"allowed", func(*approvals.NewRequest) {}, nil},
		{"requester not listed", func(n *approvals.NewRequest) { n.Requester = eve }, approvals.ErrNotAllowed},
		{"empty list means anyone", func(n *approvals.NewRequest) { n.Requester, n.Operation = eve, "restart" }, nil},
		{"missing subcommand means anyone", func(n *approvals.NewRequest) { n.Requester, n.Operation = eve, "finalize" }, nil},
		{"wrong channel", func(n *approvals.NewRequest) { n.Channel = "C-random" }, approvals.ErrNotAllowed},
		{"no reason", func(n *approvals.NewRequest) { n.Reason = "  " }, approvals.ErrReasonRequired},
		{"no argv", func(n *approvals.NewRequest) { n.Argv = nil }, approvals.ErrInvalid},
		{"no host", func(n *approvals.NewRequest) { n.Host = "" }, approvals.ErrInvalid},
		{"no requester", func(n *approvals.NewRequest) { n.Requester = approvals.User{} }, approvals.ErrInvalid},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			nr := migrate(alice)
			c.edit(&nr)
			r, err := f.svc.Open(ctx, nr)
			if c.want == nil {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				if r.State != approvals.StatePending || r.Version != 1 || len(r.ID) != approvals.IDLength {
					t.Fatalf("opened %+v", r)
				}
				return
			}
			if !errors.Is(err, c.want) {
				t.Fatalf("Open = %v, want %v", err, c.want)
			}
		})
	}
	if err := f.svc.CheckRequester("status", "C-random", alice); !errors.Is(err, approvals.ErrNotAllowed) {
		t.Errorf("CheckRequester(wrong channel) = %v", err)
	}
	n := 0
	for _, e := range f.audit.Entries() {
		if e.Action == approvals.ActionCommandRefused {
			n++
		}
	}
	if n != 3 {
		t.Errorf("%d command.refused entries, want 3 (the policy refusals)", n)
	}
}

func TestOpenRequestFields(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{Approvers: []string{bob.ID}, TTL: time.Hour})
	nr := migrate(alice)
	nr.Params = map[string]string{"database": "main"}
	r := must(f.svc.Open(ctx, nr))(t)
	nr.Argv[0] = "rm" // the caller's slices are copied
	nr.Params["database"] = "ci"
	got := must(f.store.Request(ctx, r.ID))(t)
	if got.Argv[0] != "gitlab-rake" || got.Params["database"] != "main" {
		t.Fatalf("request aliases the caller's argv or params: %v %v", got.Argv, got.Params)
	}
	if got.Required != 1 || !got.CreatedAt.Equal(t0) || !got.ExpiresAt.Equal(t0.Add(time.Hour)) || got.Requester != alice {
		t.Fatalf("fields: %+v", got)
	}
	e := f.audit.Entries()[0]
	if e.Action != approvals.ActionRequestOpened || e.RequestID != r.ID || e.Actor != alice.ID ||
		!slices.Equal(e.Argv, []string{"gitlab-rake", "db:migrate"}) || !strings.Contains(e.Detail, "upgrade to 17.9") {
		t.Fatalf("opened entry: %+v", e)
	}
}

func TestIDCollisionRetry(t *testing.T) {
	ctx := context.Background()
	ids := []string{"aaaaaaaa", "aaaaaaaa", "bbbbbbbb"}
	var mu sync.Mutex
	gen := func() (string, error) {
		mu.Lock()
		defer mu.Unlock()
		id := ids[0]
		if len(ids) > 1 {
			ids = ids[1:]
		}
		return id, nil
	}
	f := newFixture(t, approvals.Policy{}, approvals.WithIDGenerator(gen))
	if r := f.open(t); r.ID != "aaaaaaaa" {
		t.Fatalf("first ID %s", r.ID)
	}
	if r := f.open(t); r.ID != "bbbbbbbb" {
		t.Fatalf("second ID %s, want the retry", r.ID)
	}
	// The generator is stuck on an existing ID: Open gives up.
	if _, err := f.svc.Open(ctx, migrate(alice)); !errors.Is(err, approvals.ErrExists) {
		t.Fatalf("Open with colliding IDs = %v", err)
	}
}

func TestIDs(t *testing.T) {
	seen := make(map[string]bool)
	for range 1000 {
		id, err := approvals.NewID()
		if err != nil {
			t.Fatal(err)
		}
		if p, err := approvals.ParseID(id); err != nil || p != id {
			t.Fatalf("ParseID(%q) = %q, %v", id, p, err)
		}
		if seen[id] {
			t.Fatalf("duplicate ID %s in 1000", id)
		}
		seen[id] = true
	}
	if id, err := approvals.ParseID("  R7K2QXA9 "); err != nil || id != "r7k2qxa9" {
		t.Errorf("ParseID(upper) = %q, %v", id, err)
	}
	for _, bad := range []string{"", "r7k2qxa", "r7k2qxa9x", "r7k2qxa0", "r7k2qxl9", "r7k2-xa9"} {
		if _, err := approvals.ParseID(bad); !errors.Is(err, approvals.ErrInvalid) {
			t.Errorf("ParseID(%q) = %v", bad, err)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	cases := []struct {
		name string
		p    approvals.Policy
		ok   bool
	}{
		{"zero with defaults", approvals.Policy{}, true},
		{"negative approvals", approvals.Policy{ApprovalsRequired: -1}, false},
		{"negative ttl", approvals.Policy{TTL: -time.Minute}, false},
		{"more approvals than approvers", approvals.Policy{ApprovalsRequired: 3, Approvers: []string{"a", "b", "b"}}, false},
		{"enough approvers", approvals.Policy{ApprovalsRequired: 2, Approvers: []string{"a", "b"}}, true},
		{"groups make the count unknowable", approvals.Policy{ApprovalsRequired: 3, Approvers: []string{"a"}, ApproverGroups: []string{"g"}}, true},
		{"empty approver", approvals.Policy{Approvers: []string{""}}, false},
		{"empty channel", approvals.Policy{Channels: []string{""}}, false},
		{"empty admin", approvals.Policy{Admins: []string{"a", ""}}, false},
		{"empty requester", approvals.Policy{Requesters: map[string][]string{"migrate": {""}}}, false},
		{"empty subcommand", approvals.Policy{Requesters: map[string][]string{"": {"a"}}}, false},
	}
	for _, c := range cases {
		err := c.p.WithDefaults().Validate()
		if (err == nil) != c.ok {
			t.Errorf("%s: Validate = %v", c.name, err)
		}
		if err != nil && !errors.Is(err, approvals.ErrInvalid) {
			t.Errorf("%s: %v does not wrap ErrInvalid", c.name, err)
		}
	}
	if err := (approvals.Policy{}).Validate(); err == nil {
		t.Error("Validate without defaults accepted ApprovalsRequired 0")
	}
	_, err := approvals.NewService(&approvalstest.Store{}, approvals.Policy{ApprovalsRequired: -2})
	if err == nil || !strings.Contains(err.Error(), "at least 1") {
		t.Errorf("NewService(bad policy) = %v", err)
	}
	if _, err := approvals.NewService(nil, approvals.Policy{}); err == nil {
		t.Error("NewService(nil store) accepted")
	}
}

func TestRunningAndFinish(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{})
	a := f.reach(t, approvals.StateRunning)
	f.reach(t, approvals.StateApproved)
	running := must(f.svc.Running(ctx))(t)
	if len(running) != 1 || running[0].ID != a.ID {
		t.Fatalf("Running = %+v", running)
	}
	must(f.svc.SetJob(ctx, a.ID, "job-7"))(t)
	entries := len(f.audit.Entries())
	// The same job again (a re-attached follower) is fine, and not
	// recorded twice.
	if again := must(f.svc.SetJob(ctx, a.ID, "job-7"))(t); again.JobID != "job-7" {
		t.Fatalf("SetJob(same job) = %+v", again)
	}
	if n := len(f.audit.Entries()); n != entries {
		t.Errorf("recording the same job again appended %d audit entries, want none", n-entries)
	}
	if _, err := f.svc.SetJob(ctx, a.ID, "job-8"); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("SetJob(other job) = %v", err)
	}
	if _, err := f.svc.Finish(ctx, a.ID, approvals.StateApproved, ""); !errors.Is(err, approvals.ErrInvalid) {
		t.Fatalf("Finish(approved) = %v", err)
	}
	f.clock.Advance(time.Minute)
	got := must(f.svc.Finish(ctx, a.ID, approvals.StateFailed, "PG::LockNotAvailable"))(t)
	if got.State != approvals.StateFailed || got.Error != "PG::LockNotAvailable" || got.JobID != "job-7" || !got.EndedAt.Equal(t0.Add(time.Minute)) {
		t.Fatalf("finished: %+v", got)
	}
	last := f.audit.Entries()[len(f.audit.Entries())-1]
	if last.Action != approvals.ActionRequestFinished || last.Outcome != "failed" || last.Actor != approvals.ActorSystem {
		t.Fatalf("last entry %+v", last)
	}
}

// TestWriteFailureWritesNothing: a change and its audit entries are one
// write, so a failing store leaves neither: no request without its
// record, no record without its request.
func TestWriteFailureWritesNothing(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{})
	diskFull := errors.New("disk full")
	f.store.Fail = func(op string, r *approvals.Request) error { return diskFull }
	if _, err := f.svc.Open(ctx, migrate(alice)); !errors.Is(err, diskFull) || approvals.IsRefusal(err) {
		t.Fatalf("Open with a failing store = %v", err)
	}
	if all := must(f.store.Requests(ctx, approvals.RequestFilter{}))(t); len(all) != 0 || len(f.audit.Entries()) != 0 {
		t.Fatalf("a failed Open left %d requests and %d audit entries", len(all), len(f.audit.Entries()))
	}

	f.store.Fail = nil
	r := f.reach(t, approvals.StateApproved)
	before := len(f.audit.Entries())
	// The start fails to be written (the store, or its audit, fails).
	f.store.Fail = func(op string, r *approvals.Request) error {
		if r != nil && r.State == approvals.StateRunning {
			return diskFull
		}
		return nil
	}
	if _, err := f.svc.Start(ctx, r.ID); !errors.Is(err, diskFull) || approvals.IsRefusal(err) {
		t.Fatalf("Start with a failing store = %v", err)
	}
	if s := f.state(t, r.ID); s != approvals.StateApproved || len(f.audit.Entries()) != before {
		t.Fatalf("a failed Start left the request %s with %d new audit entries", s, len(f.audit.Entries())-before)
	}
	// Whoever recorded the approval ends the request: nothing ran.
	got := must(f.svc.Abandon(ctx, r.ID, "the start could not be recorded"))(t)
	if got.State != approvals.StateInterrupted || !got.StartedAt.IsZero() || !strings.Contains(got.Error, "nothing ran: the start could not be recorded") {
		t.Fatalf("abandoned: %+v", got)
	}
	last := f.audit.Entries()[len(f.audit.Entries())-1]
	if last.Action != approvals.ActionRequestFinished || last.Outcome != "interrupted" || !strings.Contains(last.Detail, "nothing ran") {
		t.Fatalf("abandon audited as %+v", last)
	}
	f.store.Fail = nil
	if _, err := f.svc.Start(ctx, r.ID); !errors.Is(err, approvals.ErrAlreadyDecided) || !strings.Contains(err.Error(), "never started") {
		t.Fatalf("Start after abandon = %v", err)
	}
	if _, err := f.svc.Abandon(ctx, f.reach(t, approvals.StateRunning).ID, "x"); !errors.Is(err, approvals.ErrAlreadyStarted) {
		t.Fatalf("Abandon(running) = %v", err)
	}
}

// TestSweepAbandonsStuckApproved: an approved request nobody started
// (its start and its abandon both failed) is ended by the sweep after
// ApprovedDeadline, not left approved until a restart.
func TestSweepAbandonsStuckApproved(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{})
	r := f.reach(t, approvals.StateApproved)
	f.clock.Advance(approvals.ApprovedDeadline - time.Second)
	if got := must(f.svc.ExpireDue(ctx))(t); len(got) != 0 {
		t.Fatalf("swept before the deadline: %+v", got)
	}
	f.clock.Advance(time.Second)
	got := must(f.svc.ExpireDue(ctx))(t)
	if len(got) != 1 || got[0].ID != r.ID || got[0].State != approvals.StateInterrupted || !strings.Contains(got[0].Error, "not started within") {
		t.Fatalf("sweep = %+v", got)
	}
}

func TestStoreFailure(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{})
	r := f.open(t)
	f.store.Fail = func(string, *approvals.Request) error { return errors.New("bolt: disk I/O") }
	_, err := f.svc.Approve(ctx, r.ID, bob, "fp-1")
	if err == nil || approvals.IsRefusal(err) || !strings.Contains(err.Error(), "disk I/O") {
		t.Fatalf("Approve with failing store = %v", err)
	}
}

// cancellingStore cancels the caller's context right after a successful
// update, as if the chat request timed out at the worst moment.
type cancellingStore struct {
	*approvalstest.Store
	cancel context.CancelFunc
}

func (s cancellingStore) Apply(ctx context.Context, id string, fn func(*approvals.Request) ([]approvals.AuditEntry, error)) (*approvals.Request, error) {
	r, err := s.Store.Apply(ctx, id, fn)
	s.cancel()
	return r, err
}

func TestCancelledContextStillAudits(t *testing.T) {
	store := &approvalstest.Store{}
	audit := store
	ctx, cancel := context.WithCancel(context.Background())
	svc, err := approvals.NewService(cancellingStore{store, cancel}, approvals.Policy{})
	if err != nil {
		t.Fatal(err)
	}
	r := must(svc.Open(ctx, migrate(alice)))(t)
	if _, err := svc.Approve(ctx, r.ID, bob, "fp-1"); err != nil {
		t.Fatalf("Approve: %v", err)
	}
	if acts := audit.Actions(); !slices.Equal(acts, []string{approvals.ActionRequestOpened, approvals.ActionRequestApproved}) {
		t.Fatalf("audit actions %v", acts)
	}
}

// TestNote: a running request's note is set, replaced and cleared, each
// change audited as request.noted with the note; repeating the same note
// writes nothing; finishing clears it; a request that is not running takes
// no note (refused, audited).
func TestNote(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t, approvals.Policy{})
	r := f.reach(t, approvals.StateRunning)
	const lost = "outcome unknown: agent unreachable since 10:31 UTC"
	steps := []struct{ note, detail string }{
		{lost, lost},
		{"outcome unknown: agent unreachable since 10:40 UTC", "outcome unknown: agent unreachable since 10:40 UTC"},
		{"", "note cleared"},
		{lost, lost},
	}
	for _, s := range steps {
		before := len(f.audit.Entries())
		got := must(f.svc.Note(ctx, r.ID, s.note))(t)
		if got.Note != s.note || got.State != approvals.StateRunning {
			t.Fatalf("Note(%q) = note %q, state %s", s.note, got.Note, got.State)
		}
		if stored := must(f.store.Request(ctx, r.ID))(t); stored.Note != s.note {
			t.Fatalf("stored note %q, want %q", stored.Note, s.note)
		}
		es := f.audit.Entries()
		if len(es) != before+1 || es[len(es)-1].Action != approvals.ActionRequestNoted || es[len(es)-1].Detail != s.detail || es[len(es)-1].RequestID != r.ID {
			t.Fatalf("Note(%q) audited %+v", s.note, es[before:])
		}
	}
	before := len(f.audit.Entries())
	version := must(f.store.Request(ctx, r.ID))(t).Version
	if got := must(f.svc.Note(ctx, r.ID, lost))(t); got.Note != lost {
		t.Fatalf("same note again = %q", got.Note)
	}
	if len(f.audit.Entries()) != before || must(f.store.Request(ctx, r.ID))(t).Version != version {
		t.Fatal("the same note again was written")
	}
	done := must(f.svc.Finish(ctx, r.ID, approvals.StateSucceeded, "exit 0"))(t)
	if done.Note != "" {
		t.Fatalf("finished with note %q", done.Note)
	}
	before = len(f.audit.Entries())
	if _, err := f.svc.Note(ctx, r.ID, lost); !errors.Is(err, approvals.ErrNotRunning) {
		t.Fatalf("Note(succeeded) = %v", err)
	}
	if es := f.audit.Entries(); len(es) != before+1 || es[len(es)-1].Action != approvals.ActionRequestRefused {
		t.Fatalf("refused note audited as %+v", es[before:])
	}
}

// TestCheckAdmin: only policy.admins may add or remove schedules, and the
// refusal says who may, or that no admin is configured.
func TestCheckAdmin(t *testing.T) {
	cases := []struct {
		name   string
		admins []string
		user   approvals.User
		want   string // "" = allowed
	}{
		{"admin", []string{"carol", alice.ID}, alice, ""},
		{"not an admin", []string{"carol", "dave"}, alice, "only the bot's admins may add or remove schedules; ask one of them (policy.admins: carol, dave)"},
		{"no admins", nil, alice, "no policy.admins is configured"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f := newFixture(t, approvals.Policy{Admins: c.admins})
			err := f.svc.CheckAdmin(c.user)
			if c.want == "" {
				if err != nil {
					t.Fatalf("CheckAdmin = %v", err)
				}
				return
			}
			if !errors.Is(err, approvals.ErrNotAllowed) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("CheckAdmin = %v, want ErrNotAllowed saying %q", err, c.want)
			}
		})
	}
}
