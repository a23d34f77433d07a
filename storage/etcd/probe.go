package etcd

import (
	"context"
	"fmt"
	"strconv"
	"time"
)

// Probe checks that etcd takes writes, as readiness needs: it writes the
// time to meta/probe (a quorum write) and reads it back. It touches no
// request and no audit entry.
func (s *Store) Probe(ctx context.Context) error {
	if err := s.begin(); err != nil {
		return fmt.Errorf("etcd %s: %w", s.c.Prefix(), err)
	}
	defer s.writes.Done()
	k := s.c.Key(keyProbe)
	v := strconv.FormatInt(time.Now().UnixNano(), 10)
	if _, err := s.kv.Put(ctx, k, v); err != nil {
		return fmt.Errorf("etcd %s: write probe: %w", s.c.Prefix(), err)
	}
	resp, err := s.kv.Get(ctx, k)
	if err != nil {
		return fmt.Errorf("etcd %s: read probe back: %w", s.c.Prefix(), err)
	}
	// Another replica may have probed in between: its value counts too.
	if len(resp.Kvs) == 0 {
		return fmt.Errorf("etcd %s: the probe just written is not there", s.c.Prefix())
	}
	return nil
}
