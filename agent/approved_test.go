package agent

import (
	"crypto/rand"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/gitlab"
)

// testHostName is the agent's name in testConfig: what statements name.
const testHostName = "test-host"

// approved returns req as the bot sends an approved request: with the
// argv its catalogue built and a statement signed with the approval key in
// certs. An empty request ID, requester or approver list is filled in
// (every approved request has them).
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
	if req.RequestID == "" {
		req.RequestID = "test-" + rand.Text()[:10]
	}
	if req.Requester == "" {
		req.Requester = "alice"
	}
	if len(req.Approvers) == 0 {
		req.Approvers = []string{"bob"}
	}
	st := testSigner(tb, certs).mustSign(tb, ApprovalStatement{RequestID: req.RequestID, Host: testHostName,
		Operation: req.Operation, Argv: req.Argv, Requester: req.Requester, Approvers: req.Approvers})
	req.Approval = &st
	return req
}

// signer is an ApprovalSigner for tests.
type signer struct{ *ApprovalSigner }

func testSigner(tb testing.TB, certs string) signer {
	tb.Helper()
	s, err := LoadApprovalSigner(filepath.Join(certs, ApprovalKeyFile))
	if err != nil {
		tb.Fatal(err)
	}
	return signer{s}
}

func (s signer) mustSign(tb testing.TB, st ApprovalStatement) ApprovalStatement {
	tb.Helper()
	out, err := s.Sign(st)
	if err != nil {
		tb.Fatal(fmt.Errorf("sign: %w", err))
	}
	return out
}
