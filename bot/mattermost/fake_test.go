package mattermost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/mattermost/mattermost/server/public/model"
)

// fakeMM is a small Mattermost API v4 for the endpoints the adapter uses,
// on 127.0.0.1. It hands out model.NewId() IDs, validates posts with the
// model package's own validators, strips button integrations from what it
// returns (as the real server does for clients), records every call and
// can answer 429 with Retry-After. It also plays the server's part towards
// the bot: it POSTs slash commands and button callbacks, filling in the
// clicker's user_id as the real server does.
type fakeMM struct {
	t     testing.TB
	srv   *httptest.Server
	token string
	bot   *model.User

	mu          sync.Mutex
	calls       []string // "METHOD /path STATUS"
	posts       map[string]*model.Post
	order       []string // post IDs in creation order
	creates     []*model.Post
	patches     []patchRecord
	ephemerals  []*model.PostEphemeral
	files       map[string]*model.FileInfo
	uploads     [][]byte
	sessions    map[string]*model.UploadSession
	users       map[string]*model.User
	userGets    map[string]int
	members     map[string]map[string]bool
	dms         map[string]string
	pending     map[string]string // pending_post_id -> post ID
	noEphemeral bool
	channels    map[string]*model.Channel // what GET /channels/{id} knows
	readOnly    map[string]bool           // channels the bot may not post in
	noMsgEdits  bool                      // PostEditTimeLimit has passed for every post
	nullProps   int                       // patches whose props were null (which keeps buttons)
	limits      map[string]*limit         // route -> 429s still to answer
	stall       map[string]bool           // route -> hang until the client gives up
	quit        chan struct{}             // closed when the test ends, ending stalls
	triggers    map[string]mmTrigger      // trigger_id -> whose, until when
	dialogs     []fakeDialog              // opened with OpenInteractiveDialog
	// expireTriggers issues trigger_ids that have expired already.
	expireTriggers bool
}

// mmTrigger is a trigger_id the server handed out with a command or
// click: good for 3 seconds (InteractiveDialogTriggerTimeout), for its
// user.
type mmTrigger struct {
	user  string
	until time.Time
}

// fakeDialog is a dialog the bot opened, for the user of its trigger.
type fakeDialog struct {
	User string
	Req  model.OpenDialogRequest
}

type patchRecord struct {
	PostID string
	Post   *model.Post // the post as stored after the patch
}

type limit struct {
	n          int
	retryAfter string
}

func newFakeMM(t testing.TB) *fakeMM {
	f := &fakeMM{
		t: t, token: "bottoken" + model.NewId(),
		bot:   &model.User{Id: model.NewId(), Username: "gitlab-chatops", IsBot: true},
		posts: map[string]*model.Post{}, files: map[string]*model.FileInfo{}, sessions: map[string]*model.UploadSession{},
		users: map[string]*model.User{}, userGets: map[string]int{}, members: map[string]map[string]bool{},
		dms: map[string]string{}, pending: map[string]string{}, limits: map[string]*limit{}, stall: map[string]bool{},
		channels: map[string]*model.Channel{}, readOnly: map[string]bool{},
		triggers: map[string]mmTrigger{},
	}
	f.users[f.bot.Id] = f.bot
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/v4/posts", f.createPost)
	mux.HandleFunc("POST /api/v4/posts/ephemeral", f.createEphemeral)
	mux.HandleFunc("PUT /api/v4/posts/{id}/patch", f.patchPost)
	mux.HandleFunc("GET /api/v4/posts/{id}", f.getPost)
	mux.HandleFunc("POST /api/v4/uploads", f.createUpload)
	mux.HandleFunc("POST /api/v4/uploads/{id}", f.uploadData)
	mux.HandleFunc("GET /api/v4/channels/{cid}/members/{uid}", f.channelMember)
	mux.HandleFunc("POST /api/v4/channels/direct", f.directChannel)
	mux.HandleFunc("GET /api/v4/users/{uid}", f.getUser)
	mux.HandleFunc("GET /api/v4/channels/{cid}", f.getChannel)
	mux.HandleFunc("POST /api/v4/actions/dialogs/open", f.openDialog)
	f.quit = make(chan struct{})
	f.srv = httptest.NewServer(f.middleware(mux))
	t.Cleanup(f.srv.Close)
	t.Cleanup(func() { close(f.quit) }) // runs first: cleanups run last-in first-out
	return f
}

// URL is the server's base URL, for Config.URL.
func (f *fakeMM) URL() string { return f.srv.URL }

// route names a request the way limits and stalls are keyed.
func route(r *http.Request) string {
	return r.Method + " " + idInPath.ReplaceAllString(r.URL.Path, "{id}")
}

var idInPath = regexp.MustCompile(`[a-z0-9]{26}`)

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (f *fakeMM) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		defer func() {
			f.mu.Lock()
			f.calls = append(f.calls, fmt.Sprintf("%s %d", route(r), rec.status))
			f.mu.Unlock()
		}()
		if r.Header.Get("Authorization") != "BEARER "+f.token {
			appError(rec, http.StatusUnauthorized, "api.context.session_expired.app_error", "invalid or expired session")
			return
		}
		f.mu.Lock()
		l := f.limits[route(r)]
		limited := l != nil && l.n != 0
		if limited && l.n > 0 {
			l.n--
		}
		stall := f.stall[route(r)]
		f.mu.Unlock()
		if limited {
			// What Mattermost's rate limiter answers: plain text, which
			// Client4 cannot decode as an AppError.
			rec.Header().Set("Content-Type", "text/plain; charset=utf-8")
			rec.Header().Set("X-RateLimit-Limit", "10")
			rec.Header().Set("X-RateLimit-Remaining", "0")
			rec.Header().Set("X-RateLimit-Reset", l.retryAfter)
			if l.retryAfter != "" {
				rec.Header().Set("Retry-After", l.retryAfter)
			}
			rec.WriteHeader(http.StatusTooManyRequests)
			_, _ = io.WriteString(rec, "limit exceeded\n")
			return
		}
		if stall {
			// Read the body first: only then does net/http watch the
			// connection and cancel the context when the client gives up.
			_, _ = io.Copy(io.Discard, r.Body)
			select {
			case <-r.Context().Done():
			case <-f.quit:
			}
			return
		}
		next.ServeHTTP(rec, r)
	})
}

func appError(w http.ResponseWriter, status int, id, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "message": msg, "status_code": status})
}

func writeObj(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// forClient is what the server sends clients: integrations stripped.
func forClient(p *model.Post) *model.Post {
	c := p.Clone()
	c.StripActionIntegrations()
	return c
}

var alnumID = regexp.MustCompile(`^[A-Za-z0-9]+$`)

// validate checks p as the server would before storing it.
func (f *fakeMM) validate(p *model.Post) (int, string) {
	if !model.IsValidId(p.ChannelId) {
		return http.StatusBadRequest, "model.post.is_valid.channel_id.app_error"
	}
	if utf8.RuneCountInString(p.Message) > model.PostMessageMaxRunesV2 {
		return http.StatusBadRequest, "model.post.is_valid.message_length.app_error"
	}
	if p.Message == "" && len(p.FileIds) == 0 && len(p.Attachments()) == 0 {
		return http.StatusBadRequest, "api.post.create_post.empty"
	}
	for _, a := range p.Attachments() {
		if err := a.IsValid(); err != nil {
			return http.StatusBadRequest, "attachment: " + err.Error()
		}
		for _, act := range a.Actions {
			if !alnumID.MatchString(act.Id) {
				return http.StatusBadRequest, "action id " + act.Id + " would 404"
			}
		}
	}
	for _, id := range p.FileIds {
		if _, ok := f.files[id]; !ok {
			return http.StatusBadRequest, "unknown file " + id
		}
	}
	return 0, ""
}

func (f *fakeMM) createPost(w http.ResponseWriter, r *http.Request) {
	var p model.Post
	if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
		appError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if id, ok := f.pending[p.PendingPostId]; ok && p.PendingPostId != "" {
		writeObj(w, http.StatusCreated, forClient(f.posts[id]))
		return
	}
	if status, id := f.validate(&p); status != 0 {
		appError(w, status, id, id)
		return
	}
	if f.readOnly[p.ChannelId] {
		appError(w, http.StatusForbidden, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	}
	if p.RootId != "" {
		root, ok := f.posts[p.RootId]
		if !ok || root.RootId != "" || root.ChannelId != p.ChannelId {
			appError(w, http.StatusBadRequest, "api.post.create_post.root_id.app_error", "Invalid RootId parameter")
			return
		}
	}
	p.Id = model.NewId()
	p.UserId = f.bot.Id
	p.CreateAt = model.GetMillis()
	p.UpdateAt = p.CreateAt
	p.AddProp(model.PostPropsFromBot, "true")
	f.posts[p.Id] = p.Clone()
	f.order = append(f.order, p.Id)
	f.creates = append(f.creates, p.Clone())
	if p.PendingPostId != "" {
		f.pending[p.PendingPostId] = p.Id
	}
	writeObj(w, http.StatusCreated, forClient(&p))
}

func (f *fakeMM) patchPost(w http.ResponseWriter, r *http.Request) {
	var patch model.PostPatch
	if err := json.NewDecoder(r.Body).Decode(&patch); err != nil {
		appError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", err.Error())
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noMsgEdits && patch.Message != nil {
		appError(w, http.StatusBadRequest, "api.post.update_post.permissions_time_limit.app_error", "Message edit permissions time limit exceeded.")
		return
	}
	old, ok := f.posts[r.PathValue("id")]
	if !ok {
		appError(w, http.StatusNotFound, "app.post.get.app_error", "post not found")
		return
	}
	if patch.Props == nil {
		f.nullProps++
	}
	p := old.Clone()
	p.Patch(&patch) // replaces all props, as the server's UpdatePost does
	if status, id := f.validate(p); status != 0 {
		appError(w, status, id, id)
		return
	}
	p.EditAt = model.GetMillis()
	f.posts[p.Id] = p
	f.patches = append(f.patches, patchRecord{PostID: p.Id, Post: p.Clone()})
	writeObj(w, http.StatusOK, forClient(p))
}

func (f *fakeMM) getPost(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	p, ok := f.posts[r.PathValue("id")]
	if !ok {
		appError(w, http.StatusNotFound, "app.post.get.app_error", "post not found")
		return
	}
	writeObj(w, http.StatusOK, forClient(p))
}

func (f *fakeMM) createEphemeral(w http.ResponseWriter, r *http.Request) {
	var e model.PostEphemeral
	if err := json.NewDecoder(r.Body).Decode(&e); err != nil || e.Post == nil {
		appError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "post")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.noEphemeral {
		appError(w, http.StatusForbidden, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	}
	if status, id := f.validate(e.Post); status != 0 {
		appError(w, status, id, id)
		return
	}
	e.Post.Id = model.NewId()
	f.ephemerals = append(f.ephemerals, &model.PostEphemeral{UserID: e.UserID, Post: e.Post.Clone()})
	writeObj(w, http.StatusCreated, e.Post)
}

// createUpload and uploadData are Mattermost's upload sessions: the bot
// streams attachments through them.
func (f *fakeMM) createUpload(w http.ResponseWriter, r *http.Request) {
	var us model.UploadSession
	if err := json.NewDecoder(r.Body).Decode(&us); err != nil || us.Type != model.UploadTypeAttachment ||
		!model.IsValidId(us.ChannelId) || us.Filename == "" || us.FileSize <= 0 {
		appError(w, http.StatusBadRequest, "app.upload.create.app_error", "type attachment, channel_id, filename and file_size")
		return
	}
	us.Id = model.NewId()
	f.mu.Lock()
	f.sessions[us.Id] = &us
	f.mu.Unlock()
	writeObj(w, http.StatusCreated, &us)
}

func (f *fakeMM) uploadData(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	us := f.sessions[r.PathValue("id")]
	f.mu.Unlock()
	if us == nil {
		appError(w, http.StatusNotFound, "app.upload.get.app_error", "no such upload session")
		return
	}
	data, err := io.ReadAll(r.Body)
	if err != nil || int64(len(data)) > us.FileSize {
		appError(w, http.StatusBadRequest, "app.upload.upload_data.app_error", "more data than file_size")
		return
	}
	if int64(len(data)) < us.FileSize {
		w.WriteHeader(http.StatusNoContent) // a partial upload: the session waits for the rest
		return
	}
	info := &model.FileInfo{Id: model.NewId(), ChannelId: us.ChannelId, Name: us.Filename, Size: int64(len(data))}
	f.mu.Lock()
	delete(f.sessions, us.Id)
	f.files[info.Id] = info
	f.uploads = append(f.uploads, data)
	f.mu.Unlock()
	writeObj(w, http.StatusCreated, info)
}

func (f *fakeMM) channelMember(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	cid, uid := r.PathValue("cid"), r.PathValue("uid")
	if !f.members[cid][uid] {
		appError(w, http.StatusNotFound, "app.channel.get_member.missing.app_error", "No channel member found for that user ID and channel ID.")
		return
	}
	writeObj(w, http.StatusOK, &model.ChannelMember{ChannelId: cid, UserId: uid, Roles: "channel_user"})
}

func (f *fakeMM) directChannel(w http.ResponseWriter, r *http.Request) {
	var ids []string
	if err := json.NewDecoder(r.Body).Decode(&ids); err != nil || len(ids) != 2 {
		appError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "two user IDs")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	name := model.GetDMNameFromIds(ids[0], ids[1])
	id, ok := f.dms[name]
	if !ok {
		id = model.NewId()
		f.dms[name] = id
	}
	writeObj(w, http.StatusCreated, &model.Channel{Id: id, Name: name, Type: model.ChannelTypeDirect})
}

// newTrigger is a trigger_id for user's next command or click.
func (f *fakeMM) newTrigger(user string) string {
	id := model.NewId()
	f.mu.Lock()
	until := time.Now().Add(3 * time.Second)
	if f.expireTriggers {
		until = time.Now().Add(-time.Second)
	}
	f.triggers[id] = mmTrigger{user: user, until: until}
	f.mu.Unlock()
	return id
}

// openDialog is POST /actions/dialogs/open: a trigger_id the server
// issued, not expired, a URL, and a dialog its own validator accepts.
func (f *fakeMM) openDialog(w http.ResponseWriter, r *http.Request) {
	var req model.OpenDialogRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		appError(w, http.StatusBadRequest, "api.context.invalid_body_param.app_error", "dialog")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	tr, ok := f.triggers[req.TriggerId]
	switch {
	case !ok:
		appError(w, http.StatusBadRequest, "interactive_message.decode_trigger_id.base64_decode_failed", "bad trigger_id")
		return
	case time.Now().After(tr.until):
		appError(w, http.StatusBadRequest, "interactive_message.decode_trigger_id.expired", "trigger_id expired")
		return
	case !model.IsValidHTTPURL(req.URL):
		appError(w, http.StatusBadRequest, "interactive_message.open_dialog.url", "url")
		return
	}
	if err := req.Dialog.IsValid(); err != nil {
		appError(w, http.StatusBadRequest, "interactive_message.open_dialog.invalid", err.Error())
		return
	}
	f.dialogs = append(f.dialogs, fakeDialog{User: tr.user, Req: req})
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, `{"status":"OK"}`)
}

// openedDialogs are the dialogs opened so far.
func (f *fakeMM) openedDialogs() []fakeDialog {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]fakeDialog(nil), f.dialogs...)
}

// submitDialog plays u submitting d with values: the server POSTs the
// dialog's callback_id and state, with the user and channel it fills in
// itself, to the dialog's URL.
func (f *fakeMM) submitDialog(t testing.TB, d fakeDialog, u mmUser, values map[string]string) (int, *model.SubmitDialogResponse) {
	t.Helper()
	sub := map[string]any{}
	for k, v := range values {
		sub[k] = v
	}
	return f.dialogRequest(t, d.Req.URL, &model.SubmitDialogRequest{
		Type: "dialog_submission", URL: d.Req.URL, CallbackId: d.Req.Dialog.CallbackId, State: d.Req.Dialog.State,
		UserId: u.ID, ChannelId: channelID, TeamId: teamID, Submission: sub,
	})
}

// dialogRequest POSTs any submission body, forged ones included.
func (f *fakeMM) dialogRequest(t testing.TB, target string, body *model.SubmitDialogRequest) (int, *model.SubmitDialogResponse) {
	t.Helper()
	return postJSON[model.SubmitDialogResponse](t, http.DefaultClient, target, body, "dialog")
}

func (f *fakeMM) getUser(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	uid := r.PathValue("uid")
	if uid == "me" {
		uid = f.bot.Id
	}
	f.userGets[uid]++
	u, ok := f.users[uid]
	if !ok {
		appError(w, http.StatusNotFound, "app.user.missing_account.const", "user not found")
		return
	}
	writeObj(w, http.StatusOK, u)
}

func (f *fakeMM) getChannel(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	c, ok := f.channels[r.PathValue("cid")]
	if !ok {
		appError(w, http.StatusNotFound, "app.channel.get.existing.app_error", "Unable to find the existing channel.")
		return
	}
	writeObj(w, http.StatusOK, c)
}

// --- test controls and views ---

// addChannel makes a channel known to GET /channels/{id}.
func (f *fakeMM) addChannel(id, name, typ string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.channels[id] = &model.Channel{Id: id, TeamId: teamID, Name: name, DisplayName: name, Type: model.ChannelType(typ)}
}

func (f *fakeMM) addUser(id, name string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[id] = &model.User{Id: id, Username: name}
}

// addUserAs stores a user as the API returns it (deactivated, a bot …).
func (f *fakeMM) addUserAs(u *model.User) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.users[u.Id] = u
}

func (f *fakeMM) addMember(channel, user string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.members[channel] == nil {
		f.members[channel] = map[string]bool{}
	}
	f.members[channel][user] = true
}

// rateLimit makes the next n calls of route answer 429 (n < 0: all).
func (f *fakeMM) rateLimit(route string, n int, retryAfter string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.limits[route] = &limit{n: n, retryAfter: retryAfter}
}

// set changes the fake's behaviour under its lock.
func (f *fakeMM) set(change func(f *fakeMM)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	change(f)
}

func (f *fakeMM) created() []*model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*model.Post(nil), f.creates...)
}

func (f *fakeMM) stallRoute(route string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.stall[route] = true
}

func (f *fakeMM) callLog() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.calls...)
}

func (f *fakeMM) countCalls(prefix string) int {
	n := 0
	for _, c := range f.callLog() {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// post returns a copy of the stored post, integrations included.
func (f *fakeMM) post(id string) *model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	if p, ok := f.posts[id]; ok {
		return p.Clone()
	}
	return nil
}

// roots returns the root posts of channel, oldest first.
func (f *fakeMM) roots(channel string) []*model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*model.Post
	for _, id := range f.order {
		if p := f.posts[id]; p.ChannelId == channel && p.RootId == "" {
			out = append(out, p.Clone())
		}
	}
	return out
}

// thread returns the replies under root, oldest first.
func (f *fakeMM) thread(root string) []*model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*model.Post
	for _, id := range f.order {
		if p := f.posts[id]; p.RootId == root {
			out = append(out, p.Clone())
		}
	}
	return out
}

func (f *fakeMM) channelPosts(channel string) []*model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*model.Post
	for _, id := range f.order {
		if p := f.posts[id]; p.ChannelId == channel {
			out = append(out, p.Clone())
		}
	}
	return out
}

func (f *fakeMM) patchesOf(id string) []*model.Post {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*model.Post
	for _, p := range f.patches {
		if p.PostID == id {
			out = append(out, p.Post.Clone())
		}
	}
	return out
}

func (f *fakeMM) allPostIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.order...)
}

func (f *fakeMM) ephemeralPosts() []*model.PostEphemeral {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]*model.PostEphemeral(nil), f.ephemerals...)
}

// --- the server's part towards the bot ---

type mmUser struct{ ID, Name string }

// command POSTs a slash command to the bot as the server does.
func (f *fakeMM) command(t testing.TB, target, token string, u mmUser, channel, text string) (int, []byte) {
	t.Helper()
	return f.commandWith(t, http.DefaultClient, target, token, u, channel, text)
}

// commandWith is command sent through client (e.g. from another address).
func (f *fakeMM) commandWith(t testing.TB, client *http.Client, target, token string, u mmUser, channel, text string) (int, []byte) {
	t.Helper()
	form := url.Values{
		"token": {token}, "team_id": {teamID}, "team_domain": {"ops"}, "channel_id": {channel}, "channel_name": {"upgrades"},
		"user_id": {u.ID}, "user_name": {u.Name}, "command": {"/gitlab-migrations"}, "text": {text},
		"response_url": {f.srv.URL + "/hooks/commands/" + model.NewId()}, "trigger_id": {f.newTrigger(u.ID)},
	}
	req, err := http.NewRequest(http.MethodPost, target, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Token "+token)
	}
	return doWith(t, client, req)
}

// click plays a user clicking a button of a stored post: the server finds
// the action, fills in the clicker and POSTs the context to its URL.
func (f *fakeMM) click(t testing.TB, postID, actionID string, u mmUser) (int, *model.PostActionIntegrationResponse) {
	t.Helper()
	p := f.post(postID)
	if p == nil {
		t.Fatalf("click: no post %s", postID)
	}
	act := p.GetAction(actionID)
	if act == nil || act.Integration == nil {
		t.Fatalf("click: post %s has no action %q", postID, actionID)
	}
	return f.callback(t, act.Integration.URL, &model.PostActionIntegrationRequest{
		UserId: u.ID, UserName: u.Name, ChannelId: p.ChannelId, ChannelName: "upgrades", TeamId: teamID, TeamName: "ops",
		PostId: postID, TriggerId: f.newTrigger(u.ID), Type: model.PostActionTypeButton, Context: act.Integration.Context,
	})
}

// callback POSTs any callback body, forged ones included, from 127.0.0.1
// (where the fake Mattermost server is).
func (f *fakeMM) callback(t testing.TB, target string, body *model.PostActionIntegrationRequest) (int, *model.PostActionIntegrationResponse) {
	t.Helper()
	return callbackFrom(t, http.DefaultClient, target, body)
}

// callbackFrom POSTs a callback body with client, whose dialer may choose
// the source address.
func callbackFrom(t testing.TB, client *http.Client, target string, body *model.PostActionIntegrationRequest) (int, *model.PostActionIntegrationResponse) {
	t.Helper()
	return postJSON[model.PostActionIntegrationResponse](t, client, target, body, "callback")
}

// postJSON POSTs body as JSON to target with client, as Mattermost posts a
// callback or a dialog submission, and decodes a 200 answer into R (what
// names the answer in a failure); any other status leaves R zero.
func postJSON[R any](t testing.TB, client *http.Client, target string, body any, what string) (int, *R) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	status, raw := doWith(t, client, req)
	var resp R
	if status == http.StatusOK {
		if err := json.Unmarshal(raw, &resp); err != nil {
			t.Fatalf("%s answer is not JSON: %v: %s", what, err, raw)
		}
	}
	return status, &resp
}

func do(t testing.TB, req *http.Request) (int, []byte) {
	t.Helper()
	return doWith(t, http.DefaultClient, req)
}

func doWith(t testing.TB, client *http.Client, req *http.Request) (int, []byte) {
	t.Helper()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b
}
