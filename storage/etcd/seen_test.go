package etcd_test

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

var _ bot.Seen = (*etcd.Seen)(nil)

// dialTest connects one replica to srv under prefix, for tests and
// benchmarks alike (dialReplica takes a *testing.T).
func dialTest(t testing.TB, srv *etcdtest.Server, prefix string) *etcd.Cluster {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := etcd.Dial(ctx, etcd.Config{Endpoints: srv.Endpoints(), Prefix: prefix, LeaseTTL: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

func newSeen(t testing.TB, c *etcd.Cluster, platform string, slot time.Duration) *etcd.Seen {
	t.Helper()
	s, err := etcd.NewSeen(c, platform, etcd.SeenOptions{Slot: slot})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestSeen: on a real etcd, two replicas sharing the Seen of one platform
// see each key once between them, while it lives; it is forgotten after
// its ttl (the lease); keys share a lease per slot; and when etcd is down
// FirstSeen fails (the caller refuses) instead of answering "first".
func TestSeen(t *testing.T) {
	t.Parallel() // own etcd server; the tests overlap, as most of their time is waiting on lease TTLs
	srv := etcdtest.Start(t)
	ctx := context.Background()

	t.Run("once across two replicas", func(t *testing.T) {
		a := newSeen(t, dialReplica(t, srv.Endpoints(), "/once/"), "slack", 0)
		b := newSeen(t, dialReplica(t, srv.Endpoints(), "/once/"), "slack", 0)
		other := newSeen(t, dialReplica(t, srv.Endpoints(), "/once/"), "mattermost", 0)
		for _, step := range []struct {
			name  string
			seen  *etcd.Seen
			key   string
			first bool
		}{
			{"first delivery on replica a", a, "env/1", true},
			{"redelivery on replica b", b, "env/1", false},
			{"again on replica a", a, "env/1", false},
			{"another key on b", b, "env/2", true},
			{"the same key on another platform", other, "env/1", true},
		} {
			first, err := step.seen.FirstSeen(ctx, step.key, time.Minute)
			if err != nil || first != step.first {
				t.Errorf("%s: FirstSeen = %v, %v; want %v", step.name, first, err, step.first)
			}
		}
	})

	t.Run("concurrent deliveries: exactly one first", func(t *testing.T) {
		replicas := []*etcd.Seen{
			newSeen(t, dialReplica(t, srv.Endpoints(), "/race/"), "slack", 0),
			newSeen(t, dialReplica(t, srv.Endpoints(), "/race/"), "slack", 0),
			newSeen(t, dialReplica(t, srv.Endpoints(), "/race/"), "slack", 0),
		}
		n := winners(t, 30, "FirstSeen", func(i int) (bool, error) {
			return replicas[i%3].FirstSeen(ctx, "sig/abc", time.Minute)
		})
		if n != 1 {
			t.Errorf("%d of 30 concurrent calls were first, want exactly 1", n)
		}
	})

	t.Run("forgotten after its ttl", func(t *testing.T) {
		c := dialReplica(t, srv.Endpoints(), "/ttl/")
		s := newSeen(t, c, "slack", time.Second)
		if first, err := s.FirstSeen(ctx, "k", time.Second); !first || err != nil {
			t.Fatalf("FirstSeen = %v, %v", first, err)
		}
		// ttl 1 s, slot 1 s, a second of margin, and etcd's own minimum
		// lease TTL: gone within a few seconds, never before its ttl.
		if first, _ := s.FirstSeen(ctx, "k", time.Second); first {
			t.Fatal("seen again at once: the key was not kept for its ttl")
		}
		deadline := time.Now().Add(15 * time.Second)
		for {
			r, err := c.Client().Get(ctx, c.Key("seen/"), clientv3.WithPrefix())
			if err != nil {
				t.Fatal(err)
			}
			if r.Count == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("the key still lives 15 s after its ttl of 1 s")
			}
			time.Sleep(200 * time.Millisecond)
		}
		if first, err := s.FirstSeen(ctx, "k", time.Second); !first || err != nil {
			t.Errorf("after expiry FirstSeen = %v, %v; want a first sighting", first, err)
		}
	})

	t.Run("keys share a lease per slot", func(t *testing.T) {
		c := dialReplica(t, srv.Endpoints(), "/slots/")
		s := newSeen(t, c, "slack", time.Hour)
		for i := range 50 {
			if _, err := s.FirstSeen(ctx, "sig/"+string(rune('a'+i%26))+string(rune('a'+i/26)), 5*time.Minute); err != nil {
				t.Fatal(err)
			}
		}
		// One slot of an hour holds every expiry (or two, if the hour
		// turned meanwhile).
		if n := keyLeases(t, c, 50); n < 1 || n > 2 {
			t.Errorf("50 keys in one slot granted %d leases, want 1 (2 at a slot's edge)", n)
		}
	})

	t.Run("a lease gone early is replaced", func(t *testing.T) {
		c := dialReplica(t, srv.Endpoints(), "/revoked/")
		s := newSeen(t, c, "slack", time.Hour)
		if first, err := s.FirstSeen(ctx, "a", time.Minute); !first || err != nil {
			t.Fatalf("FirstSeen = %v, %v", first, err)
		}
		r, err := c.Client().Get(ctx, c.Key("seen/"), clientv3.WithPrefix())
		if err != nil || len(r.Kvs) != 1 {
			t.Fatalf("keys under seen/: %v, %v", r, err)
		}
		// Revoked by hand (an operator, a wiped prefix): its key goes, and
		// the next key of the slot gets a new lease instead of an error.
		if _, err := c.Client().Revoke(ctx, clientv3.LeaseID(r.Kvs[0].Lease)); err != nil {
			t.Fatal(err)
		}
		if first, err := s.FirstSeen(ctx, "b", time.Minute); !first || err != nil {
			t.Errorf("after the slot's lease was revoked FirstSeen = %v, %v; want a first sighting", first, err)
		}
		if n := keyLeases(t, c, 1); n != 1 {
			t.Errorf("%d leases", n)
		}
	})

	t.Run("etcd down: an error, never a first sighting", func(t *testing.T) {
		s := newSeen(t, dialReplica(t, srv.Endpoints(), "/down/"), "slack", 0)
		if _, err := s.FirstSeen(ctx, "warm", time.Minute); err != nil {
			t.Fatal(err)
		}
		srv.Stop()
		defer srv.Restart()
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		defer cancel()
		first, err := s.FirstSeen(cctx, "new", time.Minute)
		if err == nil || first {
			t.Errorf("with etcd stopped FirstSeen = %v, %v; want an error", first, err)
		}
	})
}

// keyLeases counts the distinct leases of the want keys under seen/.
func keyLeases(t testing.TB, c *etcd.Cluster, want int) int {
	t.Helper()
	r, err := c.Client().Get(context.Background(), c.Key("seen/"), clientv3.WithPrefix())
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Kvs) != want {
		t.Fatalf("%d keys under seen/, want %d", len(r.Kvs), want)
	}
	leases := map[int64]bool{}
	for _, kv := range r.Kvs {
		if kv.Lease == 0 {
			t.Errorf("key %s has no lease: it would never be forgotten", kv.Key)
		}
		leases[kv.Lease] = true
	}
	return len(leases)
}
