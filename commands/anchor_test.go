package commands_test

import (
	"context"
	"log/slog"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// channelRecorder is a recorder that also keeps which channel each root
// post went to.
type channelRecorder struct {
	*recorder
	mu    sync.Mutex
	posts map[string][]string // channel -> texts of root posts
}

func (c *channelRecorder) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.Ref, error) {
	c.mu.Lock()
	c.posts[channel] = append(c.posts[channel], text(m))
	c.mu.Unlock()
	return c.recorder.PostRoot(ctx, channel, m)
}

func (c *channelRecorder) in(channel string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.posts[channel]...)
}

var anchorRE = regexp.MustCompile("`(\\d+:[0-9a-f]{64})`")

// TestAuditAnchorPostsTheHead: `audit anchor` posts the head to the audit
// channel and it is the head a later verify checks against, even after more
// entries; the daily anchor posts by itself.
func TestAuditAnchorPostsTheHead(t *testing.T) {
	var logs simtest.LockedBuffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	s := simtest.Start(t, simtest.Options{Router: commands.Options{AuditChannel: "C-audit", AnchorEvery: 300 * time.Millisecond, Logger: logger}})
	rec := &channelRecorder{recorder: newRecorder(), posts: map[string][]string{}}
	s.Router.Register(rec)
	ctx := context.Background()
	if err := s.Router.HandleCommand(ctx, rec, bot.Command{Platform: "test", User: alice, Channel: "C1", Text: "status"}); err != nil {
		t.Fatal(err)
	}
	s.Router.Wait()
	before, err := s.DB.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Router.HandleCommand(ctx, rec, bot.Command{Platform: "test", User: alice, Channel: "C1", Text: "audit anchor"}); err != nil {
		t.Fatal(err)
	}
	s.Router.Wait()
	posted := rec.in("C-audit")
	if len(posted) != 1 {
		t.Fatalf("audit channel got %d posts, want 1: %q", len(posted), posted)
	}
	m := anchorRE.FindStringSubmatch(posted[0])
	if m == nil || m[1] != before.String() {
		t.Fatalf("anchor post does not show the head %s:\n%s", before, posted[0])
	}
	contains(t, rec.notesFor(alice.ID), before.String())
	contains(t, []string{logs.String()}, "msg=\"audit anchor\" head="+before.String())
	acts := auditActions(t, s)
	if acts[len(acts)-1] != commands.ActionAuditAnchored {
		t.Fatalf("anchor not audited: %v", acts)
	}
	anchor, err := auditchain.ParseAnchor(m[1])
	if err != nil {
		t.Fatal(err)
	}
	rep, err := auditchain.Verify(ctx, s.DB, approvalstest.Key, &anchor)
	if err != nil || rep.AnchorSeq != before.Seq || rep.Head.Seq <= before.Seq {
		t.Fatalf("Verify(anchor) = %+v, %v", rep, err)
	}

	s.Run(t) // starts the loops: the daily anchor (every 300 ms here)
	eventually(t, "the periodic anchor", func() bool { return len(rec.in("C-audit")) >= 2 })
	contains(t, rec.in("C-audit")[1:], "Daily anchor")
	contains(t, []string{logs.String()}, "msg=\"audit head at start\"")
}
