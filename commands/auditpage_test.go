package commands_test

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"strings"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/approvals"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/internal/simtest"
)

var nextPageRE = regexp.MustCompile("older: `/gitlab-migrations (audit \\d+ --before \\d+)`")

// TestAuditPages: `audit N` beyond 100 entries comes as an attached file
// whose answer names the command for the next (older) page; following it
// pages back to the first entry, and a short page is shown inline with
// both directions.
func TestAuditPages(t *testing.T) {
	s := simtest.Start(t, simtest.Options{})
	rec := newRecorder()
	s.Router.Register(rec)
	ctx := context.Background()
	for i := range 300 {
		if _, err := s.DB.Append(ctx, approvals.AuditEntry{Actor: fmt.Sprintf("U%03d", i), Action: "test.entry"}); err != nil {
			t.Fatal(err)
		}
	}
	head, err := s.DB.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ask := func(text string) error {
		err := handle(ctx, s.Router, rec, bot.Command{Platform: "test", User: alice, Channel: "C1", Text: text})
		s.Router.Wait()
		return err
	}
	// Page back from the newest entry with the command each answer names.
	cmd, want := "audit 250", head.Seq
	for page := 0; ; page++ {
		if err := ask(cmd); err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		first := uint64(1)
		if want > 250 {
			first = want - 249
		}
		// More than 100 entries come as a file under a post in the
		// channel, fewer in a note to the asker.
		var (
			msg   bot.Message
			lines []string
		)
		if want-first+1 > 100 {
			roots := rec.roots()
			if len(rec.uploads) != len(roots) || len(roots) != page+1 {
				t.Fatalf("%s: %d posts and %d files, want %d of each", cmd, len(roots), len(rec.uploads), page+1)
			}
			msg = rec.message(roots[page])
			r, err := rec.uploads[page].Open()
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(r)
			lines = strings.Split(strings.TrimSuffix(string(body), "\n"), "\n")
			if !strings.Contains(msg.Title.String(), "asked by") {
				t.Errorf("%s: title %q", cmd, msg.Title)
			}
		} else {
			rec.mu.Lock()
			msg = rec.notes[len(rec.notes)-1].msg
			rec.mu.Unlock()
			lines = strings.Split(msg.Code, "\n")
		}
		if uint64(len(lines)) != want-first+1 || !strings.HasPrefix(lines[0], fmt.Sprintf("%d ", first)) || !strings.HasPrefix(lines[len(lines)-1], fmt.Sprintf("%d ", want)) {
			t.Fatalf("%s: the file has %d lines, %q … %q; want entries %d to %d", cmd, len(lines), lines[0], lines[len(lines)-1], first, want)
		}
		if !strings.Contains(msg.Title.String(), fmt.Sprintf("%d to %d", first, want)) {
			t.Errorf("%s: title %q", cmd, msg.Title)
		}
		m := nextPageRE.FindStringSubmatch(msg.Context.String())
		if first == 1 {
			if m != nil {
				t.Errorf("%s: the first page names an older one: %q", cmd, msg.Context)
			}
			break
		}
		if m == nil {
			t.Fatalf("%s: the answer does not say how to get the next page: %q", cmd, msg.Context)
		}
		cmd, want = m[1], first-1
	}
	// A page of at most 100 is shown to the asker alone, with the way
	// to both neighbours.
	if err := ask("audit 20 --before 50"); err != nil {
		t.Fatal(err)
	}
	notes := rec.notesFor(alice.ID)
	got := notes[len(notes)-1]
	if !strings.Contains(got, "Audit entries 30 to 49") || !strings.Contains(got, "\n30 ") || !strings.Contains(got, "\n49 ") ||
		!strings.Contains(got, "older: `/gitlab-migrations audit 20 --before 30`") || !strings.Contains(got, "newer: `/gitlab-migrations audit 20 --before 70`") {
		t.Errorf("audit 20 --before 50:\n%s", got)
	}
	if err := ask("audit 5 --before 1"); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Errorf("audit --before 1: %v", err)
	}
}
