package commands_test

import (
	"context"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestPendingShowsRunningNote: `pending` lists running requests after the
// waiting ones, with the note the store holds ("outcome unknown: agent
// unreachable since …") while it lasts, and without it once cleared.
func TestPendingShowsRunningNote(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	ctx := context.Background()
	root, _ := rec.PostRoot(ctx, "C1", bot.Message{Text: bot.Plain("approval")})
	req := startedRequest(t, s, root.ID)
	const lost = "outcome unknown: agent unreachable since 10:04 UTC"
	if _, err := s.Approvals.Note(ctx, req.ID, lost); err != nil {
		t.Fatal(err)
	}
	pending := func() string {
		t.Helper()
		if err := command(t, s, rec, alice, "pending"); err != nil {
			t.Fatal(err)
		}
		n := rec.notesFor(alice.ID)
		return n[len(n)-1]
	}
	got := pending()
	for _, want := range []string{"No requests are waiting for approval.", "Running:", "`" + req.ID + "` migrate on gitlab-sim by alice, running since", lost} {
		if !strings.Contains(got, want) {
			t.Errorf("pending lacks %q:\n%s", want, got)
		}
	}
	if _, err := s.Approvals.Note(ctx, req.ID, ""); err != nil {
		t.Fatal(err)
	}
	if got := pending(); !strings.Contains(got, req.ID) || strings.Contains(got, "unreachable") {
		t.Errorf("after the note was cleared, pending says:\n%s", got)
	}
}
