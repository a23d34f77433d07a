package commands

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/agent"
	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// gatedChat is a chat whose Update blocks until released; it records
// when each edit started and ended and how many ran at once.
type gatedChat struct {
	bot.Chat
	release  chan struct{}
	mu       sync.Mutex
	inflight int
	overlap  bool // two edits ran at once
	starts   []time.Time
	ends     int
}

func (c *gatedChat) Update(ctx context.Context, _ bot.Ref, _ bot.Message) error {
	c.mu.Lock()
	c.inflight++
	c.overlap = c.overlap || c.inflight > 1
	c.starts = append(c.starts, time.Now())
	c.mu.Unlock()
	select {
	case <-c.release:
	case <-ctx.Done():
	}
	c.mu.Lock()
	c.inflight--
	c.ends++
	c.mu.Unlock()
	return nil
}

// TestStallingChatNeverStallsTheStream is BenchmarkStallingChat's
// structure without its timing: a real agent (mutual TLS on 127.0.0.1)
// prints 20,000 numbered lines while the chat hangs in its first progress
// edit until the job is over. The bot reads the whole stream anyway: the
// job ends while that edit is still in flight, no re-attach was needed
// (the agent never dropped a reader stuck behind chat at its write
// timeout), the digest verifies, every line is in the spool in order, and
// the edits never overlap and start at least ProgressEvery apart.
func TestStallingChatNeverStallsTheStream(t *testing.T) {
	const lines = 20_000
	url, certs := stallAgent(t, envPrintLines+"="+strconv.Itoa(lines))
	c, err := stallClient(url, certs)
	if err != nil {
		t.Fatal(err)
	}
	// A guard against a bot that waits for chat (it would never end), not
	// a timing target.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	ca := &countingAgent{Agent: c}
	const every = time.Second
	r := &Router{opt: Options{ProgressEvery: every, Clock: time.Now, RetryMax: 15 * time.Second}, log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	chat := &gatedChat{release: make(chan struct{})}
	box := r.newProgress(ctx, chat, bot.Ref{Channel: "C", ID: "progress"}, "gitlab-rake db:migrate:status", "stall")
	rec, out, err := r.runJob(ctx, Host{Name: "stall", Agent: ca}, agent.RunRequest{Operation: "migrate-status", RequestID: "stall-1"}, jobWatch{progress: box})
	defer out.close()
	chat.mu.Lock()
	started, ended := len(chat.starts), chat.ends
	chat.mu.Unlock()
	close(chat.release)
	box.stop()

	if err != nil {
		t.Fatalf("runJob: %v (the digest must verify)", err)
	}
	if ended != 0 || started > 1 {
		t.Errorf("when the job's end was read, %d edits had started and %d ended; want the stream read whole while the first edit still hung", started, ended)
	}
	if rec.State != agent.StateSucceeded || rec.Lines != lines || out.lines != lines {
		t.Errorf("job %s with %d lines, the bot read %d; want %d", rec.State, rec.Lines, out.lines, lines)
	}
	if n := ca.attaches.Load(); n != 0 {
		t.Errorf("the bot re-attached %d times; want none (the agent never had to drop it)", n)
	}
	chat.mu.Lock()
	if chat.overlap {
		t.Error("two progress edits ran at once")
	}
	for i := 1; i < len(chat.starts); i++ {
		if gap := chat.starts[i].Sub(chat.starts[i-1]); gap < every {
			t.Errorf("edit %d started %s after the previous one, want at least ProgressEvery (%s)", i, gap, every)
		}
	}
	chat.mu.Unlock()

	f, err := out.attachment("out.txt", "out")
	if err != nil {
		t.Fatal(err)
	}
	rd, err := f.Open()
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(rd)
	n := 0
	for sc.Scan() {
		n++
		if want := fmt.Sprintf("== %08d StallBenchMigration: migrating, line %d of %d", n, n, lines); sc.Text() != want {
			t.Fatalf("spool line %d is %q, want %q", n, sc.Text(), want)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if n != lines {
		t.Errorf("the spool holds %d lines, want %d", n, lines)
	}
}
