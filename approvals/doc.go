// Package approvals is the two-person rule of gitlab-chatops: the domain types
// of an approval request, the policy that says who may ask and who may
// approve, and the Service that moves a request through its states.
//
// A destructive command (migrate, finalize, restart) never runs directly. It
// opens a Request that records the exact argv and host it will run on; a
// second, different, allowed person approves it; the bot then calls Start,
// which succeeds exactly once, and only after that runs the stored argv.
//
//	pending ──approve×N──▶ approved ──Start──▶ running ──Finish──▶ succeeded | failed | interrupted
//	   │
//	   ├──deny (any one approver: a veto)──▶ denied
//	   ├──cancel (the requester)──────────▶ cancelled
//	   └──TTL passed──────────────────────▶ expired
//
// The package imports nothing else of this module. It defines the interfaces
// it needs from the outside world (Store, GroupResolver); package storage
// implements the first on bbolt, and the chat adapters provide the second.
// Package approvalstest has in-memory versions for tests and the store
// conformance suite; package auditchain is the audit trail's format.
//
// The Service is the only writer. Every Service method that changes a
// request is one atomic read-modify-write of the request together with its
// audit entries (Store.Apply), so a second click, a second approver or a
// retry can never move a request twice, and no change exists without its
// record.
package approvals
