package storage

import (
	"syscall"

	bolt "go.etcd.io/bbolt"
)

// releaseEvery is how many audit entries ReadAudit reads between two
// releasePages calls (about 8 MiB of a typical log).
const releaseEvery = 16384

// releasePages drops the pages of the file from this process's read-only
// mapping (MADV_DONTNEED), so that reading a large log does not grow the
// process's resident memory to the size of the file. The data stays in the
// kernel's page cache; the next access maps it in again. bbolt maps the
// file read-only and writes through the file, so dropping the mapping's
// pages never loses data. It must be called inside a transaction (which
// keeps bbolt from remapping meanwhile: tx is that transaction). Errors
// are ignored: this only saves memory.
func (db *DB) releasePages(tx *bolt.Tx) {
	size := tx.Size()
	if size <= 0 {
		return
	}
	_, _, _ = syscall.Syscall(syscall.SYS_MADVISE, db.bolt.Info().Data, uintptr(size), uintptr(syscall.MADV_DONTNEED))
}
