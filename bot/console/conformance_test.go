package console

import (
	"io"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
	"github.com/gitlab-chatops/gitlab-chatops/bot/bottest"
)

// TestConformance runs the adapter conformance suite on the console: a
// terminal edits by printing the new version and shows a file's name and
// size, not its content; nothing comes over a network, so there is
// nothing to forge and no acknowledgement to wait for.
func TestConformance(t *testing.T) {
	bottest.RunAdapterSuite(t, bottest.Harness{
		Caps:   bottest.Caps{Edits: true, Uploads: true},
		Render: func(m bot.Message) ([]byte, error) { return []byte(Render(m, "  ")), nil },
		Start:  startConsole,
	})
}

// terminal is what the console printed, read while it prints.
type terminal struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (w *terminal) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.Write(p)
}

func (w *terminal) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.buf.String()
}

func startConsole(t *testing.T, h bot.Handler) *bottest.Conn {
	term := &terminal{}
	c := New(term, "ops")
	in, typed := io.Pipe()
	done := make(chan struct{})
	c.SetInput(in, func() { done <- struct{}{} })
	// Closing the input makes Run return (EOF), after the suite's end.
	t.Cleanup(func() { _ = typed.Close() })
	bottest.Serve(t, c, h, nil)
	return &bottest.Conn{
		Adapter: c, Chat: c.Chat(), Channel: "ops", User: bot.User{ID: "alice", Name: "alice"}, Approver: bot.User{ID: "bob", Name: "bob"},
		Command: func(text string) (string, error) {
			if _, err := io.WriteString(typed, "alice: /gitlab-migrations "+text+"\n"); err != nil {
				return "", err
			}
			<-done
			return "", nil
		},
		Click: func(_ bot.Ref, actionID string) (string, error) {
			if _, err := io.WriteString(typed, "alice: click "+actionID+" $LAST\n"); err != nil {
				return "", err
			}
			<-done
			return "", nil
		},
		Seen: func() []bottest.Post { return parseTerminal(term.String()) },
	}
}

var (
	rootRE   = regexp.MustCompile(`^\[(\w+)\] (\S+) · gitlab-chatops$`)
	replyRE  = regexp.MustCompile(`^    ↳ \[(\w+)\] in thread (\w+)$`)
	editRE   = regexp.MustCompile(`^\s*\[(\w+) edited\]$`)
	uploadRE = regexp.MustCompile(`^    ↳ 📎 (\S+) \((\d+) bytes\) in thread (\w+): (.*)$`)
	onlyRE   = regexp.MustCompile(`^\(only (\S+) sees this\)$`)
	buttonRE = regexp.MustCompile(`\[ [^]]+ \]`)
)

// parseTerminal reads the console's output back into posts, as a person
// reading the terminal would: an edit replaces its post's lines.
func parseTerminal(out string) []bottest.Post {
	var posts []bottest.Post
	index := map[string]int{}
	cur := -1
	for _, l := range strings.Split(out, "\n") {
		switch m := (struct{ r, p, e, u, o []string }{rootRE.FindStringSubmatch(l), replyRE.FindStringSubmatch(l), editRE.FindStringSubmatch(l), uploadRE.FindStringSubmatch(l), onlyRE.FindStringSubmatch(l)}); {
		case m.r != nil:
			posts = append(posts, bottest.Post{ID: m.r[1], Channel: m.r[2]})
			cur = len(posts) - 1
			index[m.r[1]] = cur
		case m.p != nil:
			posts = append(posts, bottest.Post{ID: m.p[1], Channel: "ops", Root: m.p[2]})
			cur = len(posts) - 1
			index[m.p[1]] = cur
		case m.e != nil:
			i, ok := index[m.e[1]]
			if !ok {
				cur = -1
				continue
			}
			posts[i].Text, posts[i].Buttons = "", 0
			posts[i].Edits++
			cur = i
		case m.u != nil:
			size, _ := strconv.ParseInt(m.u[2], 10, 64)
			posts = append(posts, bottest.Post{ID: "file:" + m.u[1], Channel: "ops", Root: m.u[3], File: m.u[1], Size: size, Text: m.u[4]})
			cur = -1
		case m.o != nil:
			posts = append(posts, bottest.Post{Channel: "ops", Ephemeral: true, User: m.o[1]})
			cur = len(posts) - 1
		case cur >= 0 && l != "":
			posts[cur].Text += strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(l), "│")) + "\n"
			posts[cur].Buttons += len(buttonRE.FindAllString(l, -1))
		}
	}
	return posts
}
