package main

import (
	"encoding/json"
	"iter"
	"maps"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
)

// apiCalls records the calls a fake chat API received, with their times,
// so a test can tell that nothing was sent after the bot stopped.
type apiCalls struct {
	mu    sync.Mutex
	calls []apiCall
}

type apiCall struct {
	at   time.Time
	what string
}

func (c *apiCalls) add(r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls = append(c.calls, apiCall{time.Now(), r.Method + " " + r.URL.Path})
}

// since lists the calls made after t.
func (c *apiCalls) since(t time.Time) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []string
	for _, k := range c.calls {
		if k.at.After(t) {
			out = append(out, k.what)
		}
	}
	return out
}

// gate holds API calls while closed, so a test can keep a handler in
// flight; held counts the calls waiting.
type gate struct {
	mu      sync.Mutex
	ch      chan struct{} // nil: open
	waiting int
}

// close makes the next calls wait until open.
func (g *gate) close() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.ch = make(chan struct{})
}

func (g *gate) open() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.ch != nil {
		close(g.ch)
		g.ch = nil
	}
}

func (g *gate) held() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.waiting
}

func (g *gate) pass() {
	g.mu.Lock()
	ch := g.ch
	if ch != nil {
		g.waiting++
	}
	g.mu.Unlock()
	if ch != nil {
		<-ch
	}
}

// fakeSlackAPI answers the Slack Web API methods the bot uses with "ok".
// usergroups.users.list (who is in an approver group) waits at groups.
type fakeSlackAPI struct {
	apiCalls
	srv     *httptest.Server
	members []string
	groups  gate
}

func newFakeSlackAPI(t *testing.T, members ...string) *fakeSlackAPI {
	f := &fakeSlackAPI{members: members}
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.add(r)
		w.Header().Set("Content-Type", "application/json")
		switch strings.TrimPrefix(r.URL.Path, "/api/") {
		case "usergroups.users.list":
			f.groups.pass()
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "users": f.members})
		case "usergroups.list":
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "usergroups": []any{}})
		default:
			_ = json.NewEncoder(w).Encode(map[string]any{"ok": true, "channel": "C0SHUT", "ts": "1700000000.000100", "message_ts": "1700000000.000100"})
		}
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.groups.open) // runs first: a held call must not keep Close waiting
	return f
}

// apiURL is what slack.api_url takes.
func (f *fakeSlackAPI) apiURL() string { return f.srv.URL + "/api/" }

// fakeMattermostAPI is the part of the Mattermost API v4 the bot uses:
// posts (created, patched, read), ephemeral posts, users (every ID is an
// active person) and channel members (everyone but outsiders is a member;
// the answer waits at members).
type fakeMattermostAPI struct {
	apiCalls
	srv     *httptest.Server
	members gate
	// outsiders are the users who are members of no channel (404); set
	// before the first call.
	outsiders []string

	mu      sync.Mutex
	posts   map[string]*model.Post
	created []*model.Post                // every post as it was created, in order
	patched chan *model.Post             // every patched post
	dialogs chan model.OpenDialogRequest // every dialog opened
}

func newFakeMattermostAPI(t testing.TB) *fakeMattermostAPI {
	f := &fakeMattermostAPI{posts: map[string]*model.Post{}, patched: make(chan *model.Post, 100), dialogs: make(chan model.OpenDialogRequest, 10)}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v4/posts", func(w http.ResponseWriter, r *http.Request) {
		var p model.Post
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		p.Id, p.CreateAt = model.NewId(), model.GetMillis()
		f.mu.Lock()
		f.posts[p.Id] = &p
		f.created = append(f.created, p.Clone())
		f.mu.Unlock()
		writeJSONStatus(w, http.StatusCreated, &p)
	})
	mux.HandleFunc("POST /api/v4/posts/ephemeral", func(w http.ResponseWriter, r *http.Request) {
		writeJSONStatus(w, http.StatusCreated, &model.Post{Id: model.NewId()})
	})
	mux.HandleFunc("PUT /api/v4/posts/{id}/patch", func(w http.ResponseWriter, r *http.Request) {
		var patch model.PostPatch
		if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		f.mu.Lock()
		p, ok := f.posts[r.PathValue("id")]
		if ok {
			p.Patch(&patch)
			p = p.Clone()
		}
		f.mu.Unlock()
		if !ok {
			writeJSONStatus(w, http.StatusNotFound, map[string]any{"id": "app.post.get.app_error", "status_code": 404})
			return
		}
		f.patched <- p
		writeJSONStatus(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /api/v4/posts/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		p, ok := f.posts[r.PathValue("id")]
		if ok {
			p = p.Clone()
		}
		f.mu.Unlock()
		if !ok {
			writeJSONStatus(w, http.StatusNotFound, map[string]any{"id": "app.post.get.app_error", "status_code": 404})
			return
		}
		writeJSONStatus(w, http.StatusOK, p)
	})
	mux.HandleFunc("GET /api/v4/users/{id}", func(w http.ResponseWriter, r *http.Request) {
		id := r.PathValue("id")
		var u *model.User
		if id == "me" {
			u = &model.User{Id: model.NewId(), Username: "gitlab-chatops", IsBot: true}
		} else {
			u = &model.User{Id: id, Username: "user-" + id[:min(6, len(id))]}
		}
		writeJSONStatus(w, http.StatusOK, u)
	})
	mux.HandleFunc("GET /api/v4/channels/{cid}/members/{uid}", func(w http.ResponseWriter, r *http.Request) {
		f.members.pass()
		if slices.Contains(f.outsiders, r.PathValue("uid")) {
			writeJSONStatus(w, http.StatusNotFound, map[string]any{"id": "app.channel.get_member.missing.app_error", "status_code": 404})
			return
		}
		writeJSONStatus(w, http.StatusOK, &model.ChannelMember{ChannelId: r.PathValue("cid"), UserId: r.PathValue("uid")})
	})
	mux.HandleFunc("POST /api/v4/actions/dialogs/open", func(w http.ResponseWriter, r *http.Request) {
		var d model.OpenDialogRequest
		if err := json.NewDecoder(r.Body).Decode(&d); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		select {
		case f.dialogs <- d:
		default: // nobody is looking at more than ten
		}
		writeJSONStatus(w, http.StatusOK, map[string]string{"status": "OK"})
	})
	mux.HandleFunc("POST /api/v4/channels/direct", func(w http.ResponseWriter, r *http.Request) {
		writeJSONStatus(w, http.StatusCreated, &model.Channel{Id: model.NewId(), Type: model.ChannelTypeDirect})
	})
	f.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.add(r)
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(f.srv.Close)
	t.Cleanup(f.members.open) // runs first: a held call must not keep Close waiting
	return f
}

func writeJSONStatus(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// text is every post the bot made, as it stands now (JSON, one a line).
func (f *fakeMattermostAPI) text() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var b strings.Builder
	for _, p := range f.posts {
		j, _ := json.Marshal(p)
		b.Write(j)
		b.WriteByte('\n')
	}
	return b.String()
}

// approveContext waits for a post patched with an Approve button and
// returns the post and the button's integration context.
func (f *fakeMattermostAPI) approveContext(t testing.TB) (*model.Post, map[string]any) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case p := <-f.patched:
			for _, a := range p.Attachments() {
				for _, act := range a.Actions {
					if act.Id == "approve" && act.Integration != nil {
						return p, act.Integration.Context
					}
				}
			}
		case <-timeout:
			t.Fatal("the bot never posted a request with an Approve button")
		}
	}
}

// createdWith returns the posts whose message or attachments contained s
// when they were created (a progress post is later edited into a result).
func (f *fakeMattermostAPI) createdWith(s string) []*model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return postsContaining(slices.Values(f.created), s)
}

// postsWith returns the posts whose message or attachments contain s.
func (f *fakeMattermostAPI) postsWith(s string) []*model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return postsContaining(maps.Values(f.posts), s)
}

// postsContaining returns the posts of ps whose JSON (message or
// attachments) contains s.
func postsContaining(ps iter.Seq[*model.Post], s string) []*model.Post {
	var out []*model.Post
	for p := range ps {
		if j, _ := json.Marshal(p); strings.Contains(string(j), s) {
			out = append(out, p)
		}
	}
	return out
}
