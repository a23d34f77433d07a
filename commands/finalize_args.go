package commands

import (
	"fmt"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// checkFinalizeArgs: finalize takes the batched migration's four values,
// or --from a failed migrate request and nothing else.
func checkFinalizeArgs(inv Invocation) error {
	n := len(inv.Args)
	switch {
	case inv.From != "":
		if n != 0 {
			return fmt.Errorf("finalize --from takes no other arguments: the request it names already has them")
		}
	case n != 4:
		return fmt.Errorf("finalize needs the batched migration: paste GitLab's command (sudo gitlab-rake gitlab:background_migrations:finalize[...]) as it printed it, give its 4 arguments (job class, table, column, JSON job arguments), or --from the failed migrate request")
	}
	return nil
}

// finalizeArgs are finalize's four values (and --db), the JSON compacted
// as GitLab's status prints it.
func finalizeArgs(inv Invocation) gitlab.Args {
	args := gitlab.Args{Database: inv.DB, BatchedMigration: gitlab.BatchedMigration{
		JobClass: inv.Args[0], Table: inv.Args[1], Column: inv.Args[2], JobArguments: inv.Args[3],
	}}
	if js, err := gitlab.CompactJobArguments(args.JobArguments); err == nil {
		args.JobArguments = js
	}
	return args
}
