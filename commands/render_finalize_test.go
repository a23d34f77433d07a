package commands

import (
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// TestFinalizeRequestGolden renders the approval message of a pasted
// finalize: the decoded job class, table, column and job arguments, the
// database and the exact argv.
func TestFinalizeRequestGolden(t *testing.T) {
	now := time.Date(2026, 11, 28, 10, 0, 0, 0, time.UTC)
	op, err := gitlab.Lookup(gitlab.OpFinalize)
	if err != nil {
		t.Fatal(err)
	}
	for name, pasted := range map[string]string{
		"finalize-pending":    runbookLine + " -- runbook step 4",
		"finalize-ci-pending": "finalize --db ci CopyColumnUsingBackgroundMigrationJob taggings id '[[\"id\"\\, \"taggable_id\"]\\, [\"id_convert_to_bigint\"\\, \"taggable_id_convert_to_bigint\"]]' -- runbook: `taggings` <!channel>\n# step 6",
	} {
		inv, err := Parse(pasted)
		if err != nil {
			t.Fatal(err)
		}
		a := gitlab.Args{Database: inv.DB, BatchedMigration: gitlab.BatchedMigration{JobClass: inv.Args[0], Table: inv.Args[1], Column: inv.Args[2], JobArguments: inv.Args[3]}}
		c, err := op.Command(a)
		if err != nil {
			t.Fatal(err)
		}
		req := &approvals.Request{
			ID: "r7k2qxa9", Host: "gitlab-1", Operation: gitlab.OpFinalize, Argv: c.Argv(), Params: paramsOf(a),
			Requester: approvals.User{ID: "U1", Name: "alice"}, Reason: inv.Reason,
			Required: 1, ApproverIDs: []string{"U2"},
			CreatedAt: now, ExpiresAt: now.Add(15 * time.Minute), State: approvals.StatePending,
		}
		checkMessage(t, "request-"+name, requestMessage(req, now))
	}
}
