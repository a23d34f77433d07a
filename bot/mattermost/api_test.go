package mattermost

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// waits records the retry waits instead of spending them.
type waits struct {
	mu sync.Mutex
	d  []time.Duration
}

func (w *waits) sleep(ctx context.Context, d time.Duration) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.d = append(w.d, d)
	return ctx.Err()
}

func (w *waits) list() []time.Duration {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.d)
}

func TestRateLimitedPostIsRetriedAfterRetryAfter(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	w := &waits{}
	a.sleep = w.sleep
	mm.rateLimit("POST /api/v4/posts", 2, "7")

	ref, err := a.PostRoot(context.Background(), channelID, bot.Message{Text: bot.Plain("hello")})
	if err != nil {
		t.Fatalf("the post should go through once the limit lifts: %v", err)
	}
	if got := w.list(); !slices.Equal(got, []time.Duration{7 * time.Second, 7 * time.Second}) {
		t.Errorf("waits %v, want the server's Retry-After of 7s twice", got)
	}
	if n := mm.countCalls("POST /api/v4/posts 429"); n != 2 {
		t.Errorf("%d rate-limited calls, want 2", n)
	}
	if p := mm.post(ref.ID); p == nil || p.Message != "hello" {
		t.Errorf("the post was not stored: %+v", p)
	}
}

func TestRateLimitOnEveryCallKind(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	a.sleep = (&waits{}).sleep
	ctx := context.Background()
	root, err := a.PostRoot(ctx, channelID, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range []string{"PUT /api/v4/posts/{id}/patch", "POST /api/v4/uploads/{id}", "GET /api/v4/users/{id}", "GET /api/v4/channels/{id}/members/{id}"} {
		mm.rateLimit(r, 1, "1")
	}
	mm.addUser(bob.ID, "bob")
	mm.addMember(approverCh, bob.ID)
	if err := a.Update(ctx, root, bot.Message{Text: bot.Plain("edited"), Mentions: []string{bob.ID}}); err != nil {
		t.Errorf("update: %v", err)
	}
	if err := a.Upload(ctx, root, bot.BytesFile("out.txt", "", []byte("x\n")), "1 line"); err != nil {
		t.Errorf("upload: %v", err)
	}
	if ok, err := a.IsMember(ctx, approverCh, bob.ID); err != nil || !ok {
		t.Errorf("is member: %v %v", ok, err)
	}
	if n := mm.countCalls("PUT /api/v4/posts/{id}/patch 200") + mm.countCalls("POST /api/v4/uploads/{id} 201") +
		mm.countCalls("GET /api/v4/users/{id} 200") + mm.countCalls("GET /api/v4/channels/{id}/members/{id} 200"); n != 4 {
		t.Errorf("%d of 4 calls succeeded after their 429: %v", n, mm.callLog())
	}
}

func TestRateLimitThatNeverLiftsIsAnError(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{MaxAttempts: 3})
	a.sleep = (&waits{}).sleep
	mm.rateLimit("POST /api/v4/posts", -1, "1")

	_, err := a.PostRoot(context.Background(), channelID, bot.Message{Text: bot.Plain("hello")})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("want an error wrapping ErrRateLimited, got %v", err)
	}
	if n := mm.countCalls("POST /api/v4/posts 429"); n != 3 {
		t.Errorf("%d attempts, want 3", n)
	}
	if n := len(mm.allPostIDs()); n != 0 {
		t.Errorf("%d posts stored", n)
	}
}

func TestRetryAfterBeyondTheLongestWaitFailsAtOnce(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{MaxRetryWait: 5 * time.Second})
	w := &waits{}
	a.sleep = w.sleep
	mm.rateLimit("POST /api/v4/posts", -1, "3600")

	_, err := a.PostRoot(context.Background(), channelID, bot.Message{Text: bot.Plain("hello")})
	if !errors.Is(err, ErrRateLimited) {
		t.Fatalf("want ErrRateLimited, got %v", err)
	}
	if len(w.list()) != 0 || mm.countCalls("POST /api/v4/posts") != 1 {
		t.Errorf("the bot should not wait an hour: waits %v, calls %v", w.list(), mm.callLog())
	}
}

func TestRateLimitWithoutRetryAfterBacksOff(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{})
	w := &waits{}
	a.sleep = w.sleep
	mm.rateLimit("POST /api/v4/posts", 2, "")

	if _, err := a.PostRoot(context.Background(), channelID, bot.Message{Text: bot.Plain("hello")}); err != nil {
		t.Fatal(err)
	}
	got := w.list()
	if len(got) != 2 || got[0] <= 0 || got[1] <= got[0] {
		t.Errorf("waits %v, want two growing back-offs", got)
	}
}

func TestEveryCallHasADeadline(t *testing.T) {
	a, mm := newAdapterOnly(t, Options{CallTimeout: 100 * time.Millisecond, MaxAttempts: 2})
	a.sleep = (&waits{}).sleep
	mm.stallRoute("POST /api/v4/posts")

	done := make(chan error, 1)
	go func() {
		_, err := a.PostRoot(context.Background(), channelID, bot.Message{Text: bot.Plain("hello")})
		done <- err
	}()
	select {
	case err := <-done:
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("want a deadline error, got %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("a stalled Mattermost held the call: no deadline")
	}
}

func TestAPIErrorsAreWrappedWithTheStatus(t *testing.T) {
	a, _ := newAdapterOnly(t, Options{})
	err := a.Update(context.Background(), bot.Ref{Channel: channelID, ID: fixedID("nosuchpost")}, bot.Message{Text: bot.Plain("x")})
	if err == nil {
		t.Fatal("patching a missing post should fail")
	}
	if got := err.Error(); !contains(got, "patch post", "HTTP 404") {
		t.Errorf("the error should name the call and the status: %q", got)
	}
}

func TestRetryAfterParsing(t *testing.T) {
	h := http.Header{}
	if _, ok := retryAfter(h); ok {
		t.Error("no header should mean no Retry-After")
	}
	h.Set("Retry-After", "12")
	if d, ok := retryAfter(h); !ok || d != 12*time.Second {
		t.Errorf("seconds: %v %v", d, ok)
	}
	h = http.Header{"X-Ratelimit-Reset": {"3"}}
	if d, ok := retryAfter(h); !ok || d != 3*time.Second {
		t.Errorf("X-RateLimit-Reset fallback: %v %v", d, ok)
	}
	h = http.Header{"Retry-After": {time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)}}
	if d, ok := retryAfter(h); !ok || d != 0 {
		t.Errorf("a date in the past: %v %v", d, ok)
	}
	h = http.Header{"Retry-After": {"soon"}}
	if _, ok := retryAfter(h); ok {
		t.Error("garbage should not parse")
	}
}
