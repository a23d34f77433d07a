package etcd

import (
	"context"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// scanPage is how many keys one Get of a scan returns: a long range is read
// in pages, so no response grows with the data.
const scanPage = 512

// scan calls fn with every key in [from, end), in key order, read page by
// page at revision rev (the current one when 0), so the whole range is one
// consistent view however long. It returns the revision read. A revision
// compacted away meanwhile fails the scan (etcd's ErrCompacted): try
// again.
func (s *Store) scan(ctx context.Context, from, end string, rev int64, fn func(k, v []byte) error) (int64, error) {
	for {
		opts := []clientv3.OpOption{clientv3.WithRange(end), clientv3.WithLimit(scanPage)}
		if rev > 0 {
			opts = append(opts, clientv3.WithRev(rev))
		}
		resp, err := s.kv.Get(ctx, from, opts...)
		if err != nil {
			return rev, err
		}
		if rev == 0 {
			rev = resp.Header.Revision
		}
		for _, kv := range resp.Kvs {
			if err := fn(kv.Key, kv.Value); err != nil {
				return rev, err
			}
		}
		if !resp.More || len(resp.Kvs) == 0 {
			return rev, nil
		}
		from = string(resp.Kvs[len(resp.Kvs)-1].Key) + "\x00"
	}
}
