package sim

import (
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestBigintRunbookScenario: the bigint-runbook scenario holds the six
// batched migrations of the shared runbook, unfinished, and each finalize
// the runbook lists (as the agent sends it, no shell) finishes exactly its
// own one.
func TestBigintRunbookScenario(t *testing.T) {
	h := newHost(t, "bigint-runbook")
	out, _, code := h.rake("gitlab:background_migrations:status")
	if code != 0 || strings.Count(out, "active") != len(runbookBigintBBMs) {
		t.Fatalf("status (exit %d) should list the six active conversions:\n%s", code, out)
	}
	for i, k := range runbookBigintBBMs {
		elem := finalizeArgv(t, "", gitlab.BatchedMigration(k))
		if out, errOut, code := h.rake(elem); code != 0 || out != "Done.\n" {
			t.Fatalf("%s: exit %d\n%s%s", elem, code, out, errOut)
		}
		d := h.load().db("main")
		for j, other := range runbookBigintBBMs {
			if want := j <= i; d.findBBM(other).Done() != want {
				t.Errorf("after finalizing %d of 6, %s %s done = %v", i+1, other.Table, other.JobArguments, !want)
			}
		}
	}
}
