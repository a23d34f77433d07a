package commands_test

import (
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

// TestShowRequestHistory: after a migrate was refused to its requester,
// approved and run, `show` gives its whole history from the store and
// the audit trail: who asked, the argv and host, the approval with its
// time, the verified outcome, the agent job and output digest, the
// thread, and every audit entry of the request (none of another).
func TestShowRequestHistory(t *testing.T) {
	s, rec := setup(t, simtest.Options{})
	if err := command(t, s, rec, alice, "status"); err != nil {
		t.Fatal(err)
	}
	id, thread := openMigrate(t, s, rec)
	if err := command(t, s, rec, alice, "approve "+id); err == nil {
		t.Fatal("alice approved her own request")
	}
	if err := command(t, s, rec, bob, "approve "+id); err != nil {
		t.Fatal(err)
	}
	if err := command(t, s, rec, carol, "show "+id); err != nil {
		t.Fatal(err)
	}
	notes := rec.notesFor(carol.ID)
	if len(notes) != 1 {
		t.Fatalf("carol got %d notes, want the history: %q", len(notes), notes)
	}
	got := notes[0]
	for _, want := range []string{
		"Request " + id + ": migrate on ",
		"Asked by: alice (test:U-alice) at ",
		"Runs: `gitlab-rake db:migrate` on ",
		"Reason: upgrade to 17.5",
		"• approved by bob at ",
		"Outcome: *SUCCEEDED* at ",
		"Job: agent job ",
		"Output: digest `",
		"Thread: test channel C1, message " + thread, // the recorder gives no permalink
		"alice request.opened → pending",
		"alice request.refused → approve",
		"bob request.approved → approved",
		"system request.started → running",
		"system job.output → succeeded",
		"system request.finished → succeeded",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("show lacks %q", want)
		}
	}
	if strings.Contains(got, "readonly.run") {
		t.Error("show lists an entry of another command (the status run)")
	}
	if t.Failed() {
		t.Logf("show %s:\n%s", id, got)
	}
	if err := command(t, s, rec, carol, "show zzzzzzzz"); err == nil || !strings.Contains(err.Error(), "no request zzzzzzzz") {
		t.Errorf("show of an unknown request: %v", err)
	}
}
