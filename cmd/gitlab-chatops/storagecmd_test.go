package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
	"github.com/gitlab-chatops/gitlab-chatops/internal/etcdtest"
	"github.com/gitlab-chatops/gitlab-chatops/schedule"
	"github.com/gitlab-chatops/gitlab-chatops/storage"
	"github.com/gitlab-chatops/gitlab-chatops/storage/etcd"
)

// TestStorageCopy: a real bolt file with requests in several states,
// schedules (one removed: the counter is ahead of them), results and a few
// hundred audit entries is copied to a real etcd: the export is byte for
// byte the same, the head too, the requests, schedules, counter and
// results alike; a second copy into the now non-empty prefix is refused
// and writes nothing; the copy back from etcd into a new bolt file is the
// same again.
func TestStorageCopy(t *testing.T) {
	srv := etcdtest.Start(t)
	dir := t.TempDir()
	keyPath := writeAuditKey(t, dir)
	key, err := auditKey(keyPath, func(string) string { return "" })
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	boltPath := filepath.Join(dir, "chatops.db")
	fillBolt(t, boltPath, key)
	endpoints := strings.Join(srv.Endpoints(), ",")

	copyCmd := func(from, to string, extra ...string) (string, int) {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(ctx, append([]string{"storage", "copy", "--from", from, "--to", to, "--key-file", keyPath}, extra...), strings.NewReader(""), &out, &errb)
		return out.String() + errb.String(), code
	}
	out, code := copyCmd("bolt:"+boltPath, "etcd:"+endpoints, "--etcd-prefix", "/moved/")
	if code != 0 || !strings.Contains(out, "307 audit entries") || !strings.Contains(out, "verifies on both sides") {
		t.Fatalf("storage copy bolt → etcd: exit %d\n%s", code, out)
	}

	src, err := storage.Open(boltPath, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	dst, c := openEtcdCopy(t, srv, "/moved/", key)
	sameStores(t, src, dst, key)

	// The prefix is no longer empty: refused, with nothing written (etcd's
	// revision does not move).
	cli := c.Client()
	before, err := cli.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	out, code = copyCmd("bolt:"+boltPath, "etcd:"+endpoints, "--etcd-prefix", "/moved/")
	if code != 2 || !strings.Contains(out, "not empty") || !strings.Contains(out, "307 audit") || !strings.Contains(out, "nothing was written") {
		t.Fatalf("copy into a non-empty prefix: exit %d\n%s", code, out)
	}
	after, err := cli.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	if after.Header.Revision != before.Header.Revision {
		t.Fatalf("the refused copy wrote to etcd: revision %d → %d", before.Header.Revision, after.Header.Revision)
	}

	// And back, into a new file.
	back := filepath.Join(dir, "back.db")
	if out, code := copyCmd("etcd:"+endpoints, "bolt:"+back, "--etcd-prefix", "/moved/"); code != 0 {
		t.Fatalf("storage copy etcd → bolt: exit %d\n%s", code, out)
	}
	db, err := storage.Open(back, storage.Options{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sameStores(t, src, db, key)
	_ = src.Close() // the target below needs the file's lock
	// A non-empty file is refused too, and keeps its content.
	if out, code := copyCmd("etcd:"+endpoints, "bolt:"+boltPath, "--etcd-prefix", "/moved/"); code != 2 || !strings.Contains(out, "not empty") {
		t.Fatalf("copy into a non-empty file: exit %d\n%s", code, out)
	}
	// With --config: the storage: section's endpoints and prefix, and its
	// audit key.
	cfgPath := filepath.Join(dir, "bot.yaml")
	cfgYAML := "approval_key: " + testApprovalKey(t, dir) + "\nhosts: [{name: gitlab-1, agent: \"http://127.0.0.1:1\"}]\nstorage: {backend: etcd, endpoints: [\"" + srv.Endpoints()[0] + "\"], prefix: /from-config/}\naudit: {key_file: " + keyPath + "}\n"
	if err := os.WriteFile(cfgPath, []byte(cfgYAML), 0o600); err != nil {
		t.Fatal(err)
	}
	var o1, e1 bytes.Buffer
	code = run(ctx, []string{"storage", "copy", "--config", cfgPath, "--from", "bolt:" + back, "--to", "etcd:"}, strings.NewReader(""), &o1, &e1)
	if code != 0 || !strings.Contains(o1.String(), "(prefix /from-config/): 3 requests, 307 audit entries") {
		t.Fatalf("storage copy --config … --to etcd: exit %d\n%s%s", code, o1.String(), e1.String())
	}
	fromCfg, _ := openEtcdCopy(t, srv, "/from-config/", key)
	sameStores(t, db, fromCfg, key)

	// The wrong key is refused before anything is written, and leaves no
	// new file behind.
	other := filepath.Join(dir, "other.key")
	if err := os.WriteFile(other, []byte("another-audit-key-0123456789abcdef01234567\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	fresh := filepath.Join(dir, "fresh.db")
	var o, e bytes.Buffer
	code = run(ctx, []string{"storage", "copy", "--from", "bolt:" + boltPath, "--to", "bolt:" + fresh, "--key-file", other}, strings.NewReader(""), &o, &e)
	if code == 0 || !strings.Contains(e.String(), "does not verify") || !strings.Contains(e.String(), "nothing was written") {
		t.Fatalf("copy with another key: exit %d\n%s%s", code, o.String(), e.String())
	}
	if _, err := os.Stat(fresh); !os.IsNotExist(err) {
		t.Fatalf("a refused copy left %s behind: %v", fresh, err)
	}
	o.Reset()
	e.Reset()
	before, err = cli.Get(ctx, "/")
	if err != nil {
		t.Fatal(err)
	}
	code = run(ctx, []string{"storage", "copy", "--from", "bolt:" + boltPath, "--to", "etcd:" + endpoints, "--etcd-prefix", "/unused/", "--key-file", other}, strings.NewReader(""), &o, &e)
	if code == 0 || !strings.Contains(e.String(), "does not verify") {
		t.Fatalf("copy to etcd with another key: exit %d\n%s%s", code, o.String(), e.String())
	}
	if after, err := cli.Get(ctx, "/"); err != nil || after.Header.Revision != before.Header.Revision {
		t.Fatalf("the refused copy wrote to etcd (revision %d → %v, %v)", before.Header.Revision, after, err)
	}
}

// openEtcdCopy opens the store under prefix on srv, closed when the test
// ends.
func openEtcdCopy(t *testing.T, srv *etcdtest.Server, prefix string, key auditchain.Key) (*etcd.Store, *etcd.Cluster) {
	t.Helper()
	ctx := context.Background()
	c, err := etcd.Dial(ctx, etcd.Config{Endpoints: srv.Endpoints(), Prefix: prefix})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	s, err := etcd.OpenStore(ctx, c, etcd.StoreOptions{AuditKey: key})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, c
}

// TestStorageCopyBadSpecs: every malformed store is refused with the form
// accepted, before anything is opened.
func TestStorageCopyBadSpecs(t *testing.T) {
	t.Setenv(envAuditKey, "test-audit-key-0123456789abcdef0123456789")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"copy", "--to", "etcd:127.0.0.1:2379"}, `--from "": missing`},
		{[]string{"copy", "--from", "/var/lib/chatops.db", "--to", "etcd:127.0.0.1:2379"}, "must start with bolt: or etcd:"},
		{[]string{"copy", "--from", "mysql:db", "--to", "etcd:127.0.0.1:2379"}, "must start with bolt: or etcd:"},
		{[]string{"copy", "--from", "bolt:", "--to", "etcd:127.0.0.1:2379"}, "nothing after bolt:"},
		{[]string{"copy", "--from", "bolt:x.db", "--to", "etcd:127.0.0.1"}, `endpoint "127.0.0.1" has no HOST:PORT`},
		{[]string{"copy", "--from", "bolt:x.db", "--to", "etcd:ftp://127.0.0.1:2379"}, "is not http(s)://HOST:PORT"},
		{[]string{"copy", "--from", "bolt:x.db", "--to", "etcd:https://127.0.0.1:2379,"}, `endpoint "" has no HOST:PORT`},
		{[]string{"copy", "--from", "bolt:x.db", "--to", "bolt:x.db"}, "are the same store"},
		{[]string{"copy", "--from", "bolt:x.db", "--to", "etcd:"}, "etcd: without endpoints needs --config FILE with a storage: section"},
		{[]string{"copy", "--from", "bolt:x.db", "--to", "bolt:y.db", "extra"}, `unexpected "extra"`},
		{[]string{"move"}, "storage needs a subcommand: storage copy"},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"storage"}, tc.args...), strings.NewReader(""), &out, &errb)
		if code != 2 || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("storage %v: exit %d, %q; want exit 2 and %q", tc.args, code, errb.String(), tc.want)
		}
		if strings.Contains(tc.want, "HOST:PORT") || strings.Contains(tc.want, "bolt: or etcd:") {
			if !strings.Contains(errb.String(), "use bolt:PATH or etcd:ENDPOINT") {
				t.Errorf("storage %v: the error does not give the accepted form: %q", tc.args, errb.String())
			}
		}
	}
}

// fillBolt writes a store with history: 3 requests (succeeded, denied,
// pending), 300 read-only entries, two chat schedules of three numbered
// (s2 removed), results of a chat and of a configured schedule, an
// approver's re-authentication enrolment.
func fillBolt(t *testing.T, path string, key auditchain.Key) {
	t.Helper()
	ctx := context.Background()
	db, err := storage.Open(path, storage.Options{AuditKey: key})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	clock := approvalstest.NewClock(time.Date(2026, 4, 1, 9, 0, 0, 0, time.UTC))
	svc, err := approvals.NewService(db, approvals.Policy{}, approvals.WithClock(clock.Now))
	if err != nil {
		t.Fatal(err)
	}
	alice, bob := approvals.User{ID: "console:alice", Name: "alice"}, approvals.User{ID: "console:bob", Name: "bob"}
	var ids []string
	for i := range 3 {
		r, err := svc.Open(ctx, approvals.NewRequest{Platform: "console", Channel: "ops", Host: "gitlab-1", Operation: "migrate",
			Argv: []string{"gitlab-rake", "db:migrate"}, Requester: alice, Reason: fmt.Sprintf("upgrade %d", i), Fingerprint: "fp"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	must := func(_ *approvals.Request, err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(svc.Approve(ctx, ids[0], bob, "fp"))
	must(svc.Start(ctx, ids[0]))
	must(svc.Finish(ctx, ids[0], approvals.StateSucceeded, "All up"))
	must(svc.Deny(ctx, ids[1], bob, "not now"))
	for i := range 300 {
		if _, err := db.Append(ctx, approvals.AuditEntry{Action: approvals.ActionReadOnlyRun, Actor: "console:carol", Detail: fmt.Sprintf("status %d", i)}); err != nil {
			t.Fatal(err)
		}
	}
	sample := schedule.Schedule{Spec: "0 9 * * *", TZ: "Europe/Berlin", Platform: "console", Channel: "ops", Host: "gitlab-1",
		What: schedule.WhatStatus, When: schedule.WhenChanged, Source: schedule.SourceChat, CreatedBy: "console:alice", CreatedAt: clock.Now()}
	for range 3 {
		if _, err := db.AddSchedule(ctx, sample); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.RemoveSchedule(ctx, "s2"); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"s1", "daily-status"} {
		if err := db.PutResult(ctx, id, schedule.Result{At: clock.Now(), Facts: map[string]string{"main": "all up"}, Posted: true}); err != nil {
			t.Fatal(err)
		}
	}
	if err := db.PutResult(ctx, "s3", schedule.Result{At: clock.Now(), Facts: map[string]string{"main": "2 down"}, Problem: true}); err != nil {
		t.Fatal(err)
	}
	// An approver enrolled for re-authentication (the secret as sealed,
	// opaque to the store), with a wrong code counted.
	if _, err := db.UpdateReauth(ctx, "console:bob", func(e *approvals.Enrolment) ([]approvals.AuditEntry, error) {
		e.Secret, e.EnrolledAt, e.LastStep = []byte("sealed-secret-bytes"), clock.Now(), 59_000_000
		e.Failures = []time.Time{clock.Now()}
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
}

// sameStores checks that b holds what a holds: the audit export byte for
// byte and the head, verified with key; requests, schedules, the schedule
// counter and every result.
func sameStores(t *testing.T, a, b storage.Dumper, key auditchain.Key) {
	t.Helper()
	ctx := context.Background()
	var ax, bx bytes.Buffer
	if err := a.ExportAudit(ctx, &ax, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if err := b.ExportAudit(ctx, &bx, time.Time{}); err != nil {
		t.Fatal(err)
	}
	if ax.Len() == 0 || !bytes.Equal(ax.Bytes(), bx.Bytes()) {
		t.Fatalf("the audit exports differ (%d and %d bytes)", ax.Len(), bx.Len())
	}
	ra, err := auditchain.Verify(ctx, a, key, nil)
	if err != nil {
		t.Fatal(err)
	}
	rb, err := auditchain.Verify(ctx, b, key, &ra.Head)
	if err != nil || rb.Head != ra.Head || rb.Entries != 307 {
		t.Fatalf("copy: %+v, %v; source head %s", rb, err, ra.Head)
	}
	asJSON := func(s storage.Dumper) string {
		reqs, err := s.Requests(ctx, approvals.RequestFilter{})
		if err != nil {
			t.Fatal(err)
		}
		ss, err := s.Schedules(ctx)
		if err != nil {
			t.Fatal(err)
		}
		seq, err := s.ScheduleSeq(ctx)
		if err != nil {
			t.Fatal(err)
		}
		results := map[string]storage.ScheduleResults{}
		if err := s.EachResult(ctx, func(id string, r storage.ScheduleResults) error { results[id] = r; return nil }); err != nil {
			t.Fatal(err)
		}
		var enrolments []*approvals.Enrolment
		if err := s.EachEnrolment(ctx, func(e *approvals.Enrolment) error { enrolments = append(enrolments, e); return nil }); err != nil {
			t.Fatal(err)
		}
		j, err := json.Marshal(map[string]any{"requests": reqs, "schedules": ss, "seq": seq, "results": results, "enrolments": enrolments})
		if err != nil {
			t.Fatal(err)
		}
		return string(j)
	}
	ja, jb := asJSON(a), asJSON(b)
	if ja != jb {
		t.Fatalf("the stores differ:\nsource %s\ncopy   %s", ja, jb)
	}
	for _, want := range []string{`"seq":3`, `"s1"`, `"s3"`, `"daily-status"`, `"succeeded"`, `"denied"`, `"pending"`, `"user_id":"console:bob"`} {
		if !strings.Contains(ja, want) {
			t.Fatalf("the source lacks %s: the test's history is not what it says\n%s", want, ja)
		}
	}
	if a, _ := b.AuditHead(ctx); a != ra.Head {
		t.Fatalf("AuditHead of the copy %s, want %s", a, ra.Head)
	}
}
