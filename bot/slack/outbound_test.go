package slack

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	slackgo "github.com/slack-go/slack"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

const testChannel = "C0OPS"

func TestThreadRepliesUseTheRootTS(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	ctx := context.Background()
	root, err := a.PostRoot(ctx, testChannel, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	r1, err := a.Reply(ctx, root, bot.Message{Text: bot.Plain("one")})
	if err != nil {
		t.Fatal(err)
	}
	r2, err := a.Reply(ctx, root, bot.Message{Text: bot.Plain("two")})
	if err != nil {
		t.Fatal(err)
	}
	if !(root.ID < r1.ID && r1.ID < r2.ID) {
		t.Errorf("ts not distinct and increasing: %s %s %s", root.ID, r1.ID, r2.ID)
	}
	for _, r := range fake.replies(root.ID) {
		if r.ThreadTS != root.ID {
			t.Errorf("reply %s has thread_ts %s, want the root's %s", r.TS, r.ThreadTS, root.ID)
		}
	}
	if len(fake.replies(root.ID)) != 2 {
		t.Errorf("replies = %d, want 2", len(fake.replies(root.ID)))
	}
	// Threading under a reply is refused before Slack is asked.
	if _, err := a.Reply(ctx, r1, bot.Message{Text: bot.Plain("nested")}); err == nil {
		t.Error("Reply under a reply was accepted")
	}
	if err := a.Upload(ctx, r1, bot.BytesFile("x.txt", "", []byte("x")), ""); err == nil {
		t.Error("Upload under a reply was accepted")
	}
	if v := fake.allViolations(); len(v) > 0 {
		t.Errorf("Slack rules broken: %v", v)
	}
}

func TestUpdateSendsAllBlocksSoButtonsDisappear(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	ctx := context.Background()
	root, err := a.PostRoot(ctx, testChannel, goldenMessages["approval_pending"])
	if err != nil {
		t.Fatal(err)
	}
	m, _ := fake.message(root.ID)
	if len(buttons(m.Blocks)) != 2 {
		t.Fatalf("posted without buttons: %s", m.Blocks)
	}
	if err := a.Update(ctx, root, goldenMessages["approved_running"]); err != nil {
		t.Fatal(err)
	}
	m, _ = fake.message(root.ID)
	if len(buttons(m.Blocks)) != 0 {
		t.Errorf("buttons still there after the update: %s", m.Blocks)
	}
	if !strings.Contains(blockTexts(m.Blocks), "is running") {
		t.Errorf("update not applied: %s", m.Blocks)
	}
	if len(fake.callsTo("chat.update")) != 1 {
		t.Errorf("chat.update calls = %d", len(fake.callsTo("chat.update")))
	}
}

func TestRateLimitedWithRetryAfterIsRetried(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	// Retry-After is in whole seconds; one second is the smallest Slack sends.
	fake.failNext("chat.postMessage", fakeFailure{status: 429, retryAfter: "1"})
	ref, err := a.PostRoot(context.Background(), testChannel, bot.Message{Text: bot.Plain("hello")})
	if err != nil {
		t.Fatalf("PostRoot after a 429: %v", err)
	}
	calls := fake.callsTo("chat.postMessage")
	if len(calls) != 2 {
		t.Fatalf("chat.postMessage calls = %d, want 2 (429, then success)", len(calls))
	}
	// Retry-After was honoured: a lower bound, so never flaky.
	if gap := calls[1].At.Sub(calls[0].At); gap < time.Second {
		t.Errorf("retried after %s, before Retry-After's 1s", gap)
	}
	if m, ok := fake.message(ref.ID); !ok || m.Text != "hello" {
		t.Errorf("message not stored: %+v", m)
	}
}

func TestRetriedFailures(t *testing.T) {
	for _, tc := range []struct {
		name string
		fail []fakeFailure
	}{
		{"429 without Retry-After (StatusCodeError)", []fakeFailure{{status: 429}}},
		{"5xx with backoff", []fakeFailure{{status: 500}, {status: 503}}},
		{"ok:false ratelimited", []fakeFailure{{slackErr: "ratelimited"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := newFakeSlack(t)
			a := newTestAdapter(t, fake)
			fake.failNext("chat.postMessage", tc.fail...)
			if _, err := a.PostRoot(context.Background(), testChannel, bot.Message{Text: bot.Plain("x")}); err != nil {
				t.Fatal(err)
			}
			if n := len(fake.callsTo("chat.postMessage")); n != len(tc.fail)+1 {
				t.Errorf("calls = %d, want %d", n, len(tc.fail)+1)
			}
		})
	}
}

func TestNoSilentDropWhenRetriesRunOut(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake, WithRetry(3, 5*time.Millisecond))
	for range 10 {
		fake.failNext("chat.postMessage", fakeFailure{status: 502})
	}
	_, err := a.PostRoot(context.Background(), testChannel, bot.Message{Text: bot.Plain("x")})
	var sc slackgo.StatusCodeError
	if !errors.As(err, &sc) || sc.Code != 502 {
		t.Fatalf("error = %v, want the wrapped 502", err)
	}
	if !strings.Contains(err.Error(), "giving up after 3 attempts") {
		t.Errorf("error does not say it gave up: %v", err)
	}
	if n := len(fake.callsTo("chat.postMessage")); n != 3 {
		t.Errorf("calls = %d, want 3", n)
	}
	// A permanent error is not retried and is returned as is.
	fake.failNext("chat.update", fakeFailure{slackErr: "cant_update_message"})
	err = a.Update(context.Background(), bot.Ref{Channel: testChannel, ID: "1.000001"}, bot.Message{Text: bot.Plain("x")})
	var se slackgo.SlackErrorResponse
	if !errors.As(err, &se) || se.Err != "cant_update_message" {
		t.Fatalf("error = %v", err)
	}
	if n := len(fake.callsTo("chat.update")); n != 1 {
		t.Errorf("permanent error retried: %d calls", n)
	}
}

func TestRetryAfterPastTheDeadlineFailsAtOnce(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake, WithSendTimeout(500*time.Millisecond))
	fake.failNext("chat.postMessage", fakeFailure{status: 429, retryAfter: "30"})
	_, err := a.PostRoot(context.Background(), testChannel, bot.Message{Text: bot.Plain("x")})
	var rl *slackgo.RateLimitedError
	if !errors.As(err, &rl) || rl.RetryAfter != 30*time.Second {
		t.Fatalf("error = %v, want the RateLimitedError", err)
	}
}

// TestProgressUpdatesAreMerged holds the first edit of a message in
// flight, queues five more edits of it one after another, and checks that
// only the newest of them is sent, that every caller is told it succeeded,
// and that an edit of another message is not merged.
func TestProgressUpdatesAreMerged(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	ctx := context.Background()
	root, err := a.PostRoot(ctx, testChannel, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	progress, err := a.Reply(ctx, root, bot.Message{Text: bot.Plain("progress 0")})
	if err != nil {
		t.Fatal(err)
	}
	release := fake.hold("chat.update")
	var wg sync.WaitGroup
	errs := make(chan error, 10)
	update := func(ref bot.Ref, text string) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs <- a.Update(ctx, ref, bot.Message{Text: bot.Plain(text)})
		}()
	}
	update(progress, "progress 1")
	eventually(t, "the first edit in flight", func() bool { return len(fake.callsTo("chat.update")) == 1 })
	for i := 2; i <= 6; i++ {
		update(progress, fmt.Sprintf("progress %d", i))
		want := i - 1 // waiters on the queued job
		eventually(t, "edit queued", func() bool { return queuedWaiters(a, testChannel, "update:"+progress.ID) == want })
	}
	update(root, "root edited")
	eventually(t, "root edit queued", func() bool { return queuedWaiters(a, testChannel, "update:"+root.ID) == 1 })
	release()
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("an Update failed: %v", err)
		}
	}
	var texts []string
	for _, c := range fake.callsTo("chat.update") {
		texts = append(texts, c.Form.Get("text"))
	}
	want := []string{"progress 1", "progress 6", "root edited"}
	if strings.Join(texts, "|") != strings.Join(want, "|") {
		t.Errorf("chat.update sent %q, want %q", texts, want)
	}
	if m, _ := fake.message(progress.ID); m.Text != "progress 6" {
		t.Errorf("final progress text %q", m.Text)
	}
}

// queuedWaiters reports how many callers wait on the queued job with key.
func queuedWaiters(a *Adapter, channel, key string) int {
	a.out.mu.Lock()
	defer a.out.mu.Unlock()
	l := a.out.lanes[channel]
	if l == nil {
		return 0
	}
	for _, j := range l.queue {
		if j.mergeKey == key {
			return len(j.waiters)
		}
	}
	return 0
}

func TestChannelPacingAndNothingDropped(t *testing.T) {
	fake := newFakeSlack(t)
	const interval = 50 * time.Millisecond
	a := newTestAdapter(t, fake, WithChannelInterval(interval), WithRetry(5, 60*time.Millisecond))
	ctx := context.Background()
	root, err := a.PostRoot(ctx, testChannel, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	// A rate limit in the middle of a burst: every reply still lands.
	fake.failNext("chat.postMessage", fakeFailure{status: 429}, fakeFailure{status: 429, retryAfter: "1"})
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := a.Reply(ctx, root, bot.Message{Text: bot.Textf("reply %d", i)})
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Errorf("Reply: %v", err)
		}
	}
	got := map[string]bool{}
	for _, m := range fake.replies(root.ID) {
		got[m.Text] = true
	}
	for i := range 8 {
		if !got[fmt.Sprintf("reply %d", i)] {
			t.Errorf("reply %d was dropped", i)
		}
	}
	// One channel, one message at a time, at least interval apart (a
	// lower bound: slow machines only make the gaps longer).
	calls := fake.callsTo("chat.postMessage")
	for i := 1; i < len(calls); i++ {
		if gap := calls[i].At.Sub(calls[i-1].At); gap < interval {
			t.Errorf("calls %d and %d only %s apart", i-1, i, gap)
		}
	}
}

func TestUploadIntoThread(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	ctx := context.Background()
	root, err := a.PostRoot(ctx, testChannel, bot.Message{Text: bot.Plain("root")})
	if err != nil {
		t.Fatal(err)
	}
	content := []byte(strings.Repeat("== 20240101000000 migrating\n", 100))
	// A 5xx on the last step retries the whole upload.
	fake.failNext("files.completeUploadExternal", fakeFailure{status: 500})
	if err := a.Upload(ctx, root, bot.BytesFile("migrate.txt", "Full output", content), "100 lines <of> output"); err != nil {
		t.Fatal(err)
	}
	files := fake.completedFiles()
	if len(files) != 1 {
		t.Fatalf("completed files = %d", len(files))
	}
	f := files[0]
	if string(f.Content) != string(content) || f.Length != len(content) || f.Name != "migrate.txt" || f.Title != "Full output" {
		t.Errorf("file = %+v", f)
	}
	if f.Channel != testChannel || f.ThreadTS != root.ID {
		t.Errorf("file shared in %s/%s, want the thread %s/%s", f.Channel, f.ThreadTS, testChannel, root.ID)
	}
	if f.Comment != "100 lines &lt;of&gt; output" {
		t.Errorf("comment = %q", f.Comment)
	}
	if err := a.Upload(ctx, root, bot.File{Name: "empty.txt"}, ""); err == nil {
		t.Error("an empty file was accepted")
	}
	if v := fake.allViolations(); len(v) > 0 {
		t.Errorf("Slack rules broken: %v", v)
	}
}

func TestNotifyIsEphemeral(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	alice := bot.User{ID: "U0ALICE", Name: "alice"}
	// Outside a handler: chat.postEphemeral to that user.
	if err := a.Notify(context.Background(), testChannel, alice, bot.Message{Text: bot.Plain("only you")}); err != nil {
		t.Fatal(err)
	}
	eph := fake.allEphemerals()
	if len(eph) != 1 || eph[0].User != "U0ALICE" || eph[0].Channel != testChannel {
		t.Fatalf("ephemerals = %+v", eph)
	}
	// A Reply delivered after the answer: alice's response_url.
	a.deliver(context.Background(), responder{url: fake.responseURL("cmd-1"), user: "U0ALICE", channel: testChannel}, testChannel, alice, bot.Say(bot.Message{Text: bot.Plain("via response_url")}))
	rs := fake.allResponses()
	if len(rs) != 1 || rs[0].Body["response_type"] != "ephemeral" || rs[0].Body["replace_original"] != false {
		t.Fatalf("responses = %+v", rs)
	}
	// Background work has no response_url: bob's note is ephemeral.
	if err := a.Notify(context.Background(), testChannel, bot.User{ID: "U0BOB"}, bot.Message{Text: bot.Plain("bob")}); err != nil {
		t.Fatal(err)
	}
	if len(fake.allResponses()) != 1 || len(fake.allEphemerals()) != 2 {
		t.Errorf("bob's note went to alice's response_url")
	}
	// A response_url that is not Slack's is refused; postEphemeral is used.
	a.deliver(context.Background(), responder{url: "http://127.0.0.1:1/not-slack", user: "U0ALICE", channel: testChannel}, testChannel, alice, bot.Say(bot.Message{Text: bot.Plain("x")}))
	if len(fake.allEphemerals()) != 3 {
		t.Errorf("no fallback to chat.postEphemeral")
	}
	if !isSlackResponseURL(mustURL(t, "https://hooks.slack.com/commands/T1/2/x")) || isSlackResponseURL(mustURL(t, "http://hooks.slack.com/x")) || isSlackResponseURL(mustURL(t, "https://hooks.slack.com.evil.example/x")) {
		t.Error("isSlackResponseURL accepts the wrong URLs")
	}
}

// TestNotifyWhereTheBotIsNotAMember: background work (no request context)
// tells the user the bot cannot post; chat.postEphemeral fails there too,
// so the user's recent response_url carries the message.
func TestNotifyWhereTheBotIsNotAMember(t *testing.T) {
	fake := newFakeSlack(t)
	a := newTestAdapter(t, fake)
	a.recent.put(responder{url: fake.responseURL("recent"), user: "U0ALICE", channel: testChannel})
	fake.failNext("chat.postEphemeral", fakeFailure{slackErr: "channel_not_found"})
	if err := a.Notify(context.Background(), testChannel, bot.User{ID: "U0ALICE"}, bot.Message{Text: bot.Plain("invite me")}); err != nil {
		t.Fatal(err)
	}
	rs := fake.allResponses()
	if len(rs) != 1 || rs[0].Path != "/response/recent" {
		t.Fatalf("responses = %+v", rs)
	}
	// Nobody else's response_url is used: bob gets the error.
	fake.failNext("chat.postEphemeral", fakeFailure{slackErr: "channel_not_found"})
	if err := a.Notify(context.Background(), testChannel, bot.User{ID: "U0BOB"}, bot.Message{Text: bot.Plain("x")}); err == nil {
		t.Error("Notify to bob succeeded without any way to reach him")
	}
}
