package slack

import (
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeSlack is a fake of the parts of Slack's Web API the adapter uses,
// following the documented request and response shapes: chat.postMessage,
// chat.update, chat.postEphemeral, files.getUploadURLExternal, the upload
// URL, files.completeUploadExternal, usergroups.users.list, usergroups.list,
// views.open, conversations.open and response_url endpoints. Unlike slacktest it hands out distinct,
// increasing ts values, records every call, keeps message state across
// chat.update (blocks left out of an update are kept, as Slack does), and
// can answer 429 with Retry-After, 5xx or ok:false on demand. It listens
// on 127.0.0.1 only (httptest's default).
type fakeSlack struct {
	t     testing.TB
	srv   *httptest.Server
	token string

	mu         sync.Mutex
	seq        int
	calls      []fakeCall
	msgs       map[string]*fakeMsg // ts -> message
	order      []string            // ts of non-ephemeral messages, in posting order
	ephemerals []fakeEphemeral
	responses  []fakeResponse
	files      map[string]*fakeFile
	groups     map[string][]string // user group ID -> members
	handles    map[string]string   // handle -> user group ID
	failures   map[string][]fakeFailure
	holds      map[string]chan struct{}
	violations []string
	triggers   map[string]fakeTrigger // trigger_id -> whose, until when
	views      []fakeView
	ims        map[string]string // DM channel ID -> its user
}

// fakeTrigger is a trigger_id Slack handed out with a command or click:
// good once, for 3 seconds, for its user.
type fakeTrigger struct {
	user  string
	until time.Time
	used  bool
}

// fakeView is a modal opened with views.open, as Slack keeps it.
type fakeView struct {
	ID   string
	User string
	View json.RawMessage
}

type fakeCall struct {
	Method string
	Form   url.Values
	// JSON is the body of a method called with a JSON body (views.open).
	JSON json.RawMessage
	At   time.Time
}

type fakeMsg struct {
	Channel, TS, ThreadTS, Text string
	Blocks                      json.RawMessage
	Updates                     int
}

type fakeEphemeral struct {
	Channel, User, Text string
	Blocks              json.RawMessage
}

type fakeResponse struct {
	Path string
	Body map[string]any
}

type fakeFile struct {
	ID, Name, Title            string
	Length                     int
	Content                    []byte
	Channel, ThreadTS, Comment string
	Completed                  bool
}

// fakeFailure is one canned failure for a method: an HTTP status (with a
// Retry-After header when set), or ok:false with slackErr.
type fakeFailure struct {
	status     int
	retryAfter string
	slackErr   string
}

func newFakeSlack(t testing.TB) *fakeSlack {
	f := &fakeSlack{
		t: t, token: "xoxb-test-token",
		msgs: map[string]*fakeMsg{}, files: map[string]*fakeFile{},
		groups: map[string][]string{}, handles: map[string]string{},
		failures: map[string][]fakeFailure{}, holds: map[string]chan struct{}{},
		triggers: map[string]fakeTrigger{}, ims: map[string]string{},
	}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(func() {
		f.mu.Lock()
		for _, c := range f.holds {
			close(c)
		}
		f.holds = map[string]chan struct{}{}
		f.mu.Unlock()
		f.srv.Close()
	})
	return f
}

// apiURL is what slack.OptionAPIURL takes.
func (f *fakeSlack) apiURL() string { return f.srv.URL + "/api/" }

// responseURL returns a response_url on the fake.
func (f *fakeSlack) responseURL(name string) string { return f.srv.URL + "/response/" + name }

func (f *fakeSlack) failNext(method string, fs ...fakeFailure) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.failures[method] = append(f.failures[method], fs...)
}

// hold makes calls to method wait until the returned func is called.
func (f *fakeSlack) hold(method string) (release func()) {
	c := make(chan struct{})
	f.mu.Lock()
	f.holds[method] = c
	f.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			if f.holds[method] == c {
				delete(f.holds, method)
				close(c)
			}
			f.mu.Unlock()
		})
	}
}

func (f *fakeSlack) nextTS() string {
	f.seq++
	return fmt.Sprintf("%d.%06d", 1700000000+f.seq/1000000, f.seq%1000000)
}

func (f *fakeSlack) serve(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/api/"):
		f.serveAPI(w, r, strings.TrimPrefix(r.URL.Path, "/api/"))
	case strings.HasPrefix(r.URL.Path, "/upload/"):
		f.serveUpload(w, r, strings.TrimPrefix(r.URL.Path, "/upload/"))
	case strings.HasPrefix(r.URL.Path, "/response/"):
		f.serveResponse(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (f *fakeSlack) serveAPI(w http.ResponseWriter, r *http.Request, method string) {
	// chat.getPermalink is a GET method (its arguments in the query).
	if r.Method != http.MethodPost && (r.Method != http.MethodGet || method != "chat.getPermalink") {
		http.Error(w, "POST only", http.StatusMethodNotAllowed)
		return
	}
	var raw json.RawMessage
	if mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); mt == "application/json" {
		b, err := io.ReadAll(r.Body)
		if err != nil || !json.Valid(b) {
			http.Error(w, "invalid JSON", http.StatusBadRequest)
			return
		}
		raw = b
	}
	if err := r.ParseForm(); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.Method == http.MethodGet {
		r.PostForm = r.Form
	}
	f.mu.Lock()
	f.calls = append(f.calls, fakeCall{Method: method, Form: r.PostForm, JSON: raw, At: time.Now()})
	hold := f.holds[method]
	var fail *fakeFailure
	if q := f.failures[method]; len(q) > 0 {
		fail = &q[0]
		f.failures[method] = q[1:]
	}
	f.mu.Unlock()
	if hold != nil {
		<-hold
	}
	if fail != nil {
		if fail.slackErr != "" {
			reply(w, map[string]any{"ok": false, "error": fail.slackErr})
			return
		}
		if fail.retryAfter != "" {
			w.Header().Set("Retry-After", fail.retryAfter)
		}
		http.Error(w, http.StatusText(fail.status), fail.status)
		return
	}
	tok := r.PostForm.Get("token")
	if tok == "" {
		tok = strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	}
	if tok != f.token {
		reply(w, map[string]any{"ok": false, "error": "invalid_auth"})
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	switch method {
	case "chat.postMessage":
		reply(w, f.postMessage(r.PostForm))
	case "chat.update":
		reply(w, f.update(r.PostForm))
	case "chat.postEphemeral":
		reply(w, f.postEphemeral(r.PostForm))
	case "files.getUploadURLExternal":
		reply(w, f.getUploadURL(r.PostForm))
	case "files.completeUploadExternal":
		reply(w, f.completeUpload(r.PostForm))
	case "chat.getPermalink":
		m, ok := f.msgs[r.PostForm.Get("message_ts")]
		if !ok || m.Channel != r.PostForm.Get("channel") {
			reply(w, map[string]any{"ok": false, "error": "message_not_found"})
			return
		}
		reply(w, map[string]any{"ok": true, "channel": m.Channel,
			"permalink": "https://fake.slack.com/archives/" + m.Channel + "/p" + strings.ReplaceAll(m.TS, ".", "")})
	case "views.open":
		reply(w, f.openView(raw))
	case "conversations.open":
		users := strings.Split(r.PostForm.Get("users"), ",")
		if len(users) != 1 || users[0] == "" {
			reply(w, map[string]any{"ok": false, "error": "users_list_not_supplied"})
			return
		}
		id := "D" + strings.TrimPrefix(users[0], "U")
		f.ims[id] = users[0]
		reply(w, map[string]any{"ok": true, "channel": map[string]any{"id": id, "is_im": true, "user": users[0]}})
	case "usergroups.users.list":
		users, ok := f.groups[r.PostForm.Get("usergroup")]
		if !ok {
			reply(w, map[string]any{"ok": false, "error": "no_such_subteam"})
			return
		}
		reply(w, map[string]any{"ok": true, "users": users})
	case "usergroups.list":
		var gs []map[string]any
		for h, id := range f.handles {
			gs = append(gs, map[string]any{"id": id, "handle": h, "name": h})
		}
		reply(w, map[string]any{"ok": true, "usergroups": gs})
	default:
		reply(w, map[string]any{"ok": false, "error": "unknown_method"})
	}
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// checkBlocks reports whether a blocks form value is a JSON array.
func checkBlocks(s string) (json.RawMessage, bool) {
	if s == "" {
		return nil, true
	}
	var arr []json.RawMessage
	if json.Unmarshal([]byte(s), &arr) != nil {
		return nil, false
	}
	return json.RawMessage(s), true
}

func (f *fakeSlack) postMessage(form url.Values) map[string]any {
	ch := form.Get("channel")
	if ch == "" {
		return map[string]any{"ok": false, "error": "channel_not_found"}
	}
	blocks, ok := checkBlocks(form.Get("blocks"))
	if !ok {
		return map[string]any{"ok": false, "error": "invalid_blocks"}
	}
	if form.Get("text") == "" && blocks == nil {
		return map[string]any{"ok": false, "error": "no_text"}
	}
	thread := form.Get("thread_ts")
	if thread != "" {
		parent, ok := f.msgs[thread]
		switch {
		case !ok || parent.Channel != ch:
			f.violations = append(f.violations, "thread_ts "+thread+" is no message in "+ch)
			return map[string]any{"ok": false, "error": "thread_not_found"}
		case parent.ThreadTS != "":
			f.violations = append(f.violations, "thread_ts "+thread+" is a reply, not a root")
			return map[string]any{"ok": false, "error": "thread_not_found"}
		}
	}
	ts := f.nextTS()
	f.msgs[ts] = &fakeMsg{Channel: ch, TS: ts, ThreadTS: thread, Text: form.Get("text"), Blocks: blocks}
	f.order = append(f.order, ts)
	return map[string]any{"ok": true, "channel": ch, "ts": ts,
		"message": map[string]any{"type": "message", "text": form.Get("text"), "ts": ts, "thread_ts": thread}}
}

func (f *fakeSlack) update(form url.Values) map[string]any {
	ch, ts := form.Get("channel"), form.Get("ts")
	m, ok := f.msgs[ts]
	if !ok || m.Channel != ch {
		return map[string]any{"ok": false, "error": "message_not_found"}
	}
	blocks, ok := checkBlocks(form.Get("blocks"))
	if !ok {
		return map[string]any{"ok": false, "error": "invalid_blocks"}
	}
	// As Slack: text and blocks left out of the call are kept.
	if _, set := form["text"]; set {
		m.Text = form.Get("text")
	}
	if _, set := form["blocks"]; set {
		m.Blocks = blocks
	}
	m.Updates++
	return map[string]any{"ok": true, "channel": ch, "ts": ts, "text": m.Text}
}

func (f *fakeSlack) postEphemeral(form url.Values) map[string]any {
	ch, user := form.Get("channel"), form.Get("user")
	if ch == "" || user == "" {
		return map[string]any{"ok": false, "error": "user_not_in_channel"}
	}
	blocks, _ := checkBlocks(form.Get("blocks"))
	f.ephemerals = append(f.ephemerals, fakeEphemeral{Channel: ch, User: user, Text: form.Get("text"), Blocks: blocks})
	return map[string]any{"ok": true, "message_ts": f.nextTS()}
}

// newTrigger is a trigger_id for user's next command or click, good for
// 3 seconds, once.
func (f *fakeSlack) newTrigger(user string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.seq++
	id := fmt.Sprintf("%d.%d.fake%06d", 1700000000+f.seq, f.seq, f.seq)
	f.triggers[id] = fakeTrigger{user: user, until: time.Now().Add(3 * time.Second)}
	return id
}

// openView is views.open: a JSON body {trigger_id, view}, the view a
// modal with a title, at most 100 blocks, input blocks with distinct
// block IDs, private_metadata of at most 3000 characters.
func (f *fakeSlack) openView(raw json.RawMessage) map[string]any {
	var req struct {
		TriggerID string `json:"trigger_id"`
		View      struct {
			Type            string            `json:"type"`
			Title           map[string]any    `json:"title"`
			Blocks          []json.RawMessage `json:"blocks"`
			PrivateMetadata string            `json:"private_metadata"`
		} `json:"view"`
	}
	if err := json.Unmarshal(raw, &req); err != nil {
		return map[string]any{"ok": false, "error": "invalid_arguments"}
	}
	tr, ok := f.triggers[req.TriggerID]
	switch {
	case !ok:
		return map[string]any{"ok": false, "error": "invalid_trigger_id"}
	case tr.used || time.Now().After(tr.until):
		return map[string]any{"ok": false, "error": "expired_trigger_id"}
	case req.View.Type != "modal" || req.View.Title == nil || len(req.View.Blocks) == 0 || len(req.View.Blocks) > 100 || len(req.View.PrivateMetadata) > 3000:
		f.violations = append(f.violations, "views.open with an invalid modal: "+string(raw))
		return map[string]any{"ok": false, "error": "invalid_arguments"}
	}
	tr.used = true
	f.triggers[req.TriggerID] = tr
	f.seq++
	id := fmt.Sprintf("V%06d", f.seq)
	var view json.RawMessage
	_ = json.Unmarshal(raw, &struct {
		View *json.RawMessage `json:"view"`
	}{&view})
	f.views = append(f.views, fakeView{ID: id, User: tr.user, View: view})
	return map[string]any{"ok": true, "view": map[string]any{"id": id, "type": "modal"}}
}

// openedViews are the modals opened so far.
func (f *fakeSlack) openedViews() []fakeView {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeView(nil), f.views...)
}

// submission is the interaction payload Slack posts when user submits
// the view id with values (input block ID -> text), as a form body: the
// view's callback_id and private_metadata as Slack kept them.
func (f *fakeSlack) submission(id, user string, values map[string]string) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, v := range f.views {
		if v.ID != id {
			continue
		}
		var view map[string]any
		if err := json.Unmarshal(v.View, &view); err != nil {
			return "", err
		}
		state := map[string]any{}
		for k, val := range values {
			state[k] = map[string]any{k: map[string]any{"type": "plain_text_input", "value": val}}
		}
		view["id"], view["state"] = id, map[string]any{"values": state}
		f.seq++
		p := map[string]any{
			"type":       "view_submission",
			"team":       map[string]any{"id": "T0TEAM", "domain": "example"},
			"user":       map[string]any{"id": user, "username": "u", "name": "u", "team_id": "T0TEAM"},
			"api_app_id": "A0APP",
			"trigger_id": fmt.Sprintf("%d.%d.sub", 1700000000+f.seq, f.seq),
			"view":       view,
		}
		b, err := json.Marshal(p)
		if err != nil {
			return "", err
		}
		return url.Values{"payload": {string(b)}}.Encode(), nil
	}
	return "", fmt.Errorf("no view %s was opened", id)
}

func (f *fakeSlack) getUploadURL(form url.Values) map[string]any {
	n, err := strconv.Atoi(form.Get("length"))
	if err != nil || n <= 0 || form.Get("filename") == "" {
		return map[string]any{"ok": false, "error": "invalid_arguments"}
	}
	f.seq++
	id := fmt.Sprintf("F%06d", f.seq)
	f.files[id] = &fakeFile{ID: id, Name: form.Get("filename"), Length: n}
	return map[string]any{"ok": true, "upload_url": f.srv.URL + "/upload/" + id, "file_id": id}
}

func (f *fakeSlack) serveUpload(w http.ResponseWriter, r *http.Request, id string) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "multipart/form-data" {
		http.Error(w, "multipart only", http.StatusBadRequest)
		return
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	var content []byte
	for {
		p, err := mr.NextPart()
		if err != nil {
			break
		}
		if p.FormName() == "file" {
			content, _ = io.ReadAll(p)
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	file, ok := f.files[id]
	if !ok {
		http.NotFound(w, r)
		return
	}
	file.Content = content
	if len(content) != file.Length {
		f.violations = append(f.violations, fmt.Sprintf("file %s: announced %d bytes, uploaded %d", id, file.Length, len(content)))
	}
	fmt.Fprintf(w, "OK - %d", len(content))
}

func (f *fakeSlack) completeUpload(form url.Values) map[string]any {
	var list []struct {
		ID    string `json:"id"`
		Title string `json:"title"`
	}
	if err := json.Unmarshal([]byte(form.Get("files")), &list); err != nil || len(list) == 0 {
		return map[string]any{"ok": false, "error": "invalid_arguments"}
	}
	thread := form.Get("thread_ts")
	if thread != "" {
		if p, ok := f.msgs[thread]; !ok || p.ThreadTS != "" {
			f.violations = append(f.violations, "file shared under "+thread+", which is not a root")
		}
	}
	var out []map[string]any
	for _, it := range list {
		file, ok := f.files[it.ID]
		if !ok || file.Content == nil {
			return map[string]any{"ok": false, "error": "file_not_found"}
		}
		file.Title, file.Channel, file.ThreadTS, file.Comment, file.Completed = it.Title, form.Get("channel_id"), thread, form.Get("initial_comment"), true
		out = append(out, map[string]any{"id": it.ID, "title": it.Title})
	}
	return map[string]any{"ok": true, "files": out}
}

func (f *fakeSlack) serveResponse(w http.ResponseWriter, r *http.Request) {
	var body map[string]any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil || r.Header.Get("Content-Type") != "application/json" {
		http.Error(w, "invalid_payload", http.StatusBadRequest)
		return
	}
	f.mu.Lock()
	f.responses = append(f.responses, fakeResponse{Path: r.URL.Path, Body: body})
	f.mu.Unlock()
	_, _ = io.WriteString(w, "ok")
}

// Accessors, all copies taken under the lock.

func (f *fakeSlack) callsTo(method string) []fakeCall {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeCall
	for _, c := range f.calls {
		if c.Method == method {
			out = append(out, c)
		}
	}
	return out
}

func (f *fakeSlack) message(ts string) (fakeMsg, bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	m, ok := f.msgs[ts]
	if !ok {
		return fakeMsg{}, false
	}
	return *m, true
}

// roots returns the top-level messages in posting order.
func (f *fakeSlack) roots() []fakeMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMsg
	for _, ts := range f.order {
		if m := f.msgs[ts]; m.ThreadTS == "" {
			out = append(out, *m)
		}
	}
	return out
}

// replies returns the messages in root's thread in posting order.
func (f *fakeSlack) replies(root string) []fakeMsg {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeMsg
	for _, ts := range f.order {
		if m := f.msgs[ts]; m.ThreadTS == root {
			out = append(out, *m)
		}
	}
	return out
}

func (f *fakeSlack) allResponses() []fakeResponse {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeResponse(nil), f.responses...)
}

func (f *fakeSlack) allEphemerals() []fakeEphemeral {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeEphemeral(nil), f.ephemerals...)
}

func (f *fakeSlack) completedFiles() []fakeFile {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []fakeFile
	for _, file := range f.files {
		if file.Completed {
			out = append(out, *file)
		}
	}
	return out
}

func (f *fakeSlack) allViolations() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.violations...)
}
