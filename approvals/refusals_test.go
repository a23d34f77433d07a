package approvals_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
)

// TestRefusalCounter: refusals are one entry per source and minute, with
// the count and the first reason; a flood from many sources is bounded too.
func TestRefusalCounter(t *testing.T) {
	f := newFixture(t, approvals.Policy{})
	c := f.svc.NewRefusalCounter(func(err error) { t.Error(err) })
	defer c.Close()
	for i := range 300 {
		first := c.Refused("slack 203.0.113.7", fmt.Sprintf("bad signature #%d", i))
		if first != (i == 0) {
			t.Fatalf("refusal %d: first = %v", i, first)
		}
	}
	c.Refused("slack 198.51.100.1", "stale timestamp")
	if n := len(f.audit.Entries()); n != 0 {
		t.Fatalf("%d entries written before the minute ended", n)
	}
	f.clock.Advance(time.Minute)
	c.Refused("slack 203.0.113.7", "next minute") // ends the previous minute
	got := f.audit.Entries()
	if len(got) != 2 {
		t.Fatalf("300 + 1 refusals from 2 sources wrote %d entries, want 2: %+v", len(got), got)
	}
	if e := got[1]; e.Action != approvals.ActionAuthRefused || e.Outcome != "300" ||
		!strings.Contains(e.Detail, "refused 300 times from slack 203.0.113.7") || !strings.Contains(e.Detail, "first: bad signature #0") {
		t.Fatalf("entry %+v", e)
	}

	// 10,000 refusals from 1,000 sources in one minute: bounded.
	f.clock.Advance(time.Minute)
	for i := range 10_000 {
		c.Refused(fmt.Sprintf("mattermost 10.0.%d.%d", i%1000/250, i%250), "wrong token")
	}
	c.Close()
	got = f.audit.Entries()[3:]
	if len(got) != 257 || !strings.Contains(got[256].Detail, "other sources") {
		t.Fatalf("a flood from 1,000 sources wrote %d entries, want 256 sources + 1 for the rest", len(got))
	}
	total := 0
	for _, e := range got {
		var n int
		fmt.Sscan(e.Outcome, &n)
		total += n
	}
	if total != 10_000 {
		t.Fatalf("entries count %d refusals, want 10000", total)
	}
}
