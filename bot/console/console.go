// Package console is a chat adapter for a terminal: each input line
// `NAME: TEXT` is a message typed by user NAME, and the bot's posts,
// thread replies, edits, buttons and ephemeral notes are printed as text.
// It serves the quick start, demos and end-to-end tests.
package console

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// Platform is the console's platform name.
const Platform = "console"

// Console implements bot.Chat on a writer. Posts are numbered P1, P2, …
// in the order the bot makes them.
type Console struct {
	out     io.Writer
	channel string

	// tag prefixes post IDs, so that posts of an earlier run (which a
	// restarted bot may still reply under) never share an ID with new ones.
	tag string
	log *slog.Logger // where a handler's Go errors go; never the terminal

	mu      sync.Mutex
	next    int
	roots   map[string]string // post -> its root ("" for roots)
	in      io.Reader         // what Run reads (SetInput)
	after   func()            // called after each line Run hands on
	buttons map[string]string // request ID -> post carrying its buttons
	last    string            // the last request ID shown on a button
}

var (
	_ bot.Chat    = (*Console)(nil)
	_ bot.Adapter = (*Console)(nil)
)

// New returns a console writing to out; channel is the one channel every
// typed line is said in.
func New(out io.Writer, channel string) *Console {
	return NewTagged(out, channel, "P")
}

// NewTagged is New with post IDs of the form <tag><n>.
func NewTagged(out io.Writer, channel, tag string) *Console {
	return &Console{out: out, channel: channel, tag: tag, log: slog.New(slog.DiscardHandler), roots: map[string]string{}, buttons: map[string]string{}}
}

// SetLogger sets where the console logs a handler's error that is not
// written for people (bot.Readable); the terminal shows bot.FailedText.
// Call it before Run.
func (c *Console) SetLogger(l *slog.Logger) { c.log = l }

// SetInput sets what Run reads, and after (if not nil) is called once
// each line was handed on (the router's Wait, so that piped input runs
// one command to completion before the next). Call it before Run.
func (c *Console) SetInput(in io.Reader, after func()) { c.in, c.after = in, after }

// Run implements bot.Adapter: Feed on the input given to SetInput (none:
// Run waits for ctx).
func (c *Console) Run(ctx context.Context, h bot.Handler) error {
	if c.in == nil {
		<-ctx.Done()
		return nil
	}
	err := c.Feed(ctx, c.in, h, c.after)
	if ctx.Err() != nil && errors.Is(err, ctx.Err()) {
		return nil // stopped, as bot.Adapter's Run does when ctx ends
	}
	return err
}

// Name implements bot.Adapter.
func (c *Console) Name() string { return Platform }

// Chat implements bot.Adapter: the console is its own Chat.
func (c *Console) Chat() bot.Chat { return c }

// Groups implements bot.Adapter: the console has no groups.
func (c *Console) Groups() bot.GroupResolver { return nil }

// Capabilities implements bot.Adapter and bot.Capable: the console shows
// a note "only NAME sees this", prints edits, summarises an upload and
// takes `click approve ID` for a button.
func (c *Console) Capabilities() bot.Capabilities { return bot.AllCapabilities }

// Platform implements bot.Chat.
func (c *Console) Platform() string { return Platform }

func (c *Console) post(channel, root string, m bot.Message) bot.Ref {
	if channel == "" {
		channel = c.channel
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.next++
	id := fmt.Sprintf("%s%d", c.tag, c.next)
	c.roots[id] = root
	c.noteButtons(id, m)
	if root == "" {
		fmt.Fprintf(c.out, "[%s] %s · gitlab-chatops\n%s", id, channel, Render(m, "  "))
	} else {
		fmt.Fprintf(c.out, "    ↳ [%s] in thread %s\n%s", id, root, Render(m, "      "))
	}
	return bot.Ref{Channel: channel, ID: id}
}

func (c *Console) noteButtons(id string, m bot.Message) {
	for _, b := range m.Buttons {
		c.buttons[b.Value] = id
		c.last = b.Value
	}
}

// PostRoot implements bot.Chat.
func (c *Console) PostRoot(_ context.Context, channel string, m bot.Message) (bot.Ref, error) {
	return c.post(channel, "", m), nil
}

// Reply implements bot.Chat.
func (c *Console) Reply(_ context.Context, root bot.Ref, m bot.Message) (bot.Ref, error) {
	c.mu.Lock()
	r, ok := c.roots[root.ID]
	c.mu.Unlock()
	if ok && r != "" {
		return bot.Ref{}, fmt.Errorf("console: %q is a reply, not a root post", root.ID)
	}
	// A root this run has not seen was posted by an earlier run of the bot
	// (restart recovery): replying under it is fine.
	return c.post(root.Channel, root.ID, m), nil
}

// Update implements bot.Chat.
func (c *Console) Update(_ context.Context, ref bot.Ref, m bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	root := c.roots[ref.ID] // a post of an earlier run counts as a root
	c.noteButtons(ref.ID, m)
	indent := "  "
	if root != "" {
		indent = "      "
	}
	fmt.Fprintf(c.out, "%s[%s edited]\n%s", strings.Repeat(" ", len(indent)-2), ref.ID, Render(m, indent))
	return nil
}

// Upload implements bot.Chat: the file is summarised, not dumped.
func (c *Console) Upload(_ context.Context, root bot.Ref, f bot.File, comment string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, "    ↳ 📎 %s (%d bytes) in thread %s: %s\n", f.Name, f.Size, root.ID, comment)
	return nil
}

// Notify implements bot.Chat.
func (c *Console) Notify(_ context.Context, _ string, user bot.User, m bot.Message) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintf(c.out, "(only %s sees this)\n%s", user.Name, Render(m, "  │ "))
	return nil
}

// LastRequest returns the request ID on the most recent button shown.
func (c *Console) LastRequest() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.last
}

var (
	lineRE = regexp.MustCompile(`^\s*([A-Za-z][A-Za-z0-9_.-]{0,31})\s*:\s*(.*)$`)
	// trailingCommentRE is a comment after a command, as in the README's
	// example: a # after two blanks or a tab, and a blank or the line's
	// end after it. One blank before is not enough, so that a reason like
	// "ticket #123" stays whole, and neither is #42 (an issue number, not
	// a comment), so "fix  #42 asap" stays whole too; a pasted GitLab
	// command never contains " #". A comment dropped from a line with a
	// reason is announced, so that no reason is cut silently.
	trailingCommentRE = regexp.MustCompile(`(?:[ \t]{2,}|\t)#(?:[ \t].*)?$`)
	// reasonRE finds the -- (or autocorrected dash) that starts a reason.
	reasonRE = regexp.MustCompile(`(?:^|\s)(?:--|\x{2014})(?:\s|$)`)
	// placeholderRE is the README's and the usage lines' stand-in for a
	// request ID, typed literally.
	placeholderRE = regexp.MustCompile(`<(?:id|ID|request-id|REQUEST-ID)>`)
)

// Feed reads lines from in until EOF or ctx ends and hands them to h. wait,
// if not nil, is called after each line (the router's Wait), so piped input
// runs one command to completion before the next. Run is Feed on the
// input given to SetInput.
//
// Lines: `NAME: /gitlab-migrations SUBCOMMAND …` (the command word is
// optional), `NAME: click approve|deny REQUEST-ID` to click a button. In
// either, $LAST (or a literal <id>, with a note) stands for the request ID
// on the latest button. Empty lines and lines starting with # are skipped;
// a # after two blanks and before a blank ends a line (a comment; the
// console says so when it follows a reason).
func (c *Console) Feed(ctx context.Context, in io.Reader, h bot.Handler, wait func()) error {
	lines := make(chan string)
	readErr := make(chan error, 1)
	// The scanner blocks in Read, which a context cannot interrupt; reading
	// in its own goroutine lets Run return as soon as ctx ends (SIGTERM).
	go func() {
		sc := bufio.NewScanner(in)
		sc.Buffer(make([]byte, 64*1024), 1024*1024)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-ctx.Done():
				return
			}
		}
		readErr <- sc.Err()
	}()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case err := <-readErr:
			if err != nil {
				return fmt.Errorf("console: reading input: %w", err)
			}
			return nil
		case line := <-lines:
			c.handleLine(ctx, line, h)
			if wait != nil {
				wait()
			}
		}
	}
}

func (c *Console) handleLine(ctx context.Context, line string, h bot.Handler) {
	trimmed := strings.TrimSpace(line)
	if trimmed == "" || strings.HasPrefix(trimmed, "#") {
		return
	}
	m := lineRE.FindStringSubmatch(line)
	if m == nil {
		c.say("console: type NAME: /gitlab-migrations SUBCOMMAND (e.g. alice: /gitlab-migrations status)")
		return
	}
	user := bot.User{ID: strings.ToLower(m[1]), Name: m[1]}
	text := m[2]
	if loc := trailingCommentRE.FindStringIndex(text); loc != nil {
		if reasonRE.MatchString(text[:loc[0]]) {
			c.say(fmt.Sprintf("console: %q after two blanks is a console comment, so it is not part of the reason; to keep it, write it after one blank", strings.TrimSpace(text[loc[0]:])))
		}
		text = text[:loc[0]]
	}
	text = strings.TrimSpace(text)
	if placeholderRE.MatchString(text) {
		last := c.LastRequest()
		if last == "" {
			c.say("console: put the request ID shown on an approval message where the line says <id> (e.g. approve r7k2qxa9); no request has been shown yet")
			return
		}
		c.say(fmt.Sprintf("console: <id> stands for the request ID shown on the approval message; using the latest one, %s (you can also type $LAST)", last))
		text = placeholderRE.ReplaceAllString(text, last)
	}
	text = strings.ReplaceAll(text, "$LAST", c.LastRequest())
	if rest, ok := strings.CutPrefix(text, "click "); ok {
		f := strings.Fields(rest)
		if len(f) != 2 {
			c.say("console: click needs an action and a request ID: NAME: click approve REQUEST-ID")
			return
		}
		c.mu.Lock()
		post := c.buttons[f[1]]
		c.mu.Unlock()
		if post == "" {
			c.say("console: no button carries request " + f[1])
			return
		}
		c.deliver(ctx, user, h.HandleAction(ctx, bot.Action{Platform: Platform, User: user, Message: bot.Ref{Channel: c.channel, ID: post}, ActionID: f[0], Value: f[1]}))
		return
	}
	text = strings.TrimSpace(strings.TrimPrefix(text, "/gitlab-migrations"))
	c.deliver(ctx, user, h.HandleCommand(ctx, bot.Command{Platform: Platform, User: user, Channel: c.channel, Text: text}))
}

// deliver prints a handler's Reply for the user who typed the line, with
// who may approve instead after a refusal.
func (c *Console) deliver(ctx context.Context, user bot.User, rp bot.Reply) {
	if rp.IsZero() {
		return
	}
	if rp.Err != nil {
		c.log.Error("handler failed", "err", rp.Err)
	}
	m := rp.WithApprovers()
	_ = c.Notify(ctx, c.channel, user, m)
}

func (c *Console) say(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	fmt.Fprintln(c.out, s)
}
