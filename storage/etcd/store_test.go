package etcd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/schedule/scheduletest"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// prefixes hands every store of a test its own key prefix on the shared
// server, so tests never see each other's keys.
type prefixes struct{ n atomic.Int64 }

func (p *prefixes) next(t *testing.T) string {
	return fmt.Sprintf("/t%d-%s/", p.n.Add(1), strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()))
}

// dial connects one replica to srv under prefix.
func dial(t *testing.T, srv *etcdtest.Server, prefix string) *etcd.Cluster {
	t.Helper()
	c, err := etcd.Dial(context.Background(), etcd.Config{Endpoints: srv.Endpoints(), Prefix: prefix})
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// openStore opens a Store on c, closed when the test ends.
func openStore(t *testing.T, c *etcd.Cluster, opts etcd.StoreOptions) *etcd.Store {
	t.Helper()
	if opts.AuditKey == nil {
		opts.AuditKey = approvalstest.Key
	}
	s, err := etcd.OpenStore(context.Background(), c, opts)
	if err != nil {
		t.Fatalf("OpenStore: %v", err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// TestStoreConforms: the etcd store passes both conformance suites
// unchanged, on a real etcd; Tamper edits the entry's key in etcd.
func TestStoreConforms(t *testing.T) {
	t.Parallel() // own etcd server; the tests overlap, as most of their time is waiting on lease TTLs
	srv := etcdtest.Start(t)
	var p prefixes
	approvalstest.RunStoreSuite(t, func(t *testing.T) approvalstest.Harness {
		c := dial(t, srv, p.next(t))
		s := openStore(t, c, etcd.StoreOptions{})
		return approvalstest.Harness{Store: s, Reader: s, Key: approvalstest.Key,
			Tamper: func(seq uint64, edit func([]byte) []byte) error {
				ctx := context.Background()
				k := c.Key(fmt.Sprintf("audit/%020d", seq))
				resp, err := c.Client().Get(ctx, k)
				if err != nil {
					return err
				}
				if len(resp.Kvs) == 0 {
					return fmt.Errorf("no audit entry %d", seq)
				}
				_, err = c.Client().Put(ctx, k, string(edit(bytes.Clone(resp.Kvs[0].Value))))
				return err
			}}
	})
	scheduletest.RunStoreSuite(t, func(t *testing.T) schedule.Store {
		return openStore(t, dial(t, srv, p.next(t)), etcd.StoreOptions{})
	})
	approvalstest.RunReauthStoreSuite(t, func(t *testing.T) approvalstest.ReauthHarness {
		s := openStore(t, dial(t, srv, p.next(t)), etcd.StoreOptions{})
		return approvalstest.ReauthHarness{Store: s, Reader: s, Key: approvalstest.Key}
	})
	t.Run("two replicas share each approver's record", func(t *testing.T) { testReauthReplicas(t, srv, p.next(t)) })
	t.Run("a code is accepted once across replicas, and wrong ones count together", func(t *testing.T) { testReauthReplicaReplay(t, srv, p.next(t)) })
}

// TestStore covers what the suites do not: the chain is byte for byte
// bbolt's, two replicas never fork it, etcd's transaction limits, the
// schema version, reads and Probe.
func TestStore(t *testing.T) {
	t.Parallel() // own etcd server; the tests overlap, as most of their time is waiting on lease TTLs
	srv := etcdtest.Start(t)
	var p prefixes
	ctx := context.Background()

	t.Run("the chain is byte for byte bbolt's", func(t *testing.T) {
		db, err := storage.Open(filepath.Join(t.TempDir(), "chatops.db"), storage.Options{AuditKey: approvalstest.Key})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = db.Close() })
		es := openStore(t, dial(t, srv, p.next(t)), etcd.StoreOptions{})
		for _, b := range []storage.Backend{db, es} {
			sameOperations(t, b)
		}
		var bx, ex bytes.Buffer
		if err := db.ExportAudit(ctx, &bx, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if err := es.ExportAudit(ctx, &ex, time.Time{}); err != nil {
			t.Fatal(err)
		}
		if bx.Len() == 0 || !bytes.Equal(bx.Bytes(), ex.Bytes()) {
			t.Fatalf("exports differ:\nbbolt:\n%s\netcd:\n%s", bx.Bytes(), ex.Bytes())
		}
		bh, err1 := db.AuditHead(ctx)
		eh, err2 := es.AuditHead(ctx)
		if err1 != nil || err2 != nil || bh != eh || bh.Seq == 0 {
			t.Fatalf("heads: bbolt %v (%v), etcd %v (%v)", bh, err1, eh, err2)
		}
		for name, r := range map[string]auditchain.Reader{"bbolt": db, "etcd": es} {
			rep, err := auditchain.Verify(ctx, r, approvalstest.Key, &bh)
			if err != nil || rep.Entries != bh.Seq {
				t.Fatalf("verify %s: %+v, %v", name, rep, err)
			}
		}
		// The requests are the same JSON.
		br, _ := db.Requests(ctx, approvals.RequestFilter{})
		er, err := es.Requests(ctx, approvals.RequestFilter{})
		bj, _ := json.Marshal(br)
		ej, _ := json.Marshal(er)
		if err != nil || len(er) != 3 || !bytes.Equal(bj, ej) {
			t.Fatalf("requests differ: bbolt %s, etcd %s (%v)", bj, ej, err)
		}
		// The page reads agree too.
		bt, _ := db.AuditBefore(ctx, 5, 3)
		et, err := es.AuditBefore(ctx, 5, 3)
		if err != nil || len(et) != 3 || et[0].Seq != 2 || fmt.Sprint(bt) != fmt.Sprint(et) {
			t.Fatalf("AuditBefore(5, 3): bbolt %v, etcd %v (%v)", bt, et, err)
		}
		var since bytes.Buffer
		if err := es.ExportAudit(ctx, &since, time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC)); err != nil {
			t.Fatal(err)
		}
		var bsince bytes.Buffer
		_ = db.ExportAudit(ctx, &bsince, time.Date(2026, 5, 1, 9, 0, 0, 0, time.UTC))
		if since.Len() == 0 || since.Len() >= ex.Len() || !bytes.Equal(since.Bytes(), bsince.Bytes()) {
			t.Fatalf("export since 09:00: etcd %d bytes, bbolt %d, all %d", since.Len(), bsince.Len(), ex.Len())
		}
	})

	t.Run("two replicas appending concurrently never fork the chain", func(t *testing.T) {
		prefix := p.next(t)
		a := openStore(t, dial(t, srv, prefix), etcd.StoreOptions{})
		b := openStore(t, dial(t, srv, prefix), etcd.StoreOptions{})
		const writers, each = 32, 8
		var wg sync.WaitGroup
		for i, s := range []*etcd.Store{a, b} {
			for w := range writers {
				wg.Go(func() {
					for n := range each {
						if _, err := s.Append(ctx, approvals.AuditEntry{Action: approvals.ActionReadOnlyRun, Actor: fmt.Sprintf("r%d-w%02d-%d", i, w, n)}); err != nil {
							t.Error(err)
							return
						}
					}
				})
			}
		}
		// A request created on one replica and decided on the other
		// interleaves with the appends.
		wg.Go(func() {
			r := &approvals.Request{ID: "rrrrrrrr", State: approvals.StatePending, Version: 1}
			if err := a.Create(ctx, r, approvals.AuditEntry{Action: "opened"}); err != nil {
				t.Error(err)
				return
			}
			if _, err := b.Apply(ctx, r.ID, func(q *approvals.Request) ([]approvals.AuditEntry, error) {
				q.State = approvals.StateDenied
				return []approvals.AuditEntry{{Action: "denied"}}, nil
			}); err != nil {
				t.Error(err)
			}
		})
		wg.Wait()
		want := uint64(2*writers*each + 2)
		for name, s := range map[string]*etcd.Store{"a": a, "b": b} {
			rep, err := auditchain.Verify(ctx, s, approvalstest.Key, nil)
			if err != nil || rep.Entries != want || rep.Head.Seq != want {
				t.Fatalf("replica %s: %+v, %v; want %d entries", name, rep, err, want)
			}
		}
	})

	t.Run("etcd's transaction limits: split appends, refuse what cannot fit", func(t *testing.T) {
		s := openStore(t, dial(t, srv, p.next(t)), etcd.StoreOptions{MaxTxnOps: 8})
		// 7 entries and the head fill one Txn; 8 cannot fit.
		if _, err := s.Append(ctx, entries(8)...); !errors.Is(err, approvals.ErrInvalid) || !strings.Contains(err.Error(), "--max-txn-ops") {
			t.Fatalf("Append(8 entries) with a limit of 8 ops = %v, want a refusal naming the limit", err)
		}
		if err := s.Create(ctx, &approvals.Request{ID: "aaaaaaaa"}, entries(7)...); !errors.Is(err, approvals.ErrInvalid) {
			t.Fatalf("Create with 7 entries (9 ops) = %v, want a refusal", err)
		}
		if _, err := s.Request(ctx, "aaaaaaaa"); !errors.Is(err, approvals.ErrNotFound) {
			t.Fatalf("a refused Create stored its request: %v", err)
		}
		// 40 concurrent appends of 3 entries: many groups, none above the
		// limit, one gapless chain.
		var wg sync.WaitGroup
		for range 40 {
			wg.Go(func() {
				if _, err := s.Append(ctx, entries(3)...); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
		rep, err := auditchain.Verify(ctx, s, approvalstest.Key, nil)
		if err != nil || rep.Entries != 120 {
			t.Fatalf("after 40 grouped appends: %+v, %v", rep, err)
		}
		big := approvals.AuditEntry{Action: "big", Detail: strings.Repeat("x", etcd.DefaultMaxTxnBytes)}
		if _, err := s.Append(ctx, big); !errors.Is(err, approvals.ErrInvalid) || !strings.Contains(err.Error(), "--max-request-bytes") {
			t.Fatalf("Append(1 MiB entry) = %v, want a refusal naming the limit", err)
		}
		if h, _ := s.AuditHead(ctx); h.Seq != 120 {
			t.Fatalf("head after refusals = %v, want 120", h)
		}
	})

	t.Run("a newer schema version is refused", func(t *testing.T) {
		c := dial(t, srv, p.next(t))
		if _, err := c.Client().Put(ctx, c.Key("meta/schema_version"), fmt.Sprint(storage.SchemaVersion+1)); err != nil {
			t.Fatal(err)
		}
		_, err := etcd.OpenStore(ctx, c, etcd.StoreOptions{AuditKey: approvalstest.Key})
		if !errors.Is(err, storage.ErrSchemaTooNew) || !strings.Contains(err.Error(), "upgrade gitlab-chatops") {
			t.Fatalf("OpenStore on a newer schema = %v", err)
		}
		if _, err := etcd.OpenStore(ctx, c, etcd.StoreOptions{}); err == nil || !errors.Is(err, auditchain.ErrNoKey) {
			t.Fatalf("OpenStore without a key = %v", err)
		}
		// A fresh prefix gets this version; opening it again is fine.
		c2 := dial(t, srv, p.next(t))
		openStore(t, c2, etcd.StoreOptions{})
		openStore(t, c2, etcd.StoreOptions{})
		resp, err := c2.Client().Get(ctx, c2.Key("meta/schema_version"))
		if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != fmt.Sprint(storage.SchemaVersion) {
			t.Fatalf("schema version = %v, %v", resp, err)
		}
	})

	t.Run("probe, tail, and append after close", func(t *testing.T) {
		s := openStore(t, dial(t, srv, p.next(t)), etcd.StoreOptions{})
		if err := s.Probe(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := s.TailAudit(ctx, 5); err != nil || len(got) != 0 {
			t.Fatalf("TailAudit on an empty store = %v, %v", got, err)
		}
		if h, err := s.AuditHead(ctx); err != nil || h != (auditchain.Head{}) {
			t.Fatalf("AuditHead on an empty store = %v, %v", h, err)
		}
		if _, err := s.Append(ctx, entries(12)...); err != nil {
			t.Fatal(err)
		}
		got, err := s.TailAudit(ctx, 5)
		if err != nil || len(got) != 5 || got[0].Seq != 8 || got[4].Seq != 12 {
			t.Fatalf("TailAudit(5) = %v, %v", got, err)
		}
		if err := s.AuditPage(ctx, 0, 0, nil); err == nil {
			t.Fatal("AuditPage(n=0) did not fail")
		}
		_ = s.Close()
		if _, err := s.Append(ctx, entries(1)...); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("Append after Close = %v", err)
		}
		if err := s.Create(ctx, &approvals.Request{ID: "closed00"}); err == nil || !strings.Contains(err.Error(), "closed") {
			t.Fatalf("Create after Close = %v", err)
		}
		if err := s.Probe(ctx); err == nil {
			t.Fatal("Probe after Close succeeded")
		}
	})
}

func entries(n int) []approvals.AuditEntry {
	out := make([]approvals.AuditEntry, n)
	for i := range out {
		out[i] = approvals.AuditEntry{Action: approvals.ActionReadOnlyRun, Actor: fmt.Sprintf("U-%02d", i)}
	}
	return out
}

// sameOperations writes a fixed history to b through the approvals.Store
// calls, entries timed by a manual clock (the stores stamp only zero
// times): requests created, approved, started, finished, denied, a refused
// Apply, plain appends.
func sameOperations(t *testing.T, b storage.Backend) {
	t.Helper()
	ctx := context.Background()
	clock := approvalstest.NewClock(time.Date(2026, 5, 1, 8, 0, 0, 0, time.UTC))
	entry := func(action, id, detail string) approvals.AuditEntry {
		clock.Advance(7 * time.Minute)
		return approvals.AuditEntry{Time: clock.Now(), Action: action, Actor: "U-bob", RequestID: id, Host: "gitlab-1", Operation: "migrate", Detail: detail}
	}
	step := func(id string, state approvals.State, action string) {
		t.Helper()
		if _, err := b.Apply(ctx, id, func(r *approvals.Request) ([]approvals.AuditEntry, error) {
			r.State = state
			return []approvals.AuditEntry{entry(action, id, string(state))}, nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		id := fmt.Sprintf("req0000%d", i)
		r := &approvals.Request{ID: id, Host: "gitlab-1", Operation: "migrate", Argv: []string{"gitlab-rake", "db:migrate"},
			State: approvals.StatePending, Version: 1, CreatedAt: clock.Now(), Reason: fmt.Sprintf("upgrade %d", i)}
		if err := b.Create(ctx, r, entry(approvals.ActionRequestOpened, id, "reason: upgrade")); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			step(id, approvals.StateDenied, approvals.ActionRequestDenied)
			continue
		}
		step(id, approvals.StateApproved, approvals.ActionRequestApproved)
		step(id, approvals.StateRunning, approvals.ActionRequestStarted)
		if _, err := b.Apply(ctx, id, func(*approvals.Request) ([]approvals.AuditEntry, error) {
			return []approvals.AuditEntry{entry("never", id, "")}, errors.New("refused")
		}); err == nil {
			t.Fatal("a refused Apply succeeded")
		}
		step(id, approvals.StateSucceeded, approvals.ActionRequestFinished)
		if _, err := b.Append(ctx, entry(approvals.ActionReadOnlyRun, "", "status"), entry(approvals.ActionReadOnlyRun, "", "pending")); err != nil {
			t.Fatal(err)
		}
	}
}
