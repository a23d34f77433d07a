package commands

import (
	"strings"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// verdictKind is what an approved operation really did, as the check
// after it found: an exit code alone is never enough (finalize prints Done.
// when nothing matched; a restart can leave other services down).
type verdictKind string

const (
	// verdictSucceeded: the after-check confirms it (migrations up, the
	// batched migration finished or finalized, services running).
	verdictSucceeded verdictKind = "SUCCEEDED"
	// verdictFailed: it did not do what was asked.
	verdictFailed verdictKind = "FAILED"
	// verdictNoEffect: it exited 0 but changed nothing.
	verdictNoEffect verdictKind = "NO EFFECT"
	// verdictPartly: some of it happened, not all.
	verdictPartly verdictKind = "PARTLY"
	// verdictUnverified: it exited 0 but the after-check could not run,
	// so the outcome is unknown.
	verdictUnverified verdictKind = "NOT VERIFIED"
)

var verdictKinds = []verdictKind{verdictSucceeded, verdictFailed, verdictNoEffect, verdictPartly, verdictUnverified}

// verdict is a kind and the reason, in words an operator can act on.
type verdict struct {
	kind verdictKind
	why  string
}

// state is the request outcome the verdict is recorded as: only a
// confirmed success is succeeded; an unverifiable one is interrupted
// (outcome unknown); everything else failed.
func (v verdict) state() approvals.State {
	switch v.kind {
	case verdictSucceeded:
		return approvals.StateSucceeded
	case verdictUnverified:
		return approvals.StateInterrupted
	}
	return approvals.StateFailed
}

// detail is what the request stores (Outcome or Error): the kind first, so
// the card and the audit trail both say it, e.g. "NO EFFECT: finalize
// matched no batched background migration".
func (v verdict) detail() string { return string(v.kind) + ": " + v.why }

// verdictOf reads the verdict back from a finished request; ok is false
// for requests that ended without one (refused before running, lost
// stream, older bot).
func verdictOf(req *approvals.Request) (v verdict, ok bool) {
	text := req.Error
	if req.State == approvals.StateSucceeded {
		text = req.Outcome
	}
	for _, k := range verdictKinds {
		if why, found := strings.CutPrefix(text, string(k)+": "); found {
			return verdict{k, why}, true
		}
	}
	return verdict{}, false
}
