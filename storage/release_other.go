//go:build !linux

package storage

import bolt "go.etcd.io/bbolt"

const releaseEvery = 16384

// releasePages is a no-op where MADV_DONTNEED is not available.
func (db *DB) releasePages(*bolt.Tx) {}
