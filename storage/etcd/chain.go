package etcd

import (
	"fmt"
	"time"

	pb "go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// chainHead is the audit head as read from etcd: the Head and the mod
// revision of its key (0 when there is none yet). Every write of the chain
// is guarded by a compare on that revision, so two writers (goroutines or
// replicas) that sealed after the same head cannot both commit: the loser
// reads the new head and seals again. The chain never forks.
type chainHead struct {
	head auditchain.Head
	rev  int64
}

// headCmp is the guard every chain write carries.
func (s *Store) headCmp(h chainHead) clientv3.Cmp {
	return clientv3.Compare(clientv3.ModRevision(s.c.Key(keyAuditHead)), "=", h.rev)
}

// headGet reads the head (in a Txn's Else, to retry without another round
// trip).
func (s *Store) headGet() clientv3.Op { return clientv3.OpGet(s.c.Key(keyAuditHead)) }

// parseHead reads a chainHead from the response of headGet.
func parseHead(r *pb.RangeResponse) (chainHead, error) {
	if r == nil || len(r.Kvs) == 0 {
		return chainHead{}, nil
	}
	h, err := auditchain.DecodeHead(r.Kvs[0].Value)
	if err != nil {
		return chainHead{}, err
	}
	return chainHead{head: h, rev: r.Kvs[0].ModRevision}, nil
}

// sealed is a group of entries placed after a head: the puts to commit
// (entries, then the head) and the entries as stored.
type sealed struct {
	ops   []clientv3.Op
	out   []approvals.AuditEntry
	next  auditchain.Head
	bytes int
}

// seal places prepared after h. It is pure, like auditchain's Seal: a
// transaction that lost the compare on the head seals again.
func (s *Store) seal(h auditchain.Head, prepared []auditchain.Prepared, now time.Time) sealed {
	out := sealed{next: h, ops: make([]clientv3.Op, 0, len(prepared)+1), out: make([]approvals.AuditEntry, 0, len(prepared))}
	for _, p := range prepared {
		se := p.Seal(s.key, out.next, now)
		k := s.auditKey(se.Entry.Seq)
		out.ops = append(out.ops, clientv3.OpPut(k, string(se.Stored)))
		out.out = append(out.out, se.Entry)
		out.bytes += len(k) + len(se.Stored)
		out.next = se.Head
	}
	return out
}

// headPut is the last op of every chain write: the new head.
func (s *Store) headPut(h auditchain.Head) clientv3.Op {
	return clientv3.OpPut(s.c.Key(keyAuditHead), string(h.Encode()))
}

// fits checks one transaction against etcd's limits: ops writes (entries,
// the head and any others) of bytes bytes.
func (s *Store) fits(ops, bytes int) error {
	switch {
	case ops > s.maxOps:
		return fmt.Errorf("%d writes in one etcd transaction, above etcd's limit of %d (--max-txn-ops); write fewer audit entries at once: %w", ops, s.maxOps, approvals.ErrInvalid)
	case bytes > s.maxLen:
		return fmt.Errorf("%d bytes in one etcd transaction, above the limit of %d (under etcd's --max-request-bytes); write smaller audit entries or fewer at once: %w", bytes, s.maxLen, approvals.ErrInvalid)
	}
	return nil
}
