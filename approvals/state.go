package approvals

// State is where a Request is in its life.
//
//	pending -> approved -> running -> succeeded | failed | interrupted
//	pending -> denied | expired | cancelled
//	approved -> interrupted (abandoned: never started, nothing ran)
//
// Every state has an owner (who moves it on) and a deadline (when the
// sweep, Router.ExpireNow every 30 s, moves it on if its owner did not).
// The sweep and restart recovery change requests only through Service
// methods, as chat does.
//
//	state       owner                                   deadline, and what the sweep does then
//	pending     the approvers (approve, deny, cancel)   ExpiresAt (the policy's TTL): Expire -> expired
//	approved    the goroutine that recorded the final   ApprovedDeadline after the last approval:
//	            approval; it calls Start at once, or    Abandon -> interrupted, nothing ran
//	            Abandon if starting fails
//	running     the follower holding the request's      none held: adopted at once (looked up by
//	            claim in this process (the starter,     request ID, followed, or ended interrupted
//	            restart recovery, or the sweep); it     with the reason; never run again);
//	            only attaches to the job, and calls     operation timeout + after-check wait + margin
//	            Finish; Note while the agent is away    (commands.RunningMargin): if the agent says
//	                                                    the job ended or knows nothing of it, the
//	                                                    stuck follower is cancelled, the sweep takes
//	                                                    over and Finish records the true outcome; if
//	                                                    the job runs or the agent is unreachable, it
//	                                                    stays running (outcome not known yet)
//	succeeded, failed, interrupted, denied, expired, cancelled: terminal, nobody.
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
