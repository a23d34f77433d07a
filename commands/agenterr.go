package commands

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"syscall"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// agentProblem turns an error from talking to a host's agent into a
// sentence with the next step. Raw Go errors (URLs, syscalls, TLS alerts)
// never reach the channel: callers log err itself.
func agentProblem(host string, err error) string {
	var (
		api    *agent.APIError
		busy   *agent.BusyError
		stream *agent.StreamError
		certV  *tls.CertificateVerificationError
		unkCA  x509.UnknownAuthorityError
		hostE  x509.HostnameError
		alert  tls.AlertError
		dnsErr *net.DNSError
		netErr net.Error
	)
	switch {
	case errors.As(err, &busy):
		return fmt.Sprintf("%s's agent is busy with another mutating job (%s), so nothing ran. Wait for it to finish, then try again.", host, busy.Running.Operation)
	case errors.As(err, &api) && api.Status == 429:
		// Read-only runs wait out a 429 (runWaiting): one that reaches a
		// person has outlasted that wait.
		return fmt.Sprintf("%s's agent stayed busy with other read-only jobs for as long as I waited; try again in a few minutes.", host)
	case errors.As(err, &api) && api.Status >= 500 && api.Status != http.StatusServiceUnavailable:
		// The agent's own failure (its store, its disk): its message may
		// carry a Go error, which belongs in the logs. A 503 is its sentence
		// "shutting down …; retry when it is back", said as it is.
		return fmt.Sprintf("%s's agent failed inside (HTTP %d); `journalctl -u gitlab-chatops-agent` on it has the details.", host, api.Status)
	case errors.As(err, &api):
		return fmt.Sprintf("%s's agent refused: %s.", host, trimDot(api.Message))
	case errors.As(err, &stream):
		return fmt.Sprintf("I lost the connection to %s's agent while job %s ran; the job may still be running. Check with /gitlab-migrations status and services.", host, stream.JobID)
	case errors.Is(err, agent.ErrJobNotFound):
		return fmt.Sprintf("%s's agent no longer knows the job.", host)
	case errors.As(err, new(*incompleteError)):
		var inc *incompleteError
		errors.As(err, &inc)
		return inc.sentence()
	case errors.Is(err, agent.ErrDigestMismatch):
		return fmt.Sprintf("the output received from %s's agent does not match its digest, so I do not trust it; the full output is in the agent's job log.", host)
	case errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.EHOSTUNREACH), errors.Is(err, syscall.ENETUNREACH), errors.Is(err, syscall.ECONNRESET):
		return notAnswering(host)
	case errors.As(err, &certV), errors.As(err, &unkCA), errors.As(err, &hostE), errors.As(err, &alert):
		return fmt.Sprintf("%s's agent and the bot do not trust each other's TLS certificates; check the CA, certificate and key files of %s in the bot's configuration and the agent's.", host, host)
	case errors.As(err, &dnsErr):
		return fmt.Sprintf("%s's agent address does not resolve (%s); check the hosts section of the bot's configuration.", host, dnsErr.Name)
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, agent.ErrStreamIdle), errors.As(err, &netErr) && netErr.Timeout():
		return fmt.Sprintf("%s's agent did not answer in time; check `systemctl status gitlab-chatops-agent` on it and the network between them.", host)
	case errors.Is(err, context.Canceled):
		return "the bot stopped before the answer came; try again."
	}
	return fmt.Sprintf("something went wrong talking to %s's agent; the bot's log has the details. Check `systemctl status gitlab-chatops-agent` on it.", host)
}

// workflowProblem is the text of an error from opening a request.
func workflowProblem(err error) string {
	return workflowText(err, "I could not store the request, so nothing was opened; the bot's log has the details. Try again.")
}

// workflowText is the text of an error from the approvals workflow: its
// refusals are written for people; anything else (the store or the group
// resolver failing) is not, and reads as failed, which should say what
// did not happen and what to do. The caller logs err.
func workflowText(err error, failed string) string {
	if approvals.IsRefusal(err) || errors.Is(err, approvals.ErrExists) {
		return refusalSentence(err)
	}
	return failed
}

// workflowSentinels are the approvals errors a Service refusal wraps.
var workflowSentinels = []error{approvals.ErrNotFound, approvals.ErrExists, approvals.ErrInvalid, approvals.ErrNotAllowed,
	approvals.ErrReasonRequired, approvals.ErrSelfApproval, approvals.ErrNotApprover, approvals.ErrNotRequester,
	approvals.ErrDuplicateApproval, approvals.ErrExpired, approvals.ErrAlreadyDecided, approvals.ErrStateChanged,
	approvals.ErrNotApproved, approvals.ErrAlreadyStarted, approvals.ErrNotRunning, approvals.ErrOutsideWindow}

// refusalSentence is a workflow refusal as people read it. The Service
// ends each with its sentinel for errors.Is ("…; ask one of its
// approvers: not an approver"); the sentence before it says it all.
func refusalSentence(err error) string {
	s := err.Error()
	for _, known := range workflowSentinels {
		if errors.Is(err, known) {
			s = strings.TrimSuffix(s, ": "+known.Error())
		}
	}
	return sentenceOf(s)
}

func notAnswering(host string) string {
	return fmt.Sprintf("%s's agent is not answering; check `systemctl status gitlab-chatops-agent` on it.", host)
}

func trimDot(s string) string {
	for len(s) > 0 && (s[len(s)-1] == '.' || s[len(s)-1] == ' ') {
		s = s[:len(s)-1]
	}
	return s
}
