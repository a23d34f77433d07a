package storage

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"
	berrors "go.etcd.io/bbolt/errors"

	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
)

// openTest opens a fresh database in t.TempDir and closes it at the end.
func openTest(t testing.TB) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "chatops.db")
	db, err := Open(path, Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	t.Cleanup(func() { _ = db.Close() })
	return db, path
}

func TestOpenCreates(t *testing.T) {
	db, path := openTest(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if mode := fi.Mode().Perm(); mode&0o077 != 0 {
		t.Errorf("file mode %v, want 0600", mode)
	}
	err = db.bolt.View(func(tx *bolt.Tx) error {
		for _, name := range allBuckets() {
			if bucket(tx, name) == nil {
				return fmt.Errorf("bucket %s missing", name)
			}
		}
		if v := bucket(tx, bucketMeta).Get([]byte(keySchemaVersion)); string(v) != string(u64(SchemaVersion)) {
			return fmt.Errorf("schema_version = %x", v)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	// Reopening an existing file is fine.
	db2, err := Open(path, Options{AuditKey: approvalstest.Key})
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	_ = db2.Close()
}

func checkLocked(t *testing.T, err error, path string, took time.Duration) {
	t.Helper()
	if !errors.Is(err, ErrLocked) || !errors.Is(err, berrors.ErrTimeout) {
		t.Fatalf("second Open = %v, want ErrLocked", err)
	}
	want := "database " + path + " is locked by another gitlab-chatops process (is the bot already running?)"
	if !strings.Contains(err.Error(), want) {
		t.Errorf("message %q does not contain %q", err, want)
	}
	// "Open never waits forever": a hang guard, not a timing target (a
	// busy machine may deschedule the lock's retry loop for a while).
	if took > 20*time.Second {
		t.Errorf("second Open took %s with a 300ms timeout: it does not honour Options.Timeout", took)
	}
}

// TestOpenLockedSameProcess: flock locks belong to the open file
// description, so a second Open in the same process conflicts too.
func TestOpenLockedSameProcess(t *testing.T) {
	db, path := openTest(t)
	for _, ro := range []bool{false, true} {
		start := time.Now()
		_, err := Open(path, Options{AuditKey: approvalstest.Key, Timeout: 300 * time.Millisecond, ReadOnly: ro})
		checkLocked(t, err, path, time.Since(start))
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db2, err := Open(path, Options{AuditKey: approvalstest.Key, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	_ = db2.Close()
}

const lockHelperEnv = "GITLAB_CHATOPS_STORAGE_LOCK_HELPER"

// TestOpenLockedSubprocess holds the database and has another process (this
// test binary, re-executed) try to open it.
func TestOpenLockedSubprocess(t *testing.T) {
	if path := os.Getenv(lockHelperEnv); path != "" {
		// In the child: try to open, report, exit.
		start := time.Now()
		db, err := Open(path, Options{AuditKey: approvalstest.Key, Timeout: 300 * time.Millisecond})
		if err == nil {
			_ = db.Close()
			fmt.Println("RESULT opened")
			os.Exit(3)
		}
		fmt.Printf("RESULT locked=%v took=%s err=%s\n", errors.Is(err, ErrLocked), time.Since(start).Round(time.Millisecond), err)
		os.Exit(0)
	}
	_, path := openTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestOpenLockedSubprocess$", "-test.count=1")
	cmd.Env = append(os.Environ(), lockHelperEnv+"="+path)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	took := time.Since(start)
	if ctx.Err() != nil {
		t.Fatalf("the second process hung: %s", out)
	}
	if err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "RESULT locked=true") ||
		!strings.Contains(string(out), "is locked by another gitlab-chatops process (is the bot already running?)") {
		t.Fatalf("child output:\n%s", out)
	}
	t.Logf("child (%s): %s", took.Round(time.Millisecond), strings.TrimSpace(string(out)))
}

func TestSchemaTooNew(t *testing.T) {
	db, path := openTest(t)
	err := db.bolt.Update(func(tx *bolt.Tx) error {
		return bucket(tx, bucketMeta).Put([]byte(keySchemaVersion), u64(SchemaVersion+1))
	})
	if err != nil {
		t.Fatal(err)
	}
	_ = db.Close()
	before, _ := os.ReadFile(path)
	for _, ro := range []bool{false, true} {
		_, err = Open(path, Options{AuditKey: approvalstest.Key, ReadOnly: ro})
		if !errors.Is(err, ErrSchemaTooNew) {
			t.Fatalf("Open(read-only=%v) = %v, want ErrSchemaTooNew", ro, err)
		}
		if !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", SchemaVersion+1)) || !strings.Contains(err.Error(), "upgrade gitlab-chatops") {
			t.Errorf("message: %v", err)
		}
	}
	if after, _ := os.ReadFile(path); string(after) != string(before) {
		t.Error("refused Open changed the file")
	}
}

// TestSchemaOneWithUnkeyedAudit: a file from before keyed chains (schema 1)
// with audit entries is refused with what to do; one without entries is
// simply upgraded.
func TestSchemaOneWithUnkeyedAudit(t *testing.T) {
	for _, withEntries := range []bool{true, false} {
		db, path := openTest(t)
		err := db.bolt.Update(func(tx *bolt.Tx) error {
			if withEntries {
				if err := bucket(tx, bucketAudit).Put(u64(1), []byte(`{"seq":1,"time":"2025-01-01T00:00:00Z","action":"request.opened"}`)); err != nil {
					return err
				}
			}
			return bucket(tx, bucketMeta).Put([]byte(keySchemaVersion), u64(1))
		})
		if err != nil {
			t.Fatal(err)
		}
		_ = db.Close()
		db2, err := Open(path, Options{AuditKey: approvalstest.Key})
		if !withEntries {
			if err != nil {
				t.Fatalf("Open(schema 1, empty audit) = %v", err)
			}
			// Recorded as this version: once entries are appended, the
			// next Open must not take them for unkeyed ones.
			err = db2.bolt.View(func(tx *bolt.Tx) error {
				if v := bucket(tx, bucketMeta).Get([]byte(keySchemaVersion)); string(v) != string(u64(SchemaVersion)) {
					return fmt.Errorf("schema version %x after Open, want %d", v, SchemaVersion)
				}
				return nil
			})
			_ = db2.Close()
			if err != nil {
				t.Fatal(err)
			}
			continue
		}
		if !errors.Is(err, ErrSchemaTooOld) || !strings.Contains(err.Error(), "audit export") || !strings.Contains(err.Error(), "start with a new store") {
			t.Fatalf("Open(schema 1 with entries) = %v, want ErrSchemaTooOld saying what to do", err)
		}
	}
}

func TestForeignFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "other.db")
	b, err := bolt.Open(path, 0o600, nil)
	if err != nil {
		t.Fatal(err)
	}
	_ = b.Update(func(tx *bolt.Tx) error { _, err := tx.CreateBucket([]byte("widgets")); return err })
	_ = b.Close()
	if _, err := Open(path, Options{AuditKey: approvalstest.Key}); err == nil || !strings.Contains(err.Error(), "not a gitlab-chatops database") {
		t.Fatalf("Open(foreign) = %v", err)
	}
}

func TestReadOnly(t *testing.T) {
	ctx := context.Background()
	db, path := openTest(t)
	if _, err := db.Append(ctx, entry(1)); err != nil {
		t.Fatal(err)
	}
	_ = db.Close()

	ro, err := Open(path, Options{ReadOnly: true})
	if err != nil {
		t.Fatalf("Open read-only: %v", err)
	}
	defer ro.Close()
	if rep, err := verify(ro); err != nil || rep.Entries != 1 {
		t.Fatalf("Verify read-only = %+v, %v", rep, err)
	}
	// Two read-only opens share the lock.
	ro2, err := Open(path, Options{ReadOnly: true, Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatalf("second read-only Open: %v", err)
	}
	_ = ro2.Close()
	if _, err := ro.Append(ctx, entry(2)); err == nil {
		t.Fatal("Append on a read-only DB succeeded")
	}
	if _, err := ro.AddSchedule(ctx, schedule.Schedule{Spec: "@hourly"}); err == nil {
		t.Fatal("AddSchedule on a read-only DB succeeded")
	}
	if err := ro.PutResult(ctx, "daily", schedule.Result{}); err == nil {
		t.Fatal("PutResult on a read-only DB succeeded")
	}

	if _, err := Open(filepath.Join(t.TempDir(), "missing.db"), Options{ReadOnly: true}); err == nil {
		t.Fatal("read-only Open of a missing file succeeded")
	}
	if _, err := Open("", Options{}); err == nil {
		t.Fatal("Open(\"\") succeeded")
	}
	if _, err := Open(path, Options{AuditKey: approvalstest.Key, Timeout: -time.Second}); err == nil {
		t.Fatal("negative timeout accepted")
	}
}

func TestContextCancelled(t *testing.T) {
	db, _ := openTest(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := db.Append(ctx, entry(1)); !errors.Is(err, context.Canceled) {
		t.Errorf("Append = %v", err)
	}
	if _, err := db.Request(ctx, "x"); !errors.Is(err, context.Canceled) {
		t.Errorf("Request = %v", err)
	}
	if _, err := auditchain.Verify(ctx, db, approvalstest.Key, nil); !errors.Is(err, context.Canceled) {
		t.Errorf("Verify = %v", err)
	}
}
