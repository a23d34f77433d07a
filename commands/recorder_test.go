package commands_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// recorder is a bot.Chat that keeps every post, edit and note, so tests
// can assert on the conversation as a platform would show it.
type recorder struct {
	mu      sync.Mutex
	next    int
	posts   map[string]*post
	order   []string
	notes   []note
	uploads []bot.File
}

type post struct {
	id, root string
	msg      bot.Message
	edits    int
}

type note struct {
	user bot.User
	msg  bot.Message
}

func newRecorder() *recorder { return &recorder{posts: map[string]*post{}} }

func (r *recorder) Platform() string { return "test" }

func (r *recorder) add(root string, m bot.Message) bot.Ref {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.next++
	id := fmt.Sprintf("m%d", r.next)
	r.posts[id] = &post{id: id, root: root, msg: m}
	r.order = append(r.order, id)
	return bot.Ref{Channel: "C1", ID: id}
}

func (r *recorder) PostRoot(_ context.Context, _ string, m bot.Message) (bot.Ref, error) {
	return r.add("", m), nil
}

func (r *recorder) Reply(_ context.Context, root bot.Ref, m bot.Message) (bot.Ref, error) {
	r.mu.Lock()
	p, ok := r.posts[root.ID]
	r.mu.Unlock()
	if !ok || p.root != "" {
		return bot.Ref{}, fmt.Errorf("reply under %q, which is not a root", root.ID)
	}
	return r.add(root.ID, m), nil
}

func (r *recorder) Update(_ context.Context, ref bot.Ref, m bot.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	p, ok := r.posts[ref.ID]
	if !ok {
		return fmt.Errorf("no message %q", ref.ID)
	}
	p.msg = m
	p.edits++
	return nil
}

func (r *recorder) Upload(_ context.Context, _ bot.Ref, f bot.File, _ string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.uploads = append(r.uploads, f)
	return nil
}

func (r *recorder) Notify(_ context.Context, _ string, u bot.User, m bot.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.notes = append(r.notes, note{u, m})
	return nil
}

// text renders a message for substring assertions.
func text(m bot.Message) string {
	var b strings.Builder
	b.WriteString(m.Title.String() + "\n" + m.Text.String() + "\n" + m.Code + "\n" + m.Context.String() + "\n")
	for _, f := range m.Fields {
		b.WriteString(f.Label + ": " + f.Value.String() + "\n")
	}
	return b.String()
}

// thread returns the root's current text followed by its replies'.
func (r *recorder) thread(root string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []string{text(r.posts[root].msg)}
	for _, id := range r.order {
		if p := r.posts[id]; p.root == root {
			out = append(out, text(p.msg))
		}
	}
	return out
}

// roots returns the IDs of root posts, in order.
func (r *recorder) roots() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var ids []string
	for _, id := range r.order {
		if r.posts[id].root == "" {
			ids = append(ids, id)
		}
	}
	return ids
}

func (r *recorder) message(id string) bot.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.posts[id].msg
}

func (r *recorder) notesFor(userID string) []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, n := range r.notes {
		if n.user.ID == userID {
			out = append(out, text(n.msg))
		}
	}
	return out
}

// eventually polls cond until it holds or a generous deadline passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// replies returns the messages replied under root, in order.
func (r *recorder) replies(root string) []bot.Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []bot.Message
	for _, id := range r.order {
		if p := r.posts[id]; p.root == root {
			out = append(out, p.msg)
		}
	}
	return out
}
