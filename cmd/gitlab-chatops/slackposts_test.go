package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
)

// slackPosts is what the load fakes of Slack (loadSlack, ackSlack) keep of
// the bot's posts: per channel the root posts and the thread replies
// holding a migration status, and the other thread replies. A fake embeds
// it; mu also guards the fake's own fields.
type slackPosts struct {
	mu      sync.Mutex
	next    int
	roots   map[string]int // channel → root posts
	answers map[string]int // channel → thread replies holding a migration status
	others  []string       // thread replies that are no status (busy, errors)
}

// initPosts makes the maps; call it before serving.
func (p *slackPosts) initPosts() {
	p.roots, p.answers = map[string]int{}, map[string]int{}
}

// serveUpload answers Slack's external file upload (the long status output
// is attached that way; base is the fake's URL) and reports whether r was
// one of its three calls.
func (p *slackPosts) serveUpload(w http.ResponseWriter, r *http.Request, base string) bool {
	switch {
	case r.URL.Path == "/api/files.getUploadURLExternal":
		p.mu.Lock()
		p.next++
		id := fmt.Sprintf("F%08d", p.next)
		p.mu.Unlock()
		_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "upload_url": base + "/api/upload/" + id, "file_id": id})
	case strings.HasPrefix(r.URL.Path, "/api/upload/"):
		_, _ = io.Copy(io.Discard, r.Body)
		w.Header().Set("Content-Type", "text/plain")
		_, _ = io.WriteString(w, "OK")
	case r.URL.Path == "/api/files.completeUploadExternal":
		_, _ = io.WriteString(w, `{"ok":true,"files":[{"id":"F0","title":"output"}]}`)
	default:
		return false
	}
	return true
}

// postMessage takes a chat.postMessage in the channel it names, counts it
// and answers with its new ts.
func (p *slackPosts) postMessage(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	channel, thread := r.Form.Get("channel"), r.Form.Get("thread_ts")
	content := r.Form.Get("text") + r.Form.Get("blocks")
	p.mu.Lock()
	p.next++
	ts := fmt.Sprintf("1700000000.%06d", p.next)
	switch {
	case thread == "":
		p.roots[channel]++
	case strings.Contains(content, "Migration status on ") && !strings.Contains(content, "busy"):
		p.answers[channel]++
	default:
		p.others = append(p.others, content)
	}
	p.mu.Unlock()
	_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": channel, "ts": ts})
}
