package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// bareChat is a recorder for a platform with no edits, uploads, buttons
// or threads (a plain webhook chat).
type bareChat struct{ *recorder }

func (bareChat) Capabilities() bot.Capabilities {
	return bot.Capabilities{Ephemeral: true}
}

// TestBarePlatformRunsAMigrate: on a platform that can only post, a
// migrate is requested, approved by typing the command the card shows,
// run and reported: every post a root naming the request, nothing
// edited, no file uploaded.
func TestBarePlatformRunsAMigrate(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	rec := bareChat{newRecorder()}
	s.Router.Register(rec)
	s.Run(t)
	ctx := context.Background()
	say := func(u bot.User, text string) {
		t.Helper()
		if err := handle(ctx, s.Router, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: text}); err != nil {
			t.Fatalf("%s: %v", text, err)
		}
		s.Router.Wait()
	}
	say(alice, "migrate -- upgrade to 17.5")
	reqs, err := s.DB.Requests(ctx, approvals.RequestFilter{States: []approvals.State{approvals.StatePending}})
	if err != nil || len(reqs) != 1 {
		t.Fatalf("want one pending request, got %d (%v)", len(reqs), err)
	}
	id := reqs[0].ID
	// The card is a new post (no edits), showing what to type.
	if typed := "`/gitlab-migrations approve " + id + "`"; !strings.Contains(strings.Join(rec.texts(), "\n"), typed) {
		t.Fatalf("no post shows %s to type:\n%s", typed, strings.Join(rec.texts(), "\n---\n"))
	}
	say(bob, "approve "+id)
	eventually(t, "the migrate to finish", func() bool {
		req, err := s.DB.Request(ctx, id)
		return err == nil && req.State.Terminal()
	})
	s.Router.Wait()

	rec.mu.Lock()
	defer rec.mu.Unlock()
	var all []string
	for _, pid := range rec.order {
		p := rec.posts[pid]
		if len(p.msg.Buttons) != 0 {
			t.Errorf("post %s carries buttons on a platform without them: %+v", pid, p.msg.Buttons)
		}
		all = append(all, text(p.msg))
		if p.root != "" {
			t.Errorf("post %s is a reply on a platform without threads", pid)
		}
		if p.edits != 0 {
			t.Errorf("post %s was edited %d times on a platform without edits", pid, p.edits)
		}
	}
	if len(rec.uploads) != 0 {
		t.Errorf("%d files uploaded to a platform without uploads", len(rec.uploads))
	}
	joined := strings.Join(all, "\n---\n")
	for _, want := range []string{"Re: ", "Done: migrate on gitlab-sim succeeded"} {
		if !strings.Contains(joined, want) {
			t.Errorf("no %q in what the platform showed:\n%s", want, joined)
		}
	}
	// After the card, each post names the request.
	for _, p := range all[2:] {
		if !strings.Contains(p, "Re: ") || !strings.Contains(p, "request "+id) {
			t.Errorf("a post does not name the request it belongs to:\n%s", p)
		}
	}
}

// texts is every post's text, in order.
func (r *recorder) texts() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, id := range r.order {
		out = append(out, text(r.posts[id].msg))
	}
	return out
}
