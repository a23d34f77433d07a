package auditchain_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/approvalstest"
	"github.com/gitlab-chatops/gitlab-chatops/approvals/auditchain"
)

var key = auditchain.Key("auditchain-test-key-0123456789abcdef")

// TestStoredForm pins the stored bytes: every backend writes exactly
// these, so a chain moves between backends and verifies on any of them.
func TestStoredForm(t *testing.T) {
	at := time.Date(2026, 12, 6, 10, 0, 0, 5, time.UTC)
	p, err := auditchain.Prepare(approvals.AuditEntry{Seq: 9, PrevHash: "forged", Actor: "U1", Action: "request.opened", Argv: []string{"gitlab-rake", "db:migrate"}})
	if err != nil {
		t.Fatal(err)
	}
	first := p.Seal(key, auditchain.Head{}, at)
	if want := `{"seq":1,"time":"2026-12-06T10:00:00.000000005Z","actor":"U1","action":"request.opened","argv":["gitlab-rake","db:migrate"]}`; string(first.Stored) != want {
		t.Fatalf("first entry stored as\n%s\nwant\n%s", first.Stored, want)
	}
	empty, _ := auditchain.Prepare(approvals.AuditEntry{Time: at.In(time.FixedZone("CET", 3600))})
	second := empty.Seal(key, first.Head, at.Add(time.Hour))
	want := `{"seq":2,"prev_hash":"` + auditchain.SumOf(key, first.Stored).Hex() + `","time":"2026-12-06T11:00:00.000000005+01:00"}`
	if string(second.Stored) != want {
		t.Fatalf("second entry stored as\n%s\nwant\n%s", second.Stored, want)
	}
	if second.Head.Seq != 2 || second.Head.Sum != auditchain.SumOf(key, second.Stored) || second.Entry.PrevHash != first.Head.Sum.Hex() {
		t.Fatalf("second sealed as %+v", second)
	}
	if auditchain.SumOf(key, first.Stored) == auditchain.SumOf(auditchain.Key("another-key-0123456789abcdef012345"), first.Stored) {
		t.Fatal("the hash does not depend on the key")
	}
	h, err := auditchain.DecodeHead(second.Head.Encode())
	if err != nil || h != second.Head {
		t.Fatalf("head round trip: %+v, %v", h, err)
	}
}

func chain(t *testing.T, n int) *approvalstest.Store {
	t.Helper()
	s := &approvalstest.Store{}
	for i := range n {
		if _, err := s.Append(context.Background(), approvals.AuditEntry{Actor: "U1", Action: "readonly.run", Detail: strings.Repeat("x", i)}); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func TestVerifyKey(t *testing.T) {
	ctx := context.Background()
	s := chain(t, 5)
	if rep, err := auditchain.Verify(ctx, s, approvalstest.Key, nil); err != nil || rep.Entries != 5 || rep.Head.Seq != 5 {
		t.Fatalf("Verify = %+v, %v", rep, err)
	}
	// Someone without the key cannot write a chain that verifies.
	rep, err := auditchain.Verify(ctx, s, key, nil)
	if !errors.Is(err, auditchain.ErrBroken) || rep.Break == nil {
		t.Fatalf("Verify with another key = %+v, %v", rep, err)
	}
	if _, err := auditchain.Verify(ctx, s, nil, nil); !errors.Is(err, auditchain.ErrNoKey) {
		t.Fatalf("Verify without a key = %v", err)
	}
	if err := auditchain.Key("short").Check(); !errors.Is(err, auditchain.ErrNoKey) {
		t.Fatalf("short key accepted: %v", err)
	}
}

// TestVerifyAnchor: a chain rewritten consistently (by someone holding
// the key) verifies on its own, but not against a head anchored before.
func TestVerifyAnchor(t *testing.T) {
	ctx := context.Background()
	s := chain(t, 6)
	rep, err := auditchain.Verify(ctx, s, approvalstest.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	posted := rep.Head.String() // "6:…", as the bot posts it
	anchor, err := auditchain.ParseAnchor(posted)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ { // more entries after the anchor
		_, _ = s.Append(ctx, approvals.AuditEntry{Action: "readonly.run"})
	}
	rep, err = auditchain.Verify(ctx, s, approvalstest.Key, &anchor)
	if err != nil || rep.AnchorSeq != 6 || rep.Head.Seq != 9 {
		t.Fatalf("Verify(anchor) = %+v, %v", rep, err)
	}

	// The same number of entries, rewritten with the key from entry 3 on.
	forged := &approvalstest.Store{}
	for i := range 9 {
		d := strings.Repeat("x", i)
		if i == 3 {
			d = "rewritten"
		}
		_, _ = forged.Append(ctx, approvals.AuditEntry{Actor: "U1", Action: "readonly.run", Detail: d})
	}
	if _, err := auditchain.Verify(ctx, forged, approvalstest.Key, nil); err != nil {
		t.Fatalf("the forged chain should verify on its own: %v", err)
	}
	rep, err = auditchain.Verify(ctx, forged, approvalstest.Key, &anchor)
	if !errors.Is(err, auditchain.ErrBroken) || rep.Break == nil || rep.Break.Kind != auditchain.BreakAnchor {
		t.Fatalf("Verify(forged, anchor) = %+v, %v", rep, err)
	}
	if _, err := auditchain.ParseAnchor("6:abc"); err == nil {
		t.Fatal("a short anchor was accepted")
	}
}

// TestVerifyAnchorSeq: SEQ:HASH vouches for the entry AT SEQ: the right
// hash under another entry number, or past the end of the log, does not
// verify; a bare HASH matches the entry that has it.
func TestVerifyAnchorSeq(t *testing.T) {
	ctx := context.Background()
	s := chain(t, 6)
	rep, err := auditchain.Verify(ctx, s, approvalstest.Key, nil)
	if err != nil {
		t.Fatal(err)
	}
	sixth := rep.Head
	for range 3 {
		if _, err := s.Append(ctx, approvals.AuditEntry{Action: "readonly.run"}); err != nil {
			t.Fatal(err)
		}
	}
	hash := sixth.Sum.Hex()
	for _, tc := range []struct {
		anchor  string
		ok      bool
		atSeq   uint64 // the entry named by the break, or the anchored entry
		message string
	}{
		{"6:" + hash, true, 6, ""},
		{hash, true, 6, ""},
		{"7:" + hash, false, 7, "entry 7 does not have the anchored hash"},
		{"5:" + hash, false, 5, "entry 5 does not have the anchored hash"},
		{"20:" + hash, false, 20, "the anchor names entry 20 but the log ends at entry 9"},
		{"0:" + strings.Repeat("0", 64), true, 0, ""}, // the empty trail, as posted before the first entry
	} {
		t.Run(tc.anchor[:min(len(tc.anchor), 8)], func(t *testing.T) {
			a, err := auditchain.ParseAnchor(tc.anchor)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := auditchain.Verify(ctx, s, approvalstest.Key, &a)
			if tc.ok {
				if err != nil || rep.AnchorSeq != tc.atSeq {
					t.Fatalf("Verify(%s) = %+v, %v; want the anchor at entry %d", tc.anchor, rep, err, tc.atSeq)
				}
				return
			}
			if !errors.Is(err, auditchain.ErrBroken) || rep.Break == nil || rep.Break.Kind != auditchain.BreakAnchor ||
				rep.Break.Seq != tc.atSeq || !strings.Contains(rep.Break.Detail, tc.message) {
				t.Fatalf("Verify(%s) = %+v, %v; want an anchor break at entry %d saying %q", tc.anchor, rep.Break, err, tc.atSeq, tc.message)
			}
		})
	}
	for _, bad := range []string{"x:" + hash, "0:" + hash, ":" + hash} {
		if _, err := auditchain.ParseAnchor(bad); err == nil {
			t.Errorf("ParseAnchor(%q) accepted an anchor without a valid entry number", bad)
		}
	}
}
