package commands

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// blockingChat is a chat whose Update waits until released, recording the
// start time and text of each edit.
type blockingChat struct {
	bot.Chat
	mu      sync.Mutex
	starts  []time.Time
	texts   []string
	release chan struct{}
}

func (c *blockingChat) Update(_ context.Context, _ bot.Ref, m bot.Message) error {
	c.mu.Lock()
	c.starts = append(c.starts, time.Now())
	c.texts = append(c.texts, m.Text.String())
	c.mu.Unlock()
	<-c.release
	return nil
}

func (c *blockingChat) edits() ([]time.Time, []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.starts...), append([]string(nil), c.texts...)
}

// TestProgressNeverBlocksTheReader: while the chat hangs in an edit, the
// stream reader's put returns at once, however many lines come; once the
// chat answers, the next edit shows the latest value, not a backlog, and
// edits start at least ProgressEvery apart.
func TestProgressNeverBlocksTheReader(t *testing.T) {
	const every = 200 * time.Millisecond
	r := &Router{opt: Options{ProgressEvery: every, Clock: time.Now}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	chat := &blockingChat{release: make(chan struct{})}
	box := r.newProgress(context.Background(), chat, bot.Ref{Channel: "C", ID: "p"}, "gitlab-rake db:migrate", "gitlab-1")
	box.put(progressView{lines: 1, lastLine: "first"})
	waitFor(t, "the first edit", func() bool { s, _ := chat.edits(); return len(s) == 1 })

	// The chat is stuck in the first edit; the reader goes on.
	for i := int64(2); i <= 100000; i++ {
		box.put(progressView{lines: i, lastLine: "line"})
	}
	close(chat.release) // the chat answers, now and from now on
	waitFor(t, "an edit with the latest value", func() bool {
		_, texts := chat.edits()
		return strings.Contains(texts[len(texts)-1], "100000 lines")
	})
	box.stop()
	starts, texts := chat.edits()
	if len(texts) != 2 {
		t.Errorf("%d edits for two values put while the chat was stuck, want the first and the latest: %q", len(texts), texts)
	}
	// The box spaces the starts of its edits; the chat notes each start a
	// few microseconds later, by an amount that varies: a millisecond of
	// that jitter is allowed.
	const jitter = time.Millisecond
	for i := 1; i < len(starts); i++ {
		if gap := starts[i].Sub(starts[i-1]); gap < every-jitter {
			t.Errorf("edit %d started %s after the previous one, want at least %s", i, gap, every)
		}
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
