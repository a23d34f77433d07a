package commands_test

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/commands"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// heldStatus is the real agent client, except that plain read-only
// migration status runs (what `status` asks; not approval checks) wait
// while the gate is closed.
type heldStatus struct {
	commands.Agent
	mu   sync.Mutex
	gate chan struct{} // nil: open
}

func (h *heldStatus) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.gate = make(chan struct{})
}

func (h *heldStatus) open() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.gate != nil {
		close(h.gate)
		h.gate = nil
	}
}

func (h *heldStatus) Run(ctx context.Context, req agent.RunRequest, onEvent func(agent.Event) error) (agent.JobRecord, error) {
	h.mu.Lock()
	gate := h.gate
	h.mu.Unlock()
	if gate != nil && req.Operation == "migrate-status" && req.Purpose == "" && req.RequestID == "" {
		select {
		case <-gate:
		case <-ctx.Done():
			return agent.JobRecord{}, ctx.Err()
		}
	}
	return h.Agent.Run(ctx, req, onEvent)
}

// TestBurstQueuesBeyondTheWorkersAndAnswersEveryone: with 2 workers, a
// burst of 10 `status` commands while the agent is slow runs 2 at once
// and queues 8, in order; the users of those queued behind 3 or more are
// told so; an approval given meanwhile does not queue (its run starts
// while the burst waits); when the agent answers, every command gets its
// status in its own thread and nothing was dropped.
func TestBurstQueuesBeyondTheWorkersAndAnswersEveryone(t *testing.T) {
	held := &heldStatus{}
	s, rec := setup(t, simtest.Options{
		Router:    commands.Options{Workers: 2, QueueNotice: 3},
		WrapAgent: func(a commands.Agent) commands.Agent { held.Agent = a; return held },
	})
	id, _ := openMigrate(t, s, rec)
	before := len(rec.roots())
	// The request's opening ran on the pool: its worker must be free
	// before the burst, or command 1 queues behind it and every count
	// below is one off (seen under -race).
	eventually(t, "the pool to be idle", func() bool { return commands.PoolRunning(s.Router) == 0 })

	held.close()
	users := make([]bot.User, 10)
	for i := range users {
		users[i] = bot.User{ID: fmt.Sprintf("U-burst-%d", i), Name: fmt.Sprintf("burst%d", i)}
		// Acknowledged at once (nil), whatever waits behind it.
		if err := handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: users[i], Channel: "C1", Text: "status"}); err != nil {
			t.Fatalf("status %d: %v", i, err)
		}
	}
	eventually(t, "two status runs started", func() bool { return len(rec.roots())-before == 2 })

	// The approval does not wait behind the 8 queued commands.
	if err := handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: bob, Channel: "C1", Text: "approve " + id}); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the approved migrate to start while the burst waits", func() bool {
		req, err := s.DB.Request(context.Background(), id)
		return err == nil && req.State.Started()
	})
	if n := len(rec.roots()) - before; n != 2 {
		t.Errorf("%d status commands started with 2 workers, want 2", n)
	}
	for i, u := range users {
		notes := strings.Join(rec.notesFor(u.ID), "\n")
		queuedNote := strings.Contains(notes, "queued behind")
		// Commands 0 and 1 run; 2..9 are queued with 0..7 ahead; 3 or
		// more ahead (commands 5..9) are told.
		if want := i >= 5; queuedNote != want {
			t.Errorf("command %d: told it is queued %v, want %v (notes %q)", i, queuedNote, want, notes)
		}
		if i == 5 && !strings.Contains(notes, "queued behind 3 others") {
			t.Errorf("command 5 was told %q, want 3 ahead", notes)
		}
	}

	held.open()
	s.Router.Wait()
	statusRoots := 0
	for _, root := range rec.roots()[before:] {
		th := rec.thread(root)
		if !strings.Contains(th[0], "*status*") {
			continue
		}
		statusRoots++
		if len(th) < 2 || !strings.Contains(strings.Join(th[1:], "\n"), "Migration status on gitlab-sim") {
			t.Errorf("status thread without a status answer: %q", th)
		}
	}
	if statusRoots != len(users) {
		t.Errorf("%d of %d status commands were answered", statusRoots, len(users))
	}
	if req, err := s.DB.Request(context.Background(), id); err != nil || req.State != approvals.StateSucceeded {
		t.Errorf("the approved migrate ended %v (%v), want succeeded", req.State, err)
	}
}

// TestCloseWithAQueueEnds: the router stops while one status command runs
// (its agent holds) and three wait for the one worker: Close returns, the
// waiting ones are not run (nothing posted for them) and each is logged
// with its user.
func TestCloseWithAQueueEnds(t *testing.T) {
	held := &heldStatus{}
	logs := &simtest.LockedBuffer{}
	s := simtest.Start(t, simtest.Options{
		Router:    commands.Options{Workers: 1, Logger: slog.New(slog.NewTextHandler(logs, nil))},
		WrapAgent: func(a commands.Agent) commands.Agent { held.Agent = a; return held },
	})
	rec := newRecorder()
	s.Router.Register(rec)
	ctx, cancel := context.WithCancel(context.Background())
	if err := s.Router.Start(ctx); err != nil {
		t.Fatal(err)
	}
	defer cancel()
	held.close()
	defer held.open()
	for i := range 4 {
		u := bot.User{ID: fmt.Sprintf("U-close-%d", i), Name: fmt.Sprintf("close%d", i)}
		if err := handle(context.Background(), s.Router, rec, bot.Command{Platform: rec.Platform(), User: u, Channel: "C1", Text: "status"}); err != nil {
			t.Fatal(err)
		}
	}
	eventually(t, "the first status to start", func() bool { return len(rec.roots()) == 1 })

	closed := make(chan struct{})
	go func() { s.Router.Close(); close(closed) }()
	select {
	case <-closed:
	case <-time.After(30 * time.Second):
		t.Fatal("Close did not return with commands queued")
	}
	if n := len(rec.roots()); n != 1 {
		t.Errorf("%d status commands posted, want only the one that had started", n)
	}
	notRun := map[string]bool{}
	for _, l := range strings.Split(logs.String(), "\n") {
		if strings.Contains(l, "queued command not run") {
			for i := range 4 {
				if strings.Contains(l, fmt.Sprintf("user=U-close-%d ", i)) {
					notRun[fmt.Sprintf("U-close-%d", i)] = true
				}
			}
		}
	}
	if len(notRun) != 3 || notRun["U-close-0"] {
		t.Errorf("logged as not run: %v, want the three queued ones (U-close-1..3):\n%s", notRun, logs.String())
	}
}
