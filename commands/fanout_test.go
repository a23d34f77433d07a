package commands

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"
)

// TestEachHostBoundAndIsolation: eachHost runs fn for every host, never
// more than fanOutLimit at once, and a host whose fn panics loses only
// its own result.
func TestEachHostBoundAndIsolation(t *testing.T) {
	r := &Router{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	hosts := make([]Host, 10)
	for i := range hosts {
		hosts[i].Name = fmt.Sprintf("gitlab-%d", i)
	}
	var running, peak atomic.Int32
	release := make(chan struct{})
	results := make([]string, len(hosts))
	done := make(chan struct{})
	go func() {
		defer close(done)
		r.eachHost(context.Background(), hosts, func(_ context.Context, i int, h Host) {
			n := running.Add(1)
			for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
			}
			<-release
			running.Add(-1)
			if i == 3 {
				panic("host 3 fails")
			}
			results[i] = h.Name
		})
	}()
	deadline := time.Now().Add(30 * time.Second)
	for running.Load() < fanOutLimit {
		if time.Now().After(deadline) {
			t.Fatalf("only %d hosts started", running.Load())
		}
		time.Sleep(time.Millisecond)
	}
	// The others wait for a slot: give them every chance to start wrongly.
	time.Sleep(50 * time.Millisecond)
	if n := running.Load(); n != fanOutLimit {
		t.Fatalf("%d hosts ran at once, want %d", n, fanOutLimit)
	}
	close(release)
	<-done
	if p := peak.Load(); p != fanOutLimit {
		t.Errorf("peak %d at once, want %d", p, fanOutLimit)
	}
	for i, got := range results {
		want := hosts[i].Name
		if i == 3 {
			want = ""
		}
		if got != want {
			t.Errorf("host %d: result %q, want %q", i, got, want)
		}
	}
}
