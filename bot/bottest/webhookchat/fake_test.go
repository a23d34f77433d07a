package webhookchat

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
)

// fakeChat is the platform's incoming webhook on 127.0.0.1: it takes
// {channel, text, tmid}, refuses a tmid that is not a root of that
// channel (threads have one level), and keeps every post in order.
type fakeChat struct {
	srv *httptest.Server
	// stalled: every post waits for quit (the test's end).
	stalled bool
	quit    chan struct{}

	mu    sync.Mutex
	seq   int
	posts []fakePost
}

type fakePost struct{ ID, Channel, Root, Text string }

func newFakeChat(t *testing.T) *fakeChat {
	f := &fakeChat{quit: make(chan struct{})}
	f.srv = httptest.NewServer(http.HandlerFunc(f.incoming))
	t.Cleanup(func() { close(f.quit); f.srv.Close() })
	return f
}

// stall makes every later post hang until the test ends.
func (f *fakeChat) stall() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stalled = true
}

func (f *fakeChat) incoming(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	stalled := f.stalled
	f.mu.Unlock()
	if stalled {
		<-f.quit
		http.Error(w, "stalled", http.StatusServiceUnavailable)
		return
	}
	var in struct{ Channel, Text, Tmid string }
	w.Header().Set("Content-Type", "application/json")
	if r.Method != http.MethodPost || json.NewDecoder(r.Body).Decode(&in) != nil || in.Channel == "" || in.Text == "" {
		w.WriteHeader(http.StatusBadRequest)
		_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "error": "channel and text are required"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if in.Tmid != "" {
		root, ok := f.find(in.Tmid)
		if !ok || root.Root != "" || root.Channel != in.Channel {
			w.WriteHeader(http.StatusBadRequest)
			_ = json.NewEncoder(w).Encode(map[string]any{"success": false, "error": "invalid tmid"})
			return
		}
	}
	f.seq++
	p := fakePost{ID: fmt.Sprintf("m%04d", f.seq), Channel: in.Channel, Root: in.Tmid, Text: in.Text}
	f.posts = append(f.posts, p)
	_ = json.NewEncoder(w).Encode(map[string]any{"success": true, "message": map[string]any{"_id": p.ID, "rid": p.Channel, "msg": p.Text}})
}

func (f *fakeChat) find(id string) (fakePost, bool) {
	for _, p := range f.posts {
		if p.ID == id {
			return p, true
		}
	}
	return fakePost{}, false
}

func (f *fakeChat) all() []fakePost {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakePost(nil), f.posts...)
}
