package approvals

// State is where a Request is in its life.
//
//	pending -> approved -> running -> succeeded | failed | interrupted
//	pending -> denied | expired | cancelled
//	approved -> interrupted (abandoned: never started, nothing ran)
//
// Every state that waits has an owner and a deadline:
//   - pending: the approvers, until ExpiresAt; the expiry sweep
//     (Service.ExpireDue) ends it expired.
//   - approved: the goroutine that recorded the final approval, which
//     calls Start at once; if starting fails it calls Abandon, and the
//     sweep abandons any request still approved after ApprovedDeadline.
//   - running: the goroutine following the agent's job, until the job ends
//     (the agent's per-operation timeout bounds it); after a restart,
//     recovery re-attaches to the job or ends it interrupted. A follower
//     that dies while the bot keeps running is not replaced before the
//     next restart.
type State string

const (
	// StatePending: waiting for approvals.
	StatePending State = "pending"
	// StateApproved: enough distinct approvers agreed; not started yet.
	StateApproved State = "approved"
	// StateRunning: Start succeeded; the agent is (or was) running the argv.
	StateRunning State = "running"
	// StateSucceeded: the operation ran and succeeded.
	StateSucceeded State = "succeeded"
	// StateFailed: the operation ran and failed.
	StateFailed State = "failed"
	// StateInterrupted: the operation's end is unknown or it was cut off,
	// e.g. the bot restarted and could not re-attach to the job.
	StateInterrupted State = "interrupted"
	// StateDenied: an approver vetoed the request.
	StateDenied State = "denied"
	// StateExpired: not enough approvals before ExpiresAt.
	StateExpired State = "expired"
	// StateCancelled: the requester withdrew the request.
	StateCancelled State = "cancelled"
)

// States lists every state, in lifecycle order.
func States() []State {
	return []State{
		StatePending, StateApproved, StateRunning,
		StateSucceeded, StateFailed, StateInterrupted,
		StateDenied, StateExpired, StateCancelled,
	}
}

// Valid reports whether s is one of the defined states.
func (s State) Valid() bool {
	switch s {
	case StatePending, StateApproved, StateRunning,
		StateSucceeded, StateFailed, StateInterrupted,
		StateDenied, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Terminal reports whether s is final: nothing can happen to the request
// any more.
func (s State) Terminal() bool {
	switch s {
	case StateSucceeded, StateFailed, StateInterrupted,
		StateDenied, StateExpired, StateCancelled:
		return true
	}
	return false
}

// Started reports whether the request has passed the exactly-once gate
// (Start), whatever happened after.
func (s State) Started() bool {
	switch s {
	case StateRunning, StateSucceeded, StateFailed, StateInterrupted:
		return true
	}
	return false
}

// CanBecome reports whether the state machine allows s -> next.
func (s State) CanBecome(next State) bool {
	switch s {
	case StatePending:
		switch next {
		case StateApproved, StateDenied, StateExpired, StateCancelled:
			return true
		}
	case StateApproved:
		// interrupted: abandoned, never started (Service.Abandon).
		return next == StateRunning || next == StateInterrupted
	case StateRunning:
		switch next {
		case StateSucceeded, StateFailed, StateInterrupted:
			return true
		}
	}
	return false
}

func (s State) String() string { return string(s) }
