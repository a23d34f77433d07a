package storage

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	bolt "go.etcd.io/bbolt"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

// entry is a realistic audit entry whose Actor, "user-NN-xyz", occurs
// nowhere else.
func entry(i int) approvals.AuditEntry {
	return approvals.AuditEntry{
		Actor: fmt.Sprintf("user-%02d-xyz", i), ActorName: "Alice Example",
		Action: approvals.ActionRequestApproved, RequestID: "r7k2qxa9",
		Host: "gitlab-1.example.com", Operation: "migrate",
		Argv:    []string{"gitlab-rake", "db:migrate"},
		Outcome: "approved", Detail: "approval 1 of 1",
	}
}

// append1 appends one entry and returns it as stored.
func append1(db *DB, e approvals.AuditEntry) (approvals.AuditEntry, error) {
	out, err := db.Append(context.Background(), e)
	if err != nil {
		return approvals.AuditEntry{}, err
	}
	return out[0], nil
}

func appendN(t testing.TB, db *DB, n int) []approvals.AuditEntry {
	t.Helper()
	out := make([]approvals.AuditEntry, 0, n)
	for i := 1; i <= n; i++ {
		e, err := db.Append(context.Background(), entry(i))
		if err != nil {
			t.Fatalf("Append %d: %v", i, err)
		}
		out = append(out, e...)
	}
	return out
}

func rawEntry(t testing.TB, db *DB, seq uint64) []byte {
	t.Helper()
	var v []byte
	_ = db.bolt.View(func(tx *bolt.Tx) error {
		v = clone(bucket(tx, bucketAudit).Get(u64(seq)))
		return nil
	})
	if v == nil {
		t.Fatalf("no entry %d", seq)
	}
	return v
}

// hashHex is the chain hash of stored bytes: their HMAC under the test key.
func hashHex(b []byte) string { return auditchain.SumOf(approvalstest.Key, b).Hex() }

// verify runs the backend-neutral verification on db.
func verify(db *DB) (auditchain.Report, error) {
	return auditchain.Verify(context.Background(), db, approvalstest.Key, nil)
}

func TestAppendChain(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	given := time.Date(2025, 1, 2, 3, 4, 5, 6, time.FixedZone("CET", 3600))
	e := entry(1)
	e.Time = given
	e.Seq, e.PrevHash = 99, "forged" // ignored
	first, err := append1(db, e)
	if err != nil {
		t.Fatal(err)
	}
	if first.Seq != 1 || first.PrevHash != "" || !first.Time.Equal(given) {
		t.Fatalf("first = %+v", first)
	}
	before := time.Now()
	second, err := append1(db, approvals.AuditEntry{}) // an empty entry still chains
	if err != nil {
		t.Fatal(err)
	}
	if second.Seq != 2 || second.PrevHash != hashHex(rawEntry(t, db, 1)) {
		t.Fatalf("second = %+v", second)
	}
	if second.Time.Before(before.Add(-time.Second)) || second.Time.Location() != time.UTC {
		t.Fatalf("assigned time %v", second.Time)
	}
	third, _ := append1(db, entry(3))

	// The stored bytes are JSON that decodes to exactly what Append returned.
	tail, err := db.TailAudit(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	for i, want := range []approvals.AuditEntry{first, second, third} {
		got := tail[i]
		if !got.Time.Equal(want.Time) {
			t.Errorf("entry %d time %v, want %v", i+1, got.Time, want.Time)
		}
		got.Time, want.Time = time.Time{}, time.Time{}
		if !reflect.DeepEqual(got, want) {
			t.Errorf("entry %d:\n stored %+v\n append %+v", i+1, got, want)
		}
		if !json.Valid(rawEntry(t, db, uint64(i+1))) {
			t.Errorf("entry %d is not valid JSON", i+1)
		}
	}
	if rep, err := verify(db); err != nil || rep.Entries != 3 || rep.Head.Seq != 3 || rep.Head.Sum.Hex() != hashHex(rawEntry(t, db, 3)) {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestVerifyEmpty(t *testing.T) {
	db, _ := openTest(t)
	rep, err := verify(db)
	if err != nil || !rep.OK() || rep.Entries != 0 {
		t.Fatalf("Verify(empty) = %+v, %v", rep, err)
	}
}

// TestTamperFileByte changes ONE byte of entry 7 in the file itself and
// expects Verify to name entry 7.
func TestTamperFileByte(t *testing.T) {
	db, path := openTest(t)
	appendN(t, db, 20)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	// bbolt is copy-on-write: freed pages may still hold old copies of
	// entry 7. Change one byte at each occurrence in turn until the live
	// copy is the one changed.
	needle := []byte("user-07-xyz")
	var offsets []int
	for i := 0; ; {
		j := bytes.Index(data[i:], needle)
		if j < 0 {
			break
		}
		offsets = append(offsets, i+j)
		i += j + 1
	}
	if len(offsets) == 0 {
		t.Fatal("entry 7 not found in the file")
	}
	for _, off := range offsets {
		tampered := bytes.Clone(data)
		tampered[off+len("user-07-")] = 'X' // "user-07-Xyz": still valid JSON
		if err := os.WriteFile(path, tampered, 0o600); err != nil {
			t.Fatal(err)
		}
		db2, err := Open(path, Options{AuditKey: approvalstest.Key})
		if err != nil {
			t.Fatal(err)
		}
		live := strings.Contains(string(rawEntry(t, db2, 7)), "user-07-Xyz")
		rep, err := verify(db2)
		_ = db2.Close()
		if !live {
			if err != nil {
				t.Fatalf("changing a stale copy at %d broke verification: %v", off, err)
			}
			continue
		}
		if !errors.Is(err, auditchain.ErrBroken) || rep.Break == nil {
			t.Fatalf("Verify after tampering = %+v, %v", rep, err)
		}
		if rep.Break.Seq != 7 || rep.Break.Kind != auditchain.BreakPrevHash {
			t.Fatalf("Verify named %+v, want entry 7", rep.Break)
		}
		if !strings.Contains(err.Error(), "audit entry 7") {
			t.Errorf("error does not name entry 7: %v", err)
		}
		t.Logf("changed byte at offset %d of %d copies: %v", off, len(offsets), err)
		return
	}
	t.Fatalf("none of the %d copies of entry 7 is the live one", len(offsets))
}

// tamper opens a fresh log of 20 entries, lets edit change it with bbolt
// directly, and returns what Verify says.
func tamper(t *testing.T, edit func(tx *bolt.Tx) error) (*auditchain.Break, error) {
	t.Helper()
	db, _ := openTest(t)
	appendN(t, db, 20)
	if err := db.bolt.Update(edit); err != nil {
		t.Fatal(err)
	}
	rep, err := verify(db)
	if err == nil || !errors.Is(err, auditchain.ErrBroken) || rep.Break == nil {
		t.Fatalf("Verify did not notice: %+v, %v", rep, err)
	}
	return rep.Break, err
}

// rewrite replaces old by new in entry seq.
func rewrite(seq uint64, old, new string) func(tx *bolt.Tx) error {
	return func(tx *bolt.Tx) error {
		b := bucket(tx, bucketAudit)
		v := string(b.Get(u64(seq)))
		if !strings.Contains(v, old) {
			return fmt.Errorf("entry %d has no %q", seq, old)
		}
		return b.Put(u64(seq), []byte(strings.Replace(v, old, new, 1)))
	}
}

func TestTamperCases(t *testing.T) {
	cases := []struct {
		name string
		edit func(tx *bolt.Tx) error
		seq  uint64
		kind auditchain.BreakKind
	}{
		{"delete last entry", func(tx *bolt.Tx) error { return bucket(tx, bucketAudit).Delete(u64(20)) }, 20, auditchain.BreakHead},
		{"edit last entry", rewrite(20, "user-20-xyz", "user-20-xyZ"), 20, auditchain.BreakHead},
		{"delete a middle entry", func(tx *bolt.Tx) error { return bucket(tx, bucketAudit).Delete(u64(5)) }, 5, auditchain.BreakSeqMismatch},
		{"delete the first entry", func(tx *bolt.Tx) error { return bucket(tx, bucketAudit).Delete(u64(1)) }, 1, auditchain.BreakSeqMismatch},
		{"edit a middle entry", rewrite(7, `"detail":"approval 1 of 1"`, `"detail":"approval 2 of 1"`), 7, auditchain.BreakPrevHash},
		{"edit the first entry", rewrite(1, "user-01-xyz", "user-01-xyZ"), 1, auditchain.BreakPrevHash},
		{"break the chain fields", rewrite(7, `{"seq":7,`, `{"seq" :7,`), 7, auditchain.BreakBadEncoding},
		{"break JSON after them", rewrite(7, `"actor":`, `"actor"`), 7, auditchain.BreakPrevHash},
		{"change a seq field", rewrite(9, `"seq":9,`, `"seq":10,`), 9, auditchain.BreakSeqMismatch},
		{"edit a prev_hash", func(tx *bolt.Tx) error {
			b := bucket(tx, bucketAudit)
			v := string(b.Get(u64(8)))
			i := strings.Index(v, `"prev_hash":"`) + len(`"prev_hash":"`)
			c := "0"
			if v[i] == '0' {
				c = "1"
			}
			return b.Put(u64(8), []byte(v[:i]+c+v[i+1:]))
		}, 8, auditchain.BreakPrevHash},
		{"append behind the log's back", func(tx *bolt.Tx) error {
			b := bucket(tx, bucketAudit)
			forged := fmt.Sprintf(`{"seq":21,"prev_hash":"%s","actor":"mallory"}`, hashHex(b.Get(u64(20))))
			return b.Put(u64(21), []byte(forged))
		}, 21, auditchain.BreakHead},
		{"remove the head", func(tx *bolt.Tx) error { return bucket(tx, bucketMeta).Delete([]byte(keyAuditHead)) }, 20, auditchain.BreakHead},
		{"damage the head", func(tx *bolt.Tx) error { return bucket(tx, bucketMeta).Put([]byte(keyAuditHead), []byte("short")) }, 1, auditchain.BreakHead},
		{"bad key", func(tx *bolt.Tx) error { return bucket(tx, bucketAudit).Put([]byte("zz"), []byte(`{}`)) }, 21, auditchain.BreakBadKey},
		{"swap two entries", func(tx *bolt.Tx) error {
			b := bucket(tx, bucketAudit)
			a, c := clone(b.Get(u64(4))), clone(b.Get(u64(5)))
			if err := b.Put(u64(4), c); err != nil {
				return err
			}
			return b.Put(u64(5), a)
		}, 4, auditchain.BreakSeqMismatch},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b, err := tamper(t, c.edit)
			if b.Seq != c.seq || b.Kind != c.kind {
				t.Fatalf("got %+v, want entry %d, %s", b, c.seq, c.kind)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("audit entry %d: %s", c.seq, c.kind)) {
				t.Errorf("error does not name the entry: %v", err)
			}
		})
	}
}

// TestVerifyChunks checks a chain longer than one read transaction.
func TestVerifyChunks(t *testing.T) {
	db, _ := openTest(t)
	ctx := context.Background()
	n := exportChunk*2 + 10
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := g; i < n; i += 8 {
				if _, err := db.Append(ctx, entry(i)); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	rep, err := verify(db)
	if err != nil || rep.Entries != uint64(n) || rep.Head.Seq != uint64(n) {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	if err := db.bolt.Update(rewrite(uint64(exportChunk+3), "approval 1", "approval 9")); err != nil {
		t.Fatal(err)
	}
	rep, _ = verify(db)
	if rep.Break == nil || rep.Break.Seq != uint64(exportChunk+3) {
		t.Fatalf("after tampering across a chunk boundary: %+v", rep.Break)
	}
}

func TestConcurrentAppend(t *testing.T) {
	db, _ := openTest(t)
	const writers, each = 64, 20
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		seqs = make(map[uint64]approvals.AuditEntry)
	)
	for w := range writers {
		wg.Go(func() {
			for i := range each {
				e, err := append1(db, entry(w*each+i))
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				if _, dup := seqs[e.Seq]; dup {
					t.Errorf("seq %d assigned twice", e.Seq)
				}
				seqs[e.Seq] = e
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(seqs) != writers*each {
		t.Fatalf("%d distinct seqs, want %d", len(seqs), writers*each)
	}
	for s := uint64(1); s <= writers*each; s++ {
		e, ok := seqs[s]
		if !ok {
			t.Fatalf("seq %d missing", s)
		}
		if s > 1 && e.PrevHash != hashHex(rawEntry(t, db, s-1)) {
			t.Fatalf("entry %d: returned PrevHash does not match the stored entry %d", s, s-1)
		}
	}
	if rep, err := verify(db); err != nil || rep.Entries != writers*each {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
}

func TestTailAudit(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	if got, err := db.TailAudit(ctx, 5); err != nil || len(got) != 0 {
		t.Fatalf("TailAudit(empty) = %v, %v", got, err)
	}
	appendN(t, db, 12)
	got, err := db.TailAudit(ctx, 5)
	if err != nil || len(got) != 5 {
		t.Fatalf("TailAudit(5) = %v, %v", got, err)
	}
	for i, e := range got {
		if e.Seq != uint64(8+i) || e.Actor != fmt.Sprintf("user-%02d-xyz", 8+i) {
			t.Errorf("tail[%d] = seq %d actor %s", i, e.Seq, e.Actor)
		}
	}
	if got, _ := db.TailAudit(ctx, 100); len(got) != 12 || got[0].Seq != 1 {
		t.Fatalf("TailAudit(100) returned %d entries", len(got))
	}
	if _, err := db.TailAudit(ctx, 0); err == nil {
		t.Fatal("TailAudit(0) accepted")
	}
}

func TestExportAudit(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	t0 := time.Date(2025, 3, 4, 10, 0, 0, 0, time.UTC)
	n := exportChunk + 5 // more than one read transaction
	for i := range n {
		e := entry(i)
		e.Time = t0.Add(time.Duration(i) * time.Second)
		if _, err := db.Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := db.ExportAudit(ctx, &buf, time.Time{}); err != nil {
		t.Fatal(err)
	}
	// Every line is the stored entry: its hash is the next line's prev_hash.
	sc := bufio.NewScanner(&buf)
	prev, lines := "", 0
	for sc.Scan() {
		var e approvals.AuditEntry
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		lines++
		if e.Seq != uint64(lines) || e.PrevHash != prev {
			t.Fatalf("line %d: seq %d prev %q, want prev %q", lines, e.Seq, e.PrevHash, prev)
		}
		prev = hashHex(sc.Bytes())
	}
	if lines != n {
		t.Fatalf("exported %d lines, want %d", lines, n)
	}

	buf.Reset()
	since := t0.Add(time.Duration(n-3) * time.Second)
	if err := db.ExportAudit(ctx, &buf, since); err != nil {
		t.Fatal(err)
	}
	if got := strings.Count(buf.String(), "\n"); got != 3 {
		t.Fatalf("export since: %d lines, want 3:\n%s", got, buf.String())
	}
	if err := db.ExportAudit(ctx, failWriter{}, time.Time{}); err == nil {
		t.Fatal("a failing writer was not reported")
	}
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("broken pipe") }

// TestAuditPage: pages before a sequence number, across read
// transactions (more entries than exportChunk), end at the first entry.
func TestAuditPage(t *testing.T) {
	ctx := context.Background()
	db, _ := openTest(t)
	total := exportChunk + 300
	appendN(t, db, total)
	seqs := func(before uint64, n int) (first, last uint64, count int) {
		t.Helper()
		err := db.AuditPage(ctx, before, n, func(seq uint64, stored []byte) error {
			if count == 0 {
				first = seq
			} else if seq != last+1 {
				t.Fatalf("AuditPage(%d, %d): %d after %d", before, n, seq, last)
			}
			last = seq
			count++
			return nil
		})
		if err != nil {
			t.Fatalf("AuditPage(%d, %d): %v", before, n, err)
		}
		return first, last, count
	}
	for _, c := range []struct {
		before            uint64
		n                 int
		first, last, want uint64
	}{
		{0, 10, uint64(total - 9), uint64(total), 10},
		{0, total + 5, 1, uint64(total), uint64(total)},
		{uint64(total - 9), 1200, uint64(total - 1209), uint64(total - 10), 1200},
		{5, 100, 1, 4, 4},
		{uint64(total + 100), 3, uint64(total - 2), uint64(total), 3},
	} {
		first, last, count := seqs(c.before, c.n)
		if first != c.first || last != c.last || uint64(count) != c.want {
			t.Errorf("AuditPage(before %d, n %d) = %d..%d (%d entries), want %d..%d (%d)", c.before, c.n, first, last, count, c.first, c.last, c.want)
		}
	}
	if _, _, count := seqs(1, 10); count != 0 {
		t.Errorf("AuditPage before the first entry gave %d entries", count)
	}
	page, err := db.AuditBefore(ctx, 101, 2)
	if err != nil || len(page) != 2 || page[0].Seq != 99 || page[1].Seq != 100 {
		t.Fatalf("AuditBefore(101, 2) = %+v, %v", page, err)
	}
}
