package agent

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"
)

// usedApprovalsName is state_dir's record of used approval statements.
const usedApprovalsName = "approvals-used.log"

// usedApprovals remembers, for each request ID whose approval statement
// was accepted, until when that statement is valid. A replayed statement is
// refused from this record even when the job's own record was pruned
// (keep_jobs) or the agent restarted; past its expiry a statement is
// refused as expired anyway, so entries are dropped then.
//
// It also remembers the request IDs the agent declared not started: a
// lookup by request ID that found no job (see handleFindJobs) closes the
// request, so that its run, should it still arrive (a delayed delivery),
// is refused. The bot's "nothing ran" is then a fact, not a guess.
//
// The file has one JSON line per entry, appended and synced before the job
// starts or the lookup answers. Not safe for concurrent use: the server
// calls it holding s.mu.
type usedApprovals struct {
	path string
	f    *os.File
	ids  map[string]usedEntry
}

// usedEntry is what the agent remembers of a request ID until expires.
type usedEntry struct {
	expires time.Time
	closed  bool // declared not started, rather than used
}

type usedApproval struct {
	RequestID string    `json:"request_id"`
	ExpiresAt time.Time `json:"expires_at"`
	UsedAt    time.Time `json:"used_at"`
	// Closed marks a request declared not started (no statement used).
	Closed bool `json:"closed,omitempty"`
}

// closedFor is how long a request declared not started stays closed: as
// long as any statement the bot signed for it before the lookup can be
// valid (issued at most maxApprovalSkew in the agent's future, valid at
// most MaxApprovalTTL).
const closedFor = MaxApprovalTTL + maxApprovalSkew

// openUsedApprovals loads path, keeps the entries not expired at now,
// rewrites the file with just those (so it never grows beyond the
// statements of the last MaxApprovalTTL) and opens it for appending.
func openUsedApprovals(path string, now time.Time) (*usedApprovals, error) {
	u := &usedApprovals{path: path, ids: map[string]usedEntry{}}
	var keep []usedApproval
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("used approvals: %w", err)
	}
	// A last line without its newline is a write that a crash tore. add
	// returns only after the whole line is synced, and the job starts only
	// after add returned, so no job ran on a torn entry: it is dropped.
	if i := bytes.LastIndexByte(data, '\n'); i+1 < len(data) {
		data = data[:i+1]
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	for n := 1; sc.Scan(); n++ {
		var e usedApproval
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.RequestID == "" {
			// Anything else means the file was edited: refusing to start
			// is safer than forgetting which statements were used.
			return nil, fmt.Errorf("used approvals: %s line %d is not an entry (%v): move the file away only if no approval of the last hour may be replayed", path, n, err)
		}
		if e.ExpiresAt.After(now) {
			keep = append(keep, e)
			u.ids[e.RequestID] = usedEntry{expires: e.ExpiresAt, closed: e.Closed}
		}
	}
	var buf bytes.Buffer
	for _, e := range keep {
		line, _ := json.Marshal(e)
		buf.Write(append(line, '\n'))
	}
	// Durably: the entries appended from now on go to the new file, and
	// must not vanish with it after a crash (a statement could be replayed).
	if err := replaceFile(path, buf.Bytes()); err != nil {
		return nil, fmt.Errorf("used approvals: %w", err)
	}
	u.f, err = os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("used approvals: %w", err)
	}
	return u, nil
}

// used reports whether a statement for requestID was accepted before and
// is not yet expired at now.
func (u *usedApprovals) used(requestID string, now time.Time) bool {
	e, ok := u.ids[requestID]
	return ok && !e.closed && e.expires.After(now)
}

// closed reports whether requestID was declared not started and no
// statement for it can still be valid at now.
func (u *usedApprovals) closed(requestID string, now time.Time) bool {
	e, ok := u.ids[requestID]
	return ok && e.closed && e.expires.After(now)
}

// add records requestID durably (written and synced) before its job may
// start.
func (u *usedApprovals) add(requestID string, expires, now time.Time) error {
	return u.append(usedApproval{RequestID: requestID, ExpiresAt: expires, UsedAt: now})
}

// close records durably (written and synced) that requestID was declared
// not started, before the agent says so: a run for it is refused from then
// on, across restarts, for as long as its statement could be valid.
func (u *usedApprovals) close(requestID string, now time.Time) error {
	return u.append(usedApproval{RequestID: requestID, ExpiresAt: now.Add(closedFor), UsedAt: now, Closed: true})
}

func (u *usedApprovals) append(e usedApproval) error {
	line, err := json.Marshal(e)
	if err != nil {
		return fmt.Errorf("used approvals: %w", err)
	}
	if _, err := u.f.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("used approvals: write %s: %w", u.path, err)
	}
	if err := u.f.Sync(); err != nil {
		return fmt.Errorf("used approvals: sync %s: %w", u.path, err)
	}
	for id, old := range u.ids {
		if !old.expires.After(e.UsedAt) {
			delete(u.ids, id)
		}
	}
	u.ids[e.RequestID] = usedEntry{expires: e.ExpiresAt, closed: e.Closed}
	return nil
}

func (u *usedApprovals) Close() error { return u.f.Close() }
