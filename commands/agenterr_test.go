package commands

import (
	"context"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"strings"
	"syscall"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// TestAgentProblem: every way of failing to talk to an agent becomes a
// sentence with the next step, and none shows the Go error.
func TestAgentProblem(t *testing.T) {
	wrap := func(e error) error {
		return fmt.Errorf("running migrate-status on gitlab-1: %w", &url.Error{Op: "Post", URL: "https://10.0.0.5:8443/v1/jobs", Err: e})
	}
	cases := []struct {
		name string
		err  error
		want string
	}{
		{"refused", wrap(&net.OpError{Op: "dial", Net: "tcp", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}),
			"gitlab-1's agent is not answering; check `systemctl status gitlab-chatops-agent` on it."},
		{"unknown CA", wrap(x509.UnknownAuthorityError{}), "do not trust each other's TLS certificates"},
		{"dns", wrap(&net.DNSError{Name: "gitlab-1.example", Err: "no such host"}), "address does not resolve (gitlab-1.example)"},
		{"timeout", wrap(context.DeadlineExceeded), "did not answer in time"},
		{"busy", &agent.BusyError{Message: "busy", Running: agent.JobSummary{Operation: "migrate"}}, "busy with another mutating job (migrate), so nothing ran"},
		{"429", &agent.APIError{Status: 429, Message: "too many read-only jobs"}, "stayed busy with other read-only jobs for as long as I waited; try again in a few minutes."},
		{"refusal", &agent.APIError{Status: 403, Message: "client not allowed."}, "gitlab-1's agent refused: client not allowed."},
		{"agent failure", &agent.APIError{Status: 500, Message: "cannot record the job, so it was not started: open /var/lib/gitlab-chatops-agent/jobs/x.json: no space left on device"},
			"gitlab-1's agent failed inside (HTTP 500); `journalctl -u gitlab-chatops-agent` on it has the details."},
		{"stream", &agent.StreamError{JobID: "j1", Err: errors.New("EOF")}, "lost the connection to gitlab-1's agent while job j1 ran"},
		{"other", errors.New("agent client: something odd"), "the bot's log has the details"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := agentProblem("gitlab-1", c.err)
			if !strings.Contains(got, c.want) {
				t.Errorf("got %q, want it to contain %q", got, c.want)
			}
			for _, raw := range []string{"agent client", "10.0.0.5", "dial tcp", "x509:", "EOF", "open /"} {
				if strings.Contains(got, raw) {
					t.Errorf("%q leaks %q", got, raw)
				}
			}
		})
	}
}

func TestWorkflowProblem(t *testing.T) {
	// A refusal reads as its sentence, without the sentinel errors.Is needs.
	refusal := fmt.Errorf("you opened request abc yourself; a different person must approve it: %w", approvals.ErrSelfApproval)
	if got := workflowProblem(refusal); got != "You opened request abc yourself; a different person must approve it." {
		t.Errorf("a refusal for people became %q", got)
	}
	if got := workflowProblem(errors.New("bbolt: database not open")); strings.Contains(got, "bbolt") || !strings.Contains(got, "nothing was opened") {
		t.Errorf("a store error reads %q", got)
	}
}
