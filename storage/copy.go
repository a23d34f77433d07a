package storage

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// ErrNotEmpty: `storage copy` refuses a target that already holds data.
var ErrNotEmpty = errors.New("the target store is not empty")

// copyBatch is how many audit entries Copy hands the target at a time; the
// target splits them further to fit its transactions.
const copyBatch = 256

// discardTimeout bounds the removal of a failed copy.
const discardTimeout = 30 * time.Second

// Dumper is what Copy reads from a backend besides Backend: the state no
// Backend method lists (the schedule counter, every schedule's results).
type Dumper interface {
	Backend
	// ScheduleSeq is the last chat-defined schedule number handed out (0
	// when none was): the next schedule is s<ScheduleSeq+1>.
	ScheduleSeq(ctx context.Context) (uint64, error)
	// EachResult calls fn with every stored schedule result, configured
	// and chat-defined schedules alike.
	EachResult(ctx context.Context, fn func(id string, r ScheduleResults) error) error
	// EachEnrolment calls fn with every stored re-authentication record
	// (approvals.ReauthStore), its secret still sealed.
	EachEnrolment(ctx context.Context, fn func(*approvals.Enrolment) error) error
}

// AuditRecord is one audit entry as stored: its seq and its bytes.
type AuditRecord struct {
	Seq    uint64
	Stored []byte
}

// Importer is a backend Copy can fill. Its imports store what they are
// given as it is, an import path and not a re-seal: the audit entries keep
// their seqs and bytes, so the chain and its head are the source's.
type Importer interface {
	Dumper
	// Contents names what the store holds ("" when it is empty: no
	// request, audit entry, schedule, result, schedule number or
	// enrolment).
	Contents(ctx context.Context) (string, error)
	// ImportAudit stores records right after the store's head (the first
	// must be head+1, each the next) and moves the head to the last one,
	// its hash computed with the store's audit key. Each transaction it
	// commits leaves a whole chain.
	ImportAudit(ctx context.Context, records []AuditRecord) error
	// ImportRequest stores r as it is (its Version too); an ID already
	// stored wraps approvals.ErrExists.
	ImportRequest(ctx context.Context, r *approvals.Request) error
	// ImportSchedules stores chat-defined schedules under their IDs and
	// sets the schedule counter to seq.
	ImportSchedules(ctx context.Context, ss []schedule.Schedule, seq uint64) error
	// ImportResult stores a schedule's results as they are.
	ImportResult(ctx context.Context, id string, r ScheduleResults) error
	// ImportEnrolment stores a re-authentication record as it is (its
	// Version too; the secret stays sealed with the same reauth key).
	ImportEnrolment(ctx context.Context, e *approvals.Enrolment) error
	// Discard removes everything the Import methods store (requests, the
	// audit entries and head, schedules and their counter, results,
	// enrolments), in one transaction: all of it or none. CopyTo calls it
	// only to undo its own failed copy into a store it found empty.
	Discard(ctx context.Context) error
}

// CopyReport is what Copy copied.
type CopyReport struct {
	Requests, Schedules, Results, Enrolments int
	// Entries is the audit entries copied; Head the chain's head, the
	// same on both sides after the copy.
	Entries uint64
	Head    auditchain.Head
}

// Copy copies everything from one backend to another: requests, the audit
// chain byte for byte (same seqs, same head), the chat-defined schedules
// with their IDs and the schedule counter, every schedule's results, and
// the approvers' re-authentication enrolments.
//
// It writes nothing unless the source's chain verifies with key and the
// target is empty (ErrNotEmpty); after the copy it verifies the target's
// chain with key and checks that its head is the source's. The source
// must not change meanwhile (stop the bot first). A copy that fails
// half-way removes what it wrote (Importer.Discard), so the target is empty
// again and the copy can be repeated; should that fail too, the error says
// that the target is partly written.
func Copy(ctx context.Context, from Dumper, to Importer, key auditchain.Key) (CopyReport, error) {
	src, err := CheckSource(ctx, from, key)
	if err != nil {
		return CopyReport{}, err
	}
	return src.CopyTo(ctx, to)
}

// Source is a backend whose audit chain verified, ready to be copied.
type Source struct {
	from Dumper
	key  auditchain.Key
	rep  auditchain.Report
}

// CheckSource verifies from's audit chain with key: the first half of
// Copy, for a caller that opens the target only once the source is known
// good (opening an etcd target records its schema version).
func CheckSource(ctx context.Context, from Dumper, key auditchain.Key) (*Source, error) {
	rep, err := auditchain.Verify(ctx, from, key, nil)
	if err != nil {
		return nil, fmt.Errorf("the source's audit chain does not verify with this key, nothing was written: %w", err)
	}
	return &Source{from: from, key: key, rep: rep}, nil
}

// CopyTo copies the source into to, which must be empty: the second half
// of Copy.
func (s *Source) CopyTo(ctx context.Context, to Importer) (CopyReport, error) {
	from, key, src := s.from, s.key, s.rep
	var rep CopyReport
	what, err := to.Contents(ctx)
	if err != nil {
		return rep, fmt.Errorf("check that the target is empty: %w", err)
	}
	if what != "" {
		return rep, fmt.Errorf("the target already holds %s; copy only into an empty store (a new etcd prefix, a new file), nothing was written: %w", what, ErrNotEmpty)
	}
	partial := func(doing string, err error) error {
		// Undone even when ctx was cancelled (an interrupted copy), within
		// a bound of its own.
		dctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), discardTimeout)
		defer cancel()
		if derr := to.Discard(dctx); derr != nil {
			return fmt.Errorf("%s: %w (the target is now partly written and removing what was copied failed too: %v; empty it before copying again)", doing, err, derr)
		}
		return fmt.Errorf("%s: %w (what was copied was removed again: the target is empty, as before)", doing, err)
	}

	var batch []AuditRecord
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := to.ImportAudit(ctx, batch); err != nil {
			return err
		}
		rep.Entries += uint64(len(batch))
		batch = batch[:0]
		return nil
	}
	head, err := from.ReadAudit(ctx, func(seq uint64, stored []byte) error {
		batch = append(batch, AuditRecord{Seq: seq, Stored: append([]byte(nil), stored...)})
		if len(batch) == copyBatch {
			return flush()
		}
		return nil
	})
	if err == nil {
		err = flush()
	}
	if err != nil {
		return rep, partial("copy the audit chain", err)
	}
	if head != src.Head {
		return rep, partial("copy the audit chain", fmt.Errorf("the source's head moved from %s to %s during the copy: stop the bot before copying", src.Head, head))
	}

	reqs, err := from.Requests(ctx, approvals.RequestFilter{})
	if err != nil {
		return rep, partial("read the requests", err)
	}
	for _, r := range reqs {
		if err := to.ImportRequest(ctx, r); err != nil {
			return rep, partial("copy request "+r.ID, err)
		}
		rep.Requests++
	}

	ss, err := from.Schedules(ctx)
	if err != nil {
		return rep, partial("read the schedules", err)
	}
	seq, err := from.ScheduleSeq(ctx)
	if err != nil {
		return rep, partial("read the schedule counter", err)
	}
	if err := to.ImportSchedules(ctx, ss, seq); err != nil {
		return rep, partial("copy the schedules", err)
	}
	rep.Schedules = len(ss)
	err = from.EachResult(ctx, func(id string, r ScheduleResults) error {
		if err := to.ImportResult(ctx, id, r); err != nil {
			return fmt.Errorf("schedule %s: %w", id, err)
		}
		rep.Results++
		return nil
	})
	if err != nil {
		return rep, partial("copy the schedule results", err)
	}
	err = from.EachEnrolment(ctx, func(e *approvals.Enrolment) error {
		if err := to.ImportEnrolment(ctx, e); err != nil {
			return fmt.Errorf("user %s: %w", e.UserID, err)
		}
		rep.Enrolments++
		return nil
	})
	if err != nil {
		return rep, partial("copy the re-authentication enrolments", err)
	}

	dst, err := auditchain.Verify(ctx, to, key, nil)
	if err != nil {
		return rep, partial("verify the copied audit chain", err)
	}
	if dst.Head != src.Head || dst.Entries != src.Entries {
		return rep, partial("verify the copied audit chain", fmt.Errorf("the target has %d entries, head %s; the source %d, head %s", dst.Entries, dst.Head, src.Entries, src.Head))
	}
	rep.Head = dst.Head
	return rep, nil
}
