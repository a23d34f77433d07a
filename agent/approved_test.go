package agent

import (
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// approved returns req as the bot sends an approved request: with the
// argv its catalogue built.
func approved(tb testing.TB, certs string, req RunRequest) RunRequest {
	tb.Helper()
	op, err := gitlab.Lookup(req.Operation)
	if err != nil {
		tb.Fatal(err)
	}
	cmd, err := op.Command(req.Args)
	if err != nil {
		tb.Fatal(err)
	}
	req.Argv = cmd.Argv()
	return req
}
