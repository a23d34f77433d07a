package commands_test

import (
	"context"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
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
	if err := handle(ctx, s.Router, rec, bot.Command{Platform: "test", User: alice, Channel: "C1", Text: "status"}); err != nil {
		t.Fatal(err)
	}
	s.Router.Wait()
	before, err := s.DB.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := handle(ctx, s.Router, rec, bot.Command{Platform: "test", User: alice, Channel: "C1", Text: "audit anchor"}); err != nil {
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

// TestDailyAnchorFollowsTheLastAnchor: the daily anchor is scheduled from
// the last audit.anchored entry, on the router's clock, not from the
// process's start: a bot restarted more often than daily still anchors
// once a day. With no anchor, or one older than a day, it anchors at start.
func TestDailyAnchorFollowsTheLastAnchor(t *testing.T) {
	t0 := time.Date(2031, 3, 4, 9, 30, 0, 0, time.UTC)
	const quiet = 300 * time.Millisecond // long enough for a 5 ms poll to act
	start := func(t *testing.T, clock *approvalstest.Clock, before func(*simtest.Stack)) (*simtest.Stack, *channelRecorder) {
		t.Helper()
		s := simtest.Start(t, simtest.Options{Clock: clock.Now, Router: commands.Options{AuditChannel: "C-audit"}})
		commands.SetAnchorPoll(s.Router, 5*time.Millisecond)
		rec := &channelRecorder{recorder: newRecorder(), posts: map[string][]string{}}
		s.Router.Register(rec)
		if before != nil {
			before(s)
		}
		s.Run(t)
		return s, rec
	}
	daily := func(rec *channelRecorder) int {
		n := 0
		for _, p := range rec.in("C-audit") {
			if strings.Contains(p, "Daily anchor") {
				n++
			}
		}
		return n
	}
	// dueAnHourLater: with the clock standing still, no daily anchor
	// beyond the `had` ones comes (the last anchor is 23 h old, said by
	// when); an hour later the next one does.
	dueAnHourLater := func(t *testing.T, clock *approvalstest.Clock, rec *channelRecorder, had int, when string) {
		t.Helper()
		time.Sleep(quiet)
		if n := daily(rec); n != had {
			t.Fatalf("%d daily anchors %s, want %d", n, when, had)
		}
		clock.Advance(time.Hour)
		eventually(t, "the anchor 24 h after the last one", func() bool { return daily(rec) == had+1 })
	}
	manual := func(s *simtest.Stack) {
		if _, err := s.Router.Anchor(context.Background(), approvals.User{ID: alice.ID, Name: alice.Name}, "Anchored by alice"); err != nil {
			t.Fatal(err)
		}
	}

	t.Run("restarted within the day", func(t *testing.T) {
		clock := approvalstest.NewClock(t0)
		// A first process anchored 23 h ago and stopped; this one starts.
		_, rec := start(t, clock, func(s *simtest.Stack) {
			manual(s)
			clock.Advance(23 * time.Hour)
		})
		dueAnHourLater(t, clock, rec, 0, "23 h after the last one")
		clock.Advance(23 * time.Hour)
		dueAnHourLater(t, clock, rec, 1, "23 h after the previous one")
	})
	t.Run("the last anchor pages back", func(t *testing.T) {
		// lastAnchor reads the trail a page at a time: an anchor behind
		// several pages of younger entries is still found.
		clock := approvalstest.NewClock(t0)
		_, rec := start(t, clock, func(s *simtest.Stack) {
			manual(s)
			clock.Advance(time.Hour)
			busy := make([]approvals.AuditEntry, 3000)
			for i := range busy {
				busy[i] = approvals.AuditEntry{Time: clock.Now(), Actor: alice.ID, Action: "command.received", Detail: fmt.Sprint("status ", i)}
			}
			if _, err := s.DB.Append(context.Background(), busy...); err != nil {
				t.Fatal(err)
			}
			clock.Advance(22 * time.Hour)
		})
		dueAnHourLater(t, clock, rec, 0, "23 h after the last one (3,000 entries back)")
	})
	t.Run("no anchor yet", func(t *testing.T) {
		_, rec := start(t, approvalstest.NewClock(t0), nil)
		eventually(t, "an anchor at start", func() bool { return daily(rec) == 1 })
		time.Sleep(quiet)
		if n := daily(rec); n != 1 {
			t.Fatalf("%d anchors with the clock standing still, want 1", n)
		}
	})
	t.Run("last anchor older than a day", func(t *testing.T) {
		clock := approvalstest.NewClock(t0)
		_, rec := start(t, clock, func(s *simtest.Stack) {
			manual(s)
			clock.Advance(25 * time.Hour)
		})
		eventually(t, "an anchor at start", func() bool { return daily(rec) == 1 })
	})
	t.Run("a manual anchor moves the schedule", func(t *testing.T) {
		clock := approvalstest.NewClock(t0)
		s, rec := start(t, clock, nil)
		// The schedule counts from the newest audit.anchored entry, which
		// an anchor records after its post: alice's must come after it.
		eventually(t, "an anchor at start, posted and recorded", func() bool {
			return daily(rec) == 1 && len(auditOf(t, s, commands.ActionAuditAnchored)) == 1
		})
		clock.Advance(12 * time.Hour)
		manual(s)
		clock.Advance(12 * time.Hour)
		time.Sleep(quiet)
		if n := daily(rec); n != 1 {
			t.Fatalf("%d daily anchors 12 h after alice's, want still 1", n)
		}
		clock.Advance(12 * time.Hour)
		eventually(t, "the anchor 24 h after alice's", func() bool { return daily(rec) == 2 })
	})
}
