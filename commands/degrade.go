package commands

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/gitlab-chatops/gitlab-chatops/bot"
)

// The router writes for a platform that can show everything; degraded
// wraps the Chat of a platform that cannot (bot.Capabilities) and turns
// what it lacks into what it has, so no other code of the router checks a
// capability (progress.go only slows down: sparseProgressEvery).
//   - no edits: an Update is posted as a new reply in the thread of the
//     message it would have edited (progress edits come once a minute);
//   - no uploads: a file becomes a reply with its first excerptLines lines
//     (at most excerptBytes), saying it was cut;
//   - no buttons: a message's buttons become the commands to type;
//   - no threads: a reply is a root post that names the post it answers;
//   - no ephemeral messages: a note for one user is posted in the channel,
//     addressed to them.

// Degradation limits.
const (
	// commandWord is the slash command typed instead of a button.
	commandWord = "/gitlab-migrations"
	// sparseProgressEvery is the least time between two progress posts
	// where a platform cannot edit: each is a new message, so few.
	sparseProgressEvery = time.Minute
	excerptLines        = 40
	excerptBytes        = 3000
	// degradedRefs bounds what degraded remembers of posts (whose thread a
	// post is in, what a root says).
	degradedRefs = 4096
)

// degrade returns chat as the router uses it: chat itself when its
// platform can show everything, else wrapped.
func degrade(chat bot.Chat) bot.Chat {
	caps := bot.CapabilitiesOf(chat)
	if caps == bot.AllCapabilities {
		return chat
	}
	return &degraded{Chat: chat, caps: caps, roots: map[string]bot.Ref{}, names: map[string]string{}}
}

type degraded struct {
	bot.Chat
	caps bot.Capabilities

	mu    sync.Mutex
	roots map[string]bot.Ref // post ID -> the root of its thread
	names map[string]string  // root post ID -> what it is about, for threadless replies
}

// Capabilities implements bot.Capable: what the platform itself can.
func (d *degraded) Capabilities() bot.Capabilities { return d.caps }

// Permalink implements bot.Permalinker when the platform does; otherwise
// there is no link ("", nil).
func (d *degraded) Permalink(ctx context.Context, ref bot.Ref) (string, error) {
	if p, ok := d.Chat.(bot.Permalinker); ok {
		return p.Permalink(ctx, ref)
	}
	return "", nil
}

func (d *degraded) remember(post, root bot.Ref, m *bot.Message) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if len(d.roots) >= degradedRefs {
		clear(d.roots)
		clear(d.names)
	}
	d.roots[post.ID] = root
	if m != nil {
		d.names[root.ID] = about(*m)
	}
}

func (d *degraded) rootOf(ref bot.Ref) bot.Ref {
	d.mu.Lock()
	defer d.mu.Unlock()
	if r, ok := d.roots[ref.ID]; ok {
		return r
	}
	return ref // a root, or a post of an earlier run
}

func (d *degraded) nameOf(root bot.Ref) string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.names[root.ID]
}

// about is what a root post is about, in a few words: its title (else
// its first line) and the first part of its small print, where a request
// card names its request ("request r7k2qxa9").
func about(m bot.Message) string {
	s := m.Title.PlainString()
	if s == "" {
		s, _, _ = strings.Cut(m.Text.PlainString(), "\n")
	}
	small, _, _ := strings.Cut(m.Context.PlainString(), "\n")
	if small, _, _ = strings.Cut(small, " · "); strings.TrimSpace(small) != "" {
		s = strings.TrimSpace(s) + " · " + strings.TrimSpace(small)
	}
	return truncate(strings.TrimSpace(s), 160)
}

func (d *degraded) PostRoot(ctx context.Context, channel string, m bot.Message) (bot.Ref, error) {
	m = d.shape(m)
	ref, err := d.Chat.PostRoot(ctx, channel, m)
	if err == nil {
		d.remember(ref, ref, &m)
	}
	return ref, err
}

func (d *degraded) Reply(ctx context.Context, root bot.Ref, m bot.Message) (bot.Ref, error) {
	m = d.shape(m)
	if !d.caps.Threads {
		name := d.nameOf(root)
		if name == "" {
			name = "an earlier post"
		}
		m.Context = joinLines(bot.Plain("Re: "+name), m.Context)
		ref, err := d.Chat.PostRoot(ctx, root.Channel, m)
		if err == nil {
			d.remember(ref, root, nil)
		}
		return ref, err
	}
	ref, err := d.Chat.Reply(ctx, root, m)
	if err == nil {
		d.remember(ref, root, nil)
	}
	return ref, err
}

func (d *degraded) Update(ctx context.Context, ref bot.Ref, m bot.Message) error {
	if d.caps.Edits {
		return d.Chat.Update(ctx, ref, d.shape(m))
	}
	root := d.rootOf(ref)
	if root.ID == ref.ID && about(m) != "" {
		// The root now says something else (a request's card after its
		// "preparing" line): later replies name that.
		d.mu.Lock()
		d.names[root.ID] = about(m)
		d.mu.Unlock()
	}
	_, err := d.Reply(ctx, root, m)
	return err
}

func (d *degraded) Upload(ctx context.Context, root bot.Ref, f bot.File, comment string) error {
	if d.caps.Uploads {
		return d.Chat.Upload(ctx, root, f, comment)
	}
	excerpt, cut, err := readExcerpt(f)
	if err != nil {
		return fmt.Errorf("reading %s for its excerpt: %w", f.Name, err)
	}
	text := fmt.Sprintf("%s: %s (%d bytes).", strings.TrimSpace(comment), f.Name, f.Size)
	if cut {
		text += fmt.Sprintf(" This chat takes no files, so only its first lines (at most %d) follow; the rest was cut.", excerptLines)
	}
	_, err = d.Reply(ctx, root, bot.Message{Text: bot.Plain(text), Code: excerpt})
	return err
}

// readExcerpt is f's first excerptLines lines, at most excerptBytes, and
// whether anything was left out.
func readExcerpt(f bot.File) (string, bool, error) {
	if f.Open == nil {
		return "", f.Size > 0, nil
	}
	rd, err := f.Open()
	if err != nil {
		return "", false, err
	}
	br := bufio.NewReader(io.LimitReader(rd, excerptBytes+1))
	var b strings.Builder
	for n := 0; n < excerptLines; n++ {
		line, err := br.ReadString('\n')
		if b.Len()+len(line) > excerptBytes {
			return strings.TrimRight(b.String(), "\n"), true, nil
		}
		b.WriteString(line)
		if err == io.EOF {
			return strings.TrimRight(b.String(), "\n"), int64(b.Len()) < f.Size, nil
		}
		if err != nil {
			return "", false, err
		}
	}
	return strings.TrimRight(b.String(), "\n"), int64(b.Len()) < f.Size, nil
}

func (d *degraded) Notify(ctx context.Context, channel string, user bot.User, m bot.Message) error {
	m = d.shape(m)
	if d.caps.Ephemeral {
		return d.Chat.Notify(ctx, channel, user, m)
	}
	m.Mentions = append([]string{user.ID}, m.Mentions...)
	m.Context = joinLines(bot.Plain("For "+displayName(user)+" (this chat cannot show a message to one person)"), m.Context)
	_, err := d.Chat.PostRoot(ctx, channel, m)
	return err
}

// shape replaces buttons by the commands to type where the platform has
// none.
func (d *degraded) shape(m bot.Message) bot.Message {
	if d.caps.Buttons || len(m.Buttons) == 0 {
		return m
	}
	var typed []bot.Text
	for _, b := range m.Buttons {
		typed = append(typed, bot.Code(fmt.Sprintf("%s %s %s", commandWord, b.ActionID, b.Value)))
	}
	m.Buttons = nil
	m.Text = joinLines(m.Text, bot.Join(bot.Plain("Type "), bot.JoinWith(" or ", typed...), bot.Plain(".")))
	return m
}
